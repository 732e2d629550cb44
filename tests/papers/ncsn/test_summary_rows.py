"""`ncsn summary_rows`: an experiment's rows for the summary, and the hashes of what the summary reads beside them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from scorerepro.core.fileio import write_json
from scorerepro.papers.ncsn.stages import summary

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_params.yaml"


def test_a_new_selection_curve_with_the_same_winner_changes_the_rows_file(tmp_path, monkeypatch):
    """select rewrites fig13_fid_by_iteration.csv but keeps selected.json when the winner stays; the fluctuation
    claim reads that table, so the file the summary depends on must change with it."""
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load(TINY.read_text())
    res = tmp_path / "results/ncsn/tiny_ncsn"
    write_json(res / "metrics.json", {"fid_mnist_classifier": 50.0, "n_samples": 10, "selected_iteration": 4})
    write_json(res / "selected.json", {"experiment": "tiny_ncsn", "iteration": 4})
    (res / "fig13_fid_by_iteration.csv").write_text("iteration,fid\n2,60.0\n4,50.0\n")
    summary.summary_rows(params, "tiny_ncsn")
    out = tmp_path / "data/ncsn/summary_rows/tiny_ncsn.json"
    first = json.loads(out.read_text())
    assert {r["metric"] for r in first["rows"]} == {"fid_mnist_classifier", "n_samples", "selected_iteration"}
    assert set(first["read_by_summary"]) == {str(res.relative_to(tmp_path) / f) for f in
                                             ("metrics.json", "selected.json", "fig13_fid_by_iteration.csv")}
    (res / "fig13_fid_by_iteration.csv").write_text("iteration,fid\n2,70.0\n4,50.0\n")
    summary.summary_rows(params, "tiny_ncsn")
    second = json.loads(out.read_text())
    assert second["rows"] == first["rows"] and second != first
