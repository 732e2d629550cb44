"""Faults that used to record wrong results or lose work: a longer run deleting its checkpoints, a damaged
checkpoint resumed silently, temporaries of killed writes left behind, two trainers in one folder."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from scorerepro import training as T
from scorerepro.training import (CheckpointError, ConfigMismatchError, RunLockedError, TrainConfig,
                                 config_differences, load_checkpoint, load_model_weights, train)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SRC = Path(__file__).resolve().parents[2] / "src"
# What the NCSN train stage records: the experiment's whole training section, bookkeeping included.
TRAINING = {"n_iters": 6, "batch_size": 8, "lr": 1e-3, "snapshot_freq": 5, "compile": False, "gpus": 1}
VOLATILE = ("training.n_iters", "training.snapshot_freq", "training.compile", "training.gpus")


def record(**training):
    return {"experiment": "toy", "training": {**TRAINING, **training}}


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ELU(), nn.Dropout(0.1), nn.Linear(16, 2))


def batches(step, generator):
    return torch.randn(8, 2, generator=generator) * 2 + 1


def loss(model, x, rng):
    z = rng.randn_like(x)
    return ((model(x + 0.5 * z) + z / 0.5) ** 2).mean() * 0.25


def cfg(**kw) -> TrainConfig:
    base = dict(n_iters=6, batch_size=8, snapshot_freq=5, log_freq=2, seed=0, device="cpu", progress=False)
    base.update(kw)
    return TrainConfig(**base)


def run(out, c=None, rec=None, loss_fn=loss, **kw):
    c = c or cfg()
    rec = rec if rec is not None else record(n_iters=c.n_iters, snapshot_freq=c.snapshot_freq)
    return train(make_model(), loss_fn, batches, c, out, rec, **kw)


def weights(res):
    return {k: v.detach().clone() for k, v in res.model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def superseded(out: Path) -> list[Path]:
    root = out.parent / (out.name + T.SUPERSEDED_SUFFIX)
    return sorted(root.iterdir()) if root.is_dir() else []


# ----------------------------------------------------------------------------------------------- item 2


def test_raising_n_iters_of_a_finished_run_continues_it(tmp_path):
    out = tmp_path / "run"
    first = run(out, cfg(n_iters=6), on_mismatch="move_aside", ignore_record_keys=VOLATILE)
    assert first.step == 6 and T.is_complete(out)
    kept = {s: hashlib.sha256(p.read_bytes()).hexdigest() for s, p in T.list_checkpoints(out)}
    assert sorted(kept) == [5, 6]

    # 400 -> 600 in params.yaml: the record's training.n_iters changes too, and must not restart the run.
    longer = run(out, cfg(n_iters=10), on_mismatch="move_aside", ignore_record_keys=VOLATILE)
    assert longer.start_step == 6 and longer.step == 10 and "superseded" not in longer.extra
    now = {s: hashlib.sha256(p.read_bytes()).hexdigest() for s, p in T.list_checkpoints(out)}
    assert sorted(now) == [5, 6, 10] and all(now[s] == kept[s] for s in kept)
    assert superseded(out) == []
    straight = run(tmp_path / "straight", cfg(n_iters=10))
    assert same(weights(longer), weights(straight))
    assert (out / "loss.csv").read_text() == (tmp_path / "straight" / "loss.csv").read_text()


def test_a_setting_that_changes_training_moves_the_old_run_aside(tmp_path, capsys):
    out = tmp_path / "run"
    run(out, cfg(), on_mismatch="move_aside", ignore_record_keys=VOLATILE)
    before = digests(out)

    res = run(out, cfg(lr=2e-3), rec=record(lr=2e-3), on_mismatch="move_aside", ignore_record_keys=VOLATILE)
    assert res.start_step == 0 and res.step == 6
    [moved] = superseded(out)
    assert res.extra["superseded"] == str(moved)
    # Everything the finished run had is there, byte for byte, outside the output folder.
    assert {k: v for k, v in digests(moved).items() if k != "superseded.json"} == before
    why = (moved / "superseded.json").read_text()
    assert "train.lr" in why and "config_record.training.lr" in why
    printed = capsys.readouterr().out
    assert str(moved) in printed and "starting afresh" in printed
    fresh = run(tmp_path / "fresh", cfg(lr=2e-3), rec=record(lr=2e-3))
    assert same(weights(res), weights(fresh))

    # resume=False starts over the same way: moved aside, never deleted.
    again = run(out, cfg(lr=2e-3), rec=record(lr=2e-3), resume=False)
    assert again.start_step == 0 and len(superseded(out)) == 2


def test_which_settings_restart_a_run():
    c = cfg()
    for key, value in {"n_iters": 7, "snapshot_freq": 3, "log_freq": 1, "progress": True, "device": "auto",
                       "channels_last": True, "compile": True, "fused_adam": True}.items():
        other = {**c.to_dict(), key: value}
        assert config_differences({}, {}, c.to_dict(), other) == [], key
    for key, value in {"batch_size": 4, "lr": 2e-3, "beta1": 0.5, "beta2": 0.99, "eps": 1e-6,
                       "weight_decay": 0.1, "amsgrad": True, "ema_rate": 0.99, "seed": 1,
                       "amp_dtype": "bfloat16"}.items():
        other = {**c.to_dict(), key: value}
        assert config_differences({}, {}, c.to_dict(), other) == [
            f"train.{key}: checkpoint={c.to_dict()[key]!r}, now={value!r}"], key
    assert set(T.TRAJECTORY_FIELDS) == {"batch_size", "lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad",
                                        "ema_rate", "seed", "amp_dtype"}
    # config_record keys count unless listed (a listed key covers everything under it).
    a, b = record(), record(n_iters=600, lr=0.5)
    assert config_differences(a, b, {}, {}, ignore_record_keys=["training.n_iters"]) == [
        "config_record.training.lr: checkpoint=0.001, now=0.5"]
    assert config_differences(a, b, {}, {}, ignore_record_keys=["training"]) == []


def test_mismatch_still_raises_by_default_and_says_how_to_move_aside(tmp_path):
    run(tmp_path, cfg())
    with pytest.raises(ConfigMismatchError, match=r"(?s)train\.lr.*on_mismatch='move_aside'.*not deleted"):
        run(tmp_path, cfg(lr=2e-3))
    assert [s for s, _ in T.list_checkpoints(tmp_path)] == [5, 6]


# ----------------------------------------------------------------------------------------------- item 3


def flip_tensor_bytes(path: Path, storage: str = "0", offset: int = 4) -> None:
    """Flip a byte inside one tensor's storage; the zip stays valid (fresh CRCs), so the file still loads."""
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    data_name = next(i.filename for i, _ in entries if i.filename.endswith(f"/data/{storage}"))
    # Written in place: final.pt and latest.pt are hard links to the same file and are damaged with it.
    with open(path, "r+b") as f:
        f.truncate(0)
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            for info, blob in entries:
                if info.filename == data_name:
                    blob = blob[:offset] + bytes([blob[offset] ^ 0x10]) + blob[offset + 1:]
                z.writestr(info, blob)


