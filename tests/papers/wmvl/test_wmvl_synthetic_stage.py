"""The sphere studies keep their log-density grids out of metrics.json (they made it 1 MB) in density_grid.npz,
and the figure and the KL still come from the same grids."""

import json
from pathlib import Path

import numpy as np
import yaml

from scorerepro.papers.wmvl.stages import synthetic

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_params.yaml"


def test_sphere_study_writes_grids_beside_a_small_metrics_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load(TINY.read_text())
    synthetic.run(params, "circle")
    out = tmp_path / "results" / "wmvl" / "synthetic" / "circle"
    metrics = json.loads((out / "metrics.json").read_text())
    assert "log_true" not in metrics and metrics["density_grid"] == synthetic.GRID_FILE
    assert (out / "metrics.json").stat().st_size < 5_000
    with np.load(out / synthetic.GRID_FILE) as grids:
        true, model = grids["log_true"], grids["log_model"]
        assert list(grids["grid_shape"]) == metrics["grid_shape"]
    assert true.shape == model.shape == (metrics["grid_shape"][0],)
    # the true density on the grid integrates to ~1 over the circle (cell width 2 pi / n)
    assert abs(np.exp(true.astype(float)).sum() * 2 * np.pi / len(true) - 1.0) < 1e-3
    assert (out / f"{synthetic.FIGURES['circle']}.png").is_file()
    assert not list(out.glob(".*.tmp"))
