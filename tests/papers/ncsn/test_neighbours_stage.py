"""The neighbours stage: nearest training images of samples, mirrored too for datasets trained with flips."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from scorerepro.config import load_params

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def quick() -> dict:
    return load_params(REPO / "params.yaml")


@pytest.mark.parametrize("dataset, flip", [("cifar10", True), ("mnist_embedded", False)])
def test_neighbours_stage_searches_mirrored_samples_for_flip_trained_datasets(tmp_path, monkeypatch, quick,
                                                                              dataset, flip):
    from scorerepro.papers.ncsn.stages import neighbours as stage
    from scorerepro.pipeline.paths import reference_dir
    from scorerepro.pipeline.scoring import INCEPTION_FEATURES

    monkeypatch.chdir(tmp_path)
    train = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    samples = train[:6].flip(-1).clone()  # each sample is a training image, mirrored
    monkeypatch.setattr(stage, "load_sample_shards", lambda folder, *checks: samples)
    monkeypatch.setattr(stage, "eval_settings", lambda params, exp: {})  # no selected.json here
    monkeypatch.setattr(stage, "load_train_images", lambda ds: train)
    # Stand-in for the Inception: pixels as features, so a mirrored copy is at distance 0 only after the flip.
    monkeypatch.setattr(stage, "inception_features", lambda imgs, batch, device: {"pool3": imgs.float().flatten(1)})
    reference_dir(dataset).mkdir(parents=True)
    torch.save(train.float().flatten(1), reference_dir(dataset) / INCEPTION_FEATURES)
    params = copy.deepcopy(quick)
    exp = params["ncsn"]["experiments"]["fig5_mnist"]
    exp["dataset"], exp["neighbours"] = dataset, {"n_samples": 6, "k": 3}
    params["device"] = "cpu"
    stage.run(params, "fig5_mnist")
    record = json.loads((tmp_path / "results" / "ncsn" / "fig5_mnist" / "neighbours.json").read_text())
    inc = record["inception_pool3"]
    assert record["inception_flip"] is flip
    firsts = [row[0] for row in inc["indices"]]
    if flip:
        assert firsts == list(range(6)) and all(row[0] < 1e-3 for row in inc["distances"])
        assert all(row[0] for row in inc["reached_by_mirrored_sample"])
    else:
        assert all(row[0] > 1.0 for row in inc["distances"]) and not any(map(any, inc["reached_by_mirrored_sample"]))
    assert (tmp_path / "results" / "ncsn" / "fig5_mnist" / "fig6_neighbours.png").is_file()