def test_a_damaged_checkpoint_is_refused_and_the_previous_good_one_offered(tmp_path):
    c = cfg(n_iters=10)
    ref = run(tmp_path / "ref", c)
    out = tmp_path / "run"
    run(out, c)
    bad = out / "checkpoints" / "checkpoint_10.pt"
    flip_tensor_bytes(bad)
    torch.load(bad, weights_only=True)  # still a loadable file: only the checksum can tell

    good = str(out / "checkpoints" / "checkpoint_5.pt")
    with pytest.raises(CheckpointError, match="checksum") as err:
        run(out, c)
    assert str(bad) in str(err.value) and good in str(err.value) and "mv " in str(err.value)
    with pytest.raises(CheckpointError, match="checksum") as err:
        load_model_weights(make_model(), out / "final.pt")
    assert str(out / "final.pt") in str(err.value) and good in str(err.value)

    # Doing what the message says: move the damaged file out, rerun; training redoes steps 6..10 exactly.
    bad.rename(tmp_path / "checkpoint_10.pt.damaged")
    res = run(out, c)
    assert res.start_step == 5 and same(weights(res), weights(ref))
    load_model_weights(make_model(), out / "final.pt")


def test_checkpoints_of_the_previous_format_still_give_their_weights(tmp_path):
    res = run(tmp_path, cfg(ema_rate=0.9))
    ck = load_checkpoint(tmp_path / "final.pt")
    v1 = {"format": T.FORMAT_NAME, "format_version": 1, "step": ck["step"], "config_record": ck["config_record"],
          "train_config": ck["train_config"], "model": ck["networks"]["model"],
          "optimizer": ck["optimizers"]["model"], "ema": ck["ema_states"]["model"], "rng": ck["rng"],
          "torch_version": ck["torch_version"]}
    torch.save(v1, tmp_path / "v1.pt")
    m = load_model_weights(make_model(), tmp_path / "v1.pt", which="model")
    assert same(m.state_dict(), weights(res))
    e = load_model_weights(make_model(), tmp_path / "v1.pt")  # auto: the EMA weights
    assert same(e.state_dict(), res.ema.state_dict()["state"])


