"""Every infusion stage end to end on random digits at the tiny profile's settings: the outputs exist, the claims
table has the shared columns and verdicts, a finished training is not redone, the leaderboard row is scored."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from scorerepro.pipeline.evidence import ROW_COLUMNS, VERDICTS

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_params.yaml"


def _fake_splits(root: Path) -> None:
    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.data.preprocess import save_split

    d = root / "data" / "processed" / "mnist_embedded"
    g = torch.Generator().manual_seed(3)
    splits = {}
    for name, n in (("train", 48), ("test", 12)):
        images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
        save_split(d / f"{name}.pt", images, None)
        splits[name] = {"file": f"{name}.pt", "shape": [n, 1, 28, 28], "sha256": sha256_file(d / f"{name}.pt")}
    write_json(d / "manifest.json", {"splits": splits})


def test_all_stages_on_tiny_settings(tmp_path, monkeypatch):
    from scorerepro.config import load_params
    from scorerepro.papers.infusion.stages import evaluate, summary, sweep, train

    _fake_splits(tmp_path)
    monkeypatch.chdir(tmp_path)
    titles = {}

    def keep_title(path, fig, _real=evaluate.save_figure, **kwargs):
        titles[path.name] = " ".join(fig.axes[0].get_title().split())
        _real(path, fig, **kwargs)
    monkeypatch.setattr(evaluate, "save_figure", keep_title)
    # no classifier in this workspace: the samples' scores as scoring.score() words them
    monkeypatch.setattr(evaluate, "score", lambda images, *args, **kwargs: {
        "n_samples": len(images), "fid_mnist_classifier": 321.04, "fid_mnist_classifier_real_same_n": 12.46})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        params = load_params(TINY)
        params["infusion"]["eval"]["parzen_validation"] = 10
        train.run(params)
        mtime = (tmp_path / "models/infusion/main/final.pt").stat().st_mtime_ns
        train.run(params)  # complete: returns without retraining
        assert (tmp_path / "models/infusion/main/final.pt").stat().st_mtime_ns == mtime
        sweep.run(params)
        evaluate.run(params)
        summary.run(params)
    finally:
        torch.set_num_threads(threads)
    res = tmp_path / "results/infusion"
    for f in ("table4.csv", "table4_points.csv", "table4_heatmap.png", "metrics.json", "claims.csv", "leaderboard.csv", "summary.md",
              "figures/fig1_sampling_chain.png", "figures/fig2_infusion_chains.png",
              "figures/fig4_nearest_neighbours.png", "figures/more_steps_than_training.png",
              "figures/fig5_inpainting.png"):
        assert (res / f).is_file(), f
    m = json.loads((res / "metrics.json").read_text())
    assert m["is_estimate_test"]["repetitions"] == 2
    assert m["parzen_fixed_sigma"]["sigma"] == 0.17
    # the grids of the scored sampler carry its FID beside the real-data floor, as the other papers' grids do
    scores = m["scores"]
    caption = f"MNIST-classifier FID 321.0 at {scores['n_samples']} samples; real-data floor 12.5"
    for grid in ("fig1_sampling_chain.png", "fig4_nearest_neighbours.png"):
        assert caption in titles[grid], titles[grid]
    assert "FID" not in titles["fig2_infusion_chains.png"]  # infusion chains towards test images: not samples
    claims = pd.read_csv(res / "claims.csv")
    assert list(claims.columns) == ["paper", *ROW_COLUMNS]
    assert set(claims["holds"]) <= set(VERDICTS)
    assert claims["gate"].str.contains("x-independent").sum() >= 6
    assert len(m["test_points"]["lower_bound"]) == len(m["test_points"]["best_independent"]) == 4
    assert (claims[claims["holds"] == "untested"]["note"].str.len() > 10).all()
    board = pd.read_csv(res / "leaderboard.csv")
    assert board["paper"].tolist() == ["infusion"] and board["parzen_log_likelihood"].notna().all()
    table4 = pd.read_csv(res / "table4.csv")
    assert set(table4["n_steps"]) == {1, 2}
