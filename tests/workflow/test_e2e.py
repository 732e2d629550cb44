"""The whole DAG on the tiny profile through both front ends: `dvc repro` and `snakemake` (local profile), each in
a fresh temporary copy of the repository. Asserts that every final output (NCSN's under results/ncsn/, the shared
ones, the cross-paper tables) exists and holds finite, plausible values; that a no-op `dvc repro` is fast; and that
changing a sampling parameter reruns only what depends on it."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scorerepro.papers import PAPERS
from scorerepro.pipeline.evidence import ROW_COLUMNS, VERDICTS
from workflow_helpers import dvc, make_workspace, snakemake

pytestmark = pytest.mark.slow
EXP = "tiny_ncsn"


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def check_outputs(root: Path) -> None:
    top = root / "results"
    res = top / "ncsn"
    m = json.loads((res / EXP / "metrics.json").read_text())
    assert m["n_samples"] == 10
    # Classifier FID of generated samples is a squared distance: finite, non-negative, not identically zero.
    assert _finite(m["fid_mnist_classifier"]) and m["fid_mnist_classifier"] > 0
    assert 1.0 <= m["is_mnist_classifier_mean"] <= 10.0
    sel = json.loads((res / EXP / "selected.json").read_text())
    assert sel["iteration"] in (2, 4)
    curve = pd.read_csv(res / EXP / "fig13_fid_by_iteration.csv")
    assert list(curve["iteration"]) == [2, 4] and curve["fid"].map(_finite).all()
    loss = pd.read_csv(res / EXP / "fig12_loss.csv")
    assert list(loss["step"]) == [1, 2, 3, 4] and loss["loss"].map(_finite).all()
    for png in ["fig5_samples.png", "fig5_intermediate.png", "fig12_loss.png", "fig13_fid_by_iteration.png",
                "fig6_neighbours.png", "inpainting/fig7_inpainting_right_half.png"]:
        data = (res / EXP / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, png
    nb = json.loads((res / EXP / "neighbours.json").read_text())
    assert len(nb["pixel_l2"]["indices"]) == 2 and len(nb["pixel_l2"]["indices"][0]) == 2
    assert all(d >= 0 for row in nb["pixel_l2"]["distances"] for d in row)
    cls = json.loads((top / "classifier" / "mnist_embedded" / "metrics.json").read_text())
    assert 0.1 < cls["test_accuracy"] <= 1.0
    fig3 = json.loads((res / "toy" / "fig3_langevin" / "metrics.json").read_text())
    assert abs(sum(fig3["results"]["exact"]["mode_fractions"].values()) - 1) < 1e-9
    summary = pd.read_csv(res / "summary.csv")
    assert {"study", "experiment", "metric", "value", "paper_value", "seed000_value"} <= set(summary.columns)
    assert ((summary["experiment"] == EXP) & (summary["metric"] == "fid_mnist_classifier")).any()
    claims = pd.read_csv(res / "claims.csv")
    assert set(claims["holds"]) <= set(VERDICTS) and len(claims) >= 8
    assert (res / "summary.md").read_text().startswith("# NCSN: reproduced against reported")
    assert (res / "sensitivity" / "fig8_sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the cross-paper tables: NCSN's rows, checked verdicts, the same generator scores as its metrics.json
    all_claims = pd.read_csv(top / "claims.csv")
    assert list(all_claims.columns) == ["paper"] + ROW_COLUMNS
    papers = sorted(set(all_claims["paper"]))
    assert papers == sorted(PAPERS)
    assert len(all_claims) == sum(len(pd.read_csv(top / paper / "claims.csv")) for paper in papers)
    ae_claims = pd.read_csv(top / "ae_mcmc" / "claims.csv")
    # ae_mcmc (seed 001): its six claims, and t = 0 / last-step rows of the four autoencoders on the leaderboard
    assert len(ae_claims) == 6 and set(ae_claims["holds"]) <= set(VERDICTS)
    assert ((top / "ae_mcmc" / "fig4_samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n")
    assert set(all_claims["holds"]) <= set(VERDICTS)
    assert (top / "claims.md").read_text().startswith("# Claims of the seed papers")
    board = pd.read_csv(top / "leaderboard.csv")
    row = board[(board["paper"] == "ncsn") & (board["experiment"] == EXP)]
    assert len(row) == 1 and row["fid_mnist_classifier"].iloc[0] == pytest.approx(m["fid_mnist_classifier"])
    assert (board["paper"] == "(reference)").sum() == 1
    assert (board["paper"] == "ae_mcmc").sum() == 8
    assert (top / "leaderboard.md").read_text().startswith("# Leaderboard")
    # infusion (seed 002): its sweep, figures, scored leaderboard row
    inf = top / "infusion"
    assert set(pd.read_csv(inf / "table4.csv")["n_steps"]) == {1, 2}
    assert (inf / "figures" / "fig5_inpainting.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    inf_row = board[board["paper"] == "infusion"]
    assert len(inf_row) == 1 and inf_row["parzen_log_likelihood"].notna().all()


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def test_dvc_repro_end_to_end(tmp_path):
    ws = make_workspace(tmp_path / "ws", dvc=True)
    dvc(ws, "repro", timeout=1200)
    check_outputs(ws)

    start = time.perf_counter()
    res = dvc(ws, "repro")
    noop = time.perf_counter() - start
    print(f"no-op dvc repro: {noop:.2f} s")
    assert not _ran(res.stdout)
    # ~100 stages of five papers: DVC hashes every declared code folder and params key; measured 7.9 s with another
    # DAG running beside it, so the bound leaves room for a loaded CI machine while catching a stage that reruns
    # its work (a training or sampling stage alone takes longer than this).
    assert noop < 20.0, f"a no-op dvc repro took {noop:.1f} s"

    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["ncsn"]["experiments"][EXP]["sampling"]["step_lr"] = 1.0e-5
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ran = _ran(dvc(ws, "repro", timeout=1200).stdout)
    # Only what reads the sampling settings, and what reads their outputs (sensitivity reads selected.json; the
    # cross-paper tables read NCSN's summary), may run.
    allowed = {f"ncsn_select_sample@{EXP}-0", f"ncsn_select_sample@{EXP}-1", f"ncsn_select@{EXP}",
               f"ncsn_sample@{EXP}-0", f"ncsn_sample@{EXP}-1", f"ncsn_evaluate@{EXP}", f"ncsn_neighbours@{EXP}",
               f"ncsn_inpaint@{EXP}", f"ncsn_figures@{EXP}", f"ncsn_summary_rows@{EXP}", "ncsn_summary",
               "ncsn_sensitivity", "claims", "leaderboard"}
    assert {f"ncsn_select_sample@{EXP}-0", f"ncsn_sample@{EXP}-0", f"ncsn_figures@{EXP}"} <= ran <= allowed, ran
    check_outputs(ws)


def test_snakemake_end_to_end(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    snakemake(ws, "--profile", "workflow/executors/local", "--cores", "2", timeout=1200)
    check_outputs(ws)
    assert "Nothing to be done" in "".join(
        (r.stdout + r.stderr) for r in [snakemake(ws, "--profile", "workflow/executors/local", "-n")])
    check_report(ws)


def check_report(ws: Path) -> None:
    """`snakemake --report report.html` holds every figure under results/, in its paper's category, and the
    claims table and leaderboard in the cross-paper one (report_item in workflow/rules/common.smk)."""
    snakemake(ws, "--report", "report.html")
    html = (ws / "report.html").read_text()
    m = re.search(r"var categories = (\{.*?\});\n", html)
    assert m, "report.html: no categories"
    categories = json.loads(m.group(1))
    items = {cat: {p for paths in subs.values() for p in paths} for cat, subs in categories.items()}
    figures = {p.relative_to(ws).as_posix() for p in (ws / "results").rglob("*.png")}
    assert len(figures) >= 11  # 6 per experiment, 4 toy studies, the sensitivity grid
    for fig in figures:
        paper = fig.split("/")[1]
        assert fig in items.get(paper, set()), f"{fig} is not in the report's {paper} category"
        assert f'"{fig}": {{"name"' in html, f"{fig}: no data in the report"
    assert {"results/claims.csv", "results/leaderboard.csv"} <= items["all papers"]
    assert "results/ncsn/claims.csv" in items["ncsn"] and "results/ncsn/summary.csv" in items["ncsn"]
    # the landing page holds every claims table and the leaderboard as tables (workflow/report/workflow.rst)
    papers = [p.parent.name for p in (ws / "results").glob("*/claims.csv")]
    assert html.count('sr-table') >= len(papers) + 1 and "Leaderboard, all papers" in html
    assert html.count("From which run:") >= len(figures)  # one caption per figure (captions.yaml)