# ----------------------------------------------------------------------------------------------- item 4


def killed_write_leftovers(out: Path) -> list[Path]:
    """Temporaries named as core.fileio.atomic_path names them, as a kill between write and rename leaves them."""
    paths = [out / "checkpoints" / ".checkpoint_5.pt.k1l2m3.tmp", out / "checkpoints" / ".latest.pt.a8b9c0.tmp",
             out / ".completed.json.x1y2z3.tmp", out / ".loss.csv.q4r5s6.tmp", out / ".final.pt.t7u8v9.tmp"]
    for p in paths:
        p.write_bytes(b"partial")
    return paths


def test_temporaries_of_killed_writes_are_cleaned_at_the_next_start(tmp_path):
    c = cfg(n_iters=10)
    calls = []

    def killed_at_7(model, x, rng):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return loss(model, x, rng)

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, c, loss_fn=killed_at_7)
    leftovers = killed_write_leftovers(tmp_path)
    mine = tmp_path / "checkpoints" / "notes.tmp"  # not a name the trainer writes: not its to delete
    mine.write_text("keep")
    res = run(tmp_path, c)
    assert res.start_step == 5
    assert not any(p.exists() for p in leftovers) and mine.exists()
    # And a successful run leaves no temporary and no lock behind.
    assert [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp") and p != mine] == []
    assert not (tmp_path / T.LOCK_NAME).exists()


# ----------------------------------------------------------------------------------------------- item 5


HOLDER = """
import os, sys
import torch
from torch import nn
from scorerepro.training import TrainConfig, train

def loss(model, x, rng):
    print("training", flush=True)
    if sys.argv[2] == "die":
        os._exit(0)  # killed mid-run: no cleanup, its lock file stays behind
    sys.stdin.read()  # keeps training (and holding the folder) until the test closes stdin
    raise SystemExit(0)

cfg = TrainConfig(n_iters=1, batch_size=2, snapshot_freq=1, device="cpu", progress=False)
train(nn.Linear(2, 2), loss, lambda i, g: torch.randn(2, 2, generator=g), cfg, sys.argv[1], {"e": "other"})
"""


def _other_trainer(folder: Path, mode: str) -> subprocess.Popen:
    """Another training process on `folder`, returned once it is inside its first update."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "training"
    return proc


def test_a_second_trainer_on_the_same_folder_fails_at_once_naming_the_holder(tmp_path):
    proc = _other_trainer(tmp_path, "hold")
    try:
        t0 = time.monotonic()
        with pytest.raises(RunLockedError) as err:
            run(tmp_path, cfg())
        assert time.monotonic() - t0 < 10
        msg = str(err.value)
        assert f"pid {proc.pid}" in msg and socket.gethostname() in msg and "since" in msg
        assert str(tmp_path / T.LOCK_NAME) in msg and "Wait for that run to finish" in msg
        assert T.list_checkpoints(tmp_path) == [] and not (tmp_path / "loss.csv").exists()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert run(tmp_path, cfg()).step == 6


def test_the_lock_of_a_dead_trainer_is_taken_over(tmp_path):
    proc = _other_trainer(tmp_path, "die")
    proc.wait(timeout=30)
    assert f"pid={proc.pid}" in (tmp_path / T.LOCK_NAME).read_text()
    assert run(tmp_path, cfg()).step == 6
    assert not (tmp_path / T.LOCK_NAME).exists()


def test_a_trainer_started_during_a_run_in_the_same_process_is_refused(tmp_path):
    seen = {}

    def nested(model, x, rng):
        if "err" not in seen:
            with pytest.raises(RunLockedError) as err:
                run(tmp_path, cfg())
            seen["err"] = str(err.value)
            seen["lock"] = (tmp_path / T.LOCK_NAME).read_text()
        return loss(model, x, rng)

    res = run(tmp_path, cfg(), loss_fn=nested)
    assert res.step == 6 and f"pid {os.getpid()}" in seen["err"] and f"pid={os.getpid()}" in seen["lock"]
