"""Faults at the NCSN stages, on a tiny trained run (conftest.py): a runaway sampler (item 1) and
stale or leftover sample shards (item 6)."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest
import torch

from scorerepro.papers.ncsn.sampling import SamplingDivergedError
from scorerepro.papers.ncsn.stages import evaluate, figures, neighbours, sample, select, sensitivity

RUNAWAY_STEP_LR = 10.0  # the issue's setting: level 1's step is 10 * (1 / 0.01)^2 = 1e5


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def _saturation_fid(images, dataset, params, device, *, inception, classifier=True, is_splits=10):
    """A stand-in metric that, like the tiny profile's classifier FID in the issue, ranks saturated images (all
    0 or 255) best: a diverged checkpoint would win any selection that scored it."""
    saturated = ((images == 0) | (images == 255)).float().mean().item()
    return {"n_samples": len(images), "fid_mnist_classifier": 100.0 * (1.0 - saturated)}


def _select_with_runaway_checkpoints(run, monkeypatch, runaway_steps: set[int], shards=(0, 1), metric=None):
    """select_sample for every shard, with the runaway step_lr for the checkpoints in `runaway_steps`."""
    current = {}
    real_load, real_sample = select.load_model_weights, select.sample_batches

    def load(net, path, which):
        current["step"] = int(path.stem.split("_")[1])
        return real_load(net, path, which=which)

    def draw(net, exp, *args, **kwargs):
        if current["step"] in runaway_steps:
            exp = {**exp, "sampling": {**exp["sampling"], "step_lr": RUNAWAY_STEP_LR}}
        return real_sample(net, exp, *args, **kwargs)

    monkeypatch.setattr(select, "load_model_weights", load)
    monkeypatch.setattr(select, "sample_batches", draw)
    monkeypatch.setattr(select, "score", _saturation_fid)
    params = run.params(shards=list(shards))
    if metric is not None:
        params["ncsn"]["experiments"]["tiny_ncsn"]["select"]["metric"] = metric
    for shard in shards:
        select.sample_shard(params, "tiny_ncsn", shard)
    return params


# ------------------------------------------------------------------------------------------ item 1: divergence

def test_sample_stage_refuses_a_runaway_chain_naming_level_and_step(tiny_run):
    with pytest.raises(SamplingDivergedError) as err:
        sample.run(tiny_run.params(step_lr=RUNAWAY_STEP_LR), "tiny_ncsn", 0)
    e = err.value
    assert (e.level, e.num_levels, e.step) == (1, 3, 1)
    assert "noise level 1/3" in str(e) and "step 1 of 1" in str(e) and "left [-100, 101]" in str(e)
    assert not (tiny_run.root / "samples/ncsn/tiny_ncsn/eval/shard_0.pt").exists()  # nothing to score


def test_select_records_a_diverged_checkpoint_and_never_selects_it(tiny_run, monkeypatch):
    params = _select_with_runaway_checkpoints(tiny_run, monkeypatch, runaway_steps={2})
    select.run(params, "tiny_ncsn")
    table = pd.read_csv(tiny_run.root / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv")
    row = table.set_index("iteration").loc[2]
    assert bool(row["diverged"]) and math.isnan(row["fid"])
    assert "level 1, step 1" in row["divergence"]
    assert not table.set_index("iteration").loc[4, "diverged"]
    chosen = tiny_run.selected()
    assert chosen["iteration"] == 4 and chosen["rule"] == "lowest fid_mnist_classifier"
    assert chosen["checkpoint"].endswith("checkpoint_4.pt")


def test_select_last_keeps_the_last_checkpoint_that_did_not_diverge(tiny_run, monkeypatch):
    params = _select_with_runaway_checkpoints(tiny_run, monkeypatch, runaway_steps={4}, metric="last")
    select.run(params, "tiny_ncsn")
    chosen = tiny_run.selected()
    assert chosen["iteration"] == 2 and chosen["rule"] == "last checkpoint that did not diverge"
    table = pd.read_csv(tiny_run.root / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv")
    assert list(table.loc[table["diverged"], "iteration"]) == [4]


def test_select_fails_clearly_when_every_checkpoint_diverged(tiny_run, monkeypatch):
    params = _select_with_runaway_checkpoints(tiny_run, monkeypatch, runaway_steps={2, 4})
    before = tiny_run.selected()
    with pytest.raises(select.AllCheckpointsDivergedError) as err:
        select.run(params, "tiny_ncsn")
    msg = str(err.value)
    assert "every checkpoint of tiny_ncsn diverged" in msg and "checkpoint 2: level 1, step 1" in msg
    assert "step_lr" in msg
    table = pd.read_csv(tiny_run.root / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv")
    assert table["diverged"].all() and table["fid"].isna().all()
    assert tiny_run.selected() == before  # no selection written


def test_sensitivity_records_a_runaway_cell_as_diverged_with_level_and_step(tiny_run, monkeypatch):
    monkeypatch.setattr(sensitivity, "score", _saturation_fid)
    params = tiny_run.params()
    params["ncsn"]["sensitivity"]["step_lr"] = [2e-5, RUNAWAY_STEP_LR]
    sensitivity.run(params)
    grid = json.loads((tiny_run.root / "results/ncsn/sensitivity/metrics.json").read_text())["grid"]
    sane, runaway = grid
    assert not sane["diverged"] and sane["fid_mnist_classifier"] is not None
    assert runaway["diverged"] and runaway["fid_mnist_classifier"] is None
    assert (runaway["diverged_level"], runaway["diverged_step"]) == (1, 1)


# ------------------------------------------------------------------------------------------ item 6: shards

def _shard_error():
    from scorerepro.pipeline.common import ShardError

    return ShardError


def _sample_all(run, params):
    for shard in params["sharding"]["shards"]:
        sample.run(params, "tiny_ncsn", shard)


def test_a_leftover_shard_of_an_unconfigured_index_is_ignored_and_removed_by_its_owner(tiny_run, monkeypatch,
                                                                                       capsys):
    folder = tiny_run.root / "samples/ncsn/tiny_ncsn/select"
    monkeypatch.setattr(select, "score", _saturation_fid)
    # sharding.shards [0, 1] -> [0, 1, 2] -> [0, 1]: shards 0 and 1 come back (DVC's cache), shard_2.pt stays.
    for shard in (0, 1, 2):
        select.sample_shard(tiny_run.params(shards=[0, 1, 2]), "tiny_ncsn", shard)
    kept = folder / "kept_shard_2.pt"
    shutil.copyfile(folder / "shard_2.pt", kept)
    params = tiny_run.params(shards=[0, 1])
    for shard in (0, 1):
        select.sample_shard(params, "tiny_ncsn", shard)
    assert not (folder / "shard_2.pt").exists()  # its owner removed it
    assert "removed" in capsys.readouterr().out
    shutil.copyfile(kept, folder / "shard_2.pt")  # ... or it came back from elsewhere
    select.run(params, "tiny_ncsn")  # reads exactly shards 0 and 1
    out = capsys.readouterr().out
    assert "note: ignoring" in out and "shard_2.pt: shard 2 is not in sharding.shards [0, 1]" in out
    table = pd.read_csv(tiny_run.root / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv")
    assert list(table["n_samples"]) == [10, 10]


@pytest.mark.parametrize("stage", [evaluate, neighbours, figures], ids=["evaluate", "neighbours", "figures"])
def test_consumers_refuse_a_shard_made_under_other_sampling_settings(tiny_run, stage):
    _sample_all(tiny_run, tiny_run.params())
    changed = tiny_run.params(step_lr=1e-5)
    with pytest.raises(_shard_error()) as err:
        stage.run(changed, "tiny_ncsn")
    msg = str(err.value)
    assert "shard_0.pt" in msg and "sampling.step_lr: shard=2e-05, now=1e-05" in msg
    assert "scorerepro ncsn sample tiny_ncsn 0" in msg


def test_evaluate_refuses_shards_of_another_checkpoint(tiny_run):
    params = tiny_run.params()
    _sample_all(tiny_run, params)
    tiny_run.select(2)  # selection changed after sampling
    with pytest.raises(_shard_error(), match=r"shard_0\.pt.*checkpoint\.iteration: shard=4, now=2"):
        evaluate.run(params, "tiny_ncsn")


def test_select_refuses_a_shard_of_other_checkpoints(tiny_run, monkeypatch):
    monkeypatch.setattr(select, "score", _saturation_fid)
    params = tiny_run.params()
    for shard in (0, 1):
        select.sample_shard(params, "tiny_ncsn", shard)
    ckpt = tiny_run.root / "models/ncsn/tiny_ncsn/checkpoints/checkpoint_2.pt"
    ckpt.unlink()  # e.g. the run was retrained to other checkpoints
    with pytest.raises(_shard_error()) as err:
        select.run(params, "tiny_ncsn")
    assert "select/shard_0.pt" in str(err.value) and "checkpoints.2: shard=" in str(err.value)
    assert "scorerepro ncsn select_sample tiny_ncsn 0" in str(err.value)


def test_a_shard_without_settings_is_refused(tiny_run):
    params = tiny_run.params()
    _sample_all(tiny_run, params)
    path = tiny_run.root / "samples/ncsn/tiny_ncsn/eval/shard_1.pt"
    payload = torch.load(path, weights_only=True)
    del payload["made_with"]
    torch.save(payload, path)  # as an older scorerepro wrote it
    with pytest.raises(_shard_error(), match=r"shard_1\.pt records no settings.*scorerepro ncsn sample tiny_ncsn 1"):
        evaluate.run(params, "tiny_ncsn")
