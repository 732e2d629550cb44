"""scorerepro.pipeline.common: shard ranges, uint8 samples, sample shards checked against the settings that made
them, switching profiles."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scorerepro.pipeline.common import (ShardError, load_sample_shards, read_shards, remove_unlisted_shards,
                                        resolve_device, save_shard, shard_file, shard_range, to_uint8)
from scorerepro.profiles import profile_text, use_profile

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "workflow" / "params"
SETTINGS = {"seed": 3, "sampling": {"step_lr": 2e-5, "n_steps_each": (1, 2)}}
RERUN = "scorerepro ncsn sample exp {shard}"


def test_shards_partition_the_samples():
    for n in (1, 7, 100, 1001):
        for shards in ([0], [0, 1], [0, 1, 2], list(range(8))):
            ranges = [shard_range(n, shards, s) for s in shards]
            assert ranges[0][0] == 0 and ranges[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    with pytest.raises(ValueError, match="shard 5"):
        shard_range(10, [0, 1], 5)


def test_use_profile_copies_a_valid_profile_and_refuses_unknown(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    target = tmp_path / "params.yaml"
    use_profile("paper_cifar10", str(target))
    assert target.read_text() == profile_text("paper_cifar10", PROFILES)
    with pytest.raises(ValueError, match="available"):
        use_profile("no_such_profile", str(target))


def test_to_uint8_rounds_as_a_png_writer_and_clamps():
    x = torch.tensor([0.0, 1.0, 0.5, 0.2 / 255, 0.6 / 255, -0.3, 1.7])
    assert to_uint8(x).tolist() == [0, 255, 128, 0, 1, 0, 255]


def test_the_device_key_defaults_to_auto(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device({}) == torch.device("cpu") == resolve_device({"device": "cpu"})


def _save(folder, shard, settings=SETTINGS):
    return save_shard(folder, shard, settings, {"images": torch.full((2, 1, 2, 2), shard, dtype=torch.uint8)})


def test_shards_read_back_in_shard_order_when_their_settings_still_hold(tmp_path):
    for shard in (1, 0):
        _save(tmp_path, shard)
    # Tuples and lists mean the same in a params file: a JSON round trip makes them compare equal.
    same = {"seed": 3, "sampling": {"step_lr": 2e-5, "n_steps_each": [1, 2]}}
    assert load_sample_shards(tmp_path, [0, 1], same, RERUN)[:, 0, 0, 0].tolist() == [0, 0, 1, 1]


def test_a_stale_shard_is_refused_naming_file_setting_and_command(tmp_path):
    _save(tmp_path, 0)
    changed = {"seed": 3, "sampling": {"step_lr": 1e-5, "n_steps_each": (1, 2)}}
    with pytest.raises(ShardError) as info:
        read_shards(tmp_path, [0], changed, RERUN)
    msg = str(info.value)
    assert "shard_0.pt" in msg and "sampling.step_lr: shard=2e-05, now=1e-05" in msg
    assert "`scorerepro ncsn sample exp 0`" in msg


def test_a_missing_or_damaged_shard_names_the_command_that_remakes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="shard_0.pt is missing: rerun `scorerepro ncsn sample exp 0`"):
        read_shards(tmp_path, [0], SETTINGS, RERUN)
    shard_file(tmp_path, 0).write_bytes(b"not a torch file")
    with pytest.raises(ShardError, match="cannot be read.*damaged"):
        read_shards(tmp_path, [0], SETTINGS, RERUN)


def test_shards_of_other_indices_are_ignored_by_readers_and_removed_by_their_owner(tmp_path, capsys):
    for shard in (0, 1, 2):
        _save(tmp_path, shard)
    assert len(read_shards(tmp_path, [0, 1], SETTINGS, RERUN)) == 2
    assert "ignoring" in capsys.readouterr().out and shard_file(tmp_path, 2).exists()
    remove_unlisted_shards(tmp_path, [0, 1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard_0.pt", "shard_1.pt"]
