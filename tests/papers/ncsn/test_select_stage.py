"""The selection stages on the tiny trained run (conftest.py: checkpoints 2 and 4): what a run with a single
checkpoint gets, where there is nothing to choose between."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from scorerepro.papers.ncsn.stages import select


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def _classifier_fid_of_mean_pixel(images, dataset, params, device, *, inception, classifier=True, is_splits=10):
    return {"n_samples": len(images), "fid_mnist_classifier": float(images.float().mean()),
            "fid_mnist_classifier_se": float(images.float().std())}


def test_a_single_checkpoint_is_selected_without_selection_samples(tiny_run, monkeypatch, capsys):
    (tiny_run.root / "models/ncsn/tiny_ncsn/checkpoints/checkpoint_2.pt").unlink()

    def no_sampling(*args, **kwargs):
        raise AssertionError("a run with one checkpoint must not draw selection samples")

    monkeypatch.setattr(select, "sample_batches", no_sampling)
    monkeypatch.setattr(select, "score", no_sampling)
    params = tiny_run.params(shards=[0, 1])
    for shard in (0, 1):
        select.sample_shard(params, "tiny_ncsn", shard)
    assert "one checkpoint (4), nothing to choose between" in capsys.readouterr().out
    select.run(params, "tiny_ncsn")
    chosen = tiny_run.selected()
    assert chosen["iteration"] == 4 and chosen["checkpoint"].endswith("checkpoint_4.pt")
    assert set(chosen) == {"experiment", "rule", "iteration", "checkpoint", "checkpoint_sha256"}
    assert chosen["rule"].startswith("the only checkpoint")
    table = pd.read_csv(tiny_run.root / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv")
    assert list(table["iteration"]) == [4] and not table["scored"].any() and table["fid"].isna().all()
    assert (tiny_run.root / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.png").stat().st_size > 0


def test_two_checkpoints_are_both_sampled_and_scored(tiny_run, monkeypatch):
    monkeypatch.setattr(select, "score", _classifier_fid_of_mean_pixel)
    params = tiny_run.params()
    for shard in params["sharding"]["shards"]:
        select.sample_shard(params, "tiny_ncsn", shard)
    select.run(params, "tiny_ncsn")
    table = pd.read_csv(tiny_run.root / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv")
    assert list(table["iteration"]) == [2, 4] and table["scored"].all() and table["fid"].notna().all()
    assert (table["fid_se"] > 0).all()  # each checkpoint's FID carries its standard error for the claims table
    chosen = json.loads((tiny_run.root / "results/ncsn/tiny_ncsn/selected.json").read_text())
    best = table.loc[table["fid"].idxmin()]
    assert chosen["iteration"] == int(best["iteration"])


def test_selected_json_changes_with_the_choice_not_with_the_scores(tiny_run, monkeypatch):
    """The stages that load the selected checkpoint depend on selected.json: scores that move while the same
    checkpoint wins (another sampling step size) must leave it byte for byte as it was."""
    params = tiny_run.params()
    for shard in params["sharding"]["shards"]:
        select.sample_shard(params, "tiny_ncsn", shard)
    written = {}
    for shift in (0.0, 7.5):
        def shifted(images, *args, shift=shift, **kwargs):
            m = _classifier_fid_of_mean_pixel(images, *args, **kwargs)
            return {**m, "fid_mnist_classifier": m["fid_mnist_classifier"] + shift}

        monkeypatch.setattr(select, "score", shifted)
        select.run(params, "tiny_ncsn")
        res = tiny_run.root / "results/ncsn/tiny_ncsn"
        written[shift] = ((res / "selected.json").read_bytes(), (res / "fig13_fid_by_iteration.csv").read_bytes())
    assert written[0.0][1] != written[7.5][1]  # the scores moved
    assert written[0.0][0] == written[7.5][0]


def test_selection_batches_are_no_larger_than_the_selection_sample_count(tiny_run, sampled_batch_sizes):
    """sample_batches runs whole batches: at a sampling batch larger than select.n_samples, selection must ask
    for batches of n_samples, or every checkpoint pays for chains it throws away."""
    from scorerepro.papers.ncsn.experiment import experiment_settings

    n = experiment_settings(tiny_run.params(), "tiny_ncsn")["select"]["n_samples"]
    params = tiny_run.params(batch_size=10 * n)
    asked = sampled_batch_sizes(select)
    select.sample_shard(params, "tiny_ncsn", params["sharding"]["shards"][0])
    assert asked == [n, n]  # checkpoints 2 and 4
