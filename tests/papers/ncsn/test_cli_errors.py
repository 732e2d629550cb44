"""Errors through the CLI: each failure a user can act on prints one message naming the file
and the fix, no traceback (`--verbose` shows it), and exits with its own non-zero code: the codes README.md (Reliability) lists, from core/errors.py."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest
import torch


def _cli(run, *args: str, verbose: bool = False, preexec_fn=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "scorerepro.cli", *args, "--params", "params.yaml"] + (["--verbose"] if verbose else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLCONFIGDIR": str(run.root / ".mpl")}
    return subprocess.run(cmd, cwd=run.root, capture_output=True, text=True, timeout=300, env=env,
                          preexec_fn=preexec_fn)


def _assert_user_error(res, code: int, label: str, *names: str) -> None:
    assert res.returncode == code, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("scorerepro ")]
    assert len(lines) == 1 and f": {label}: " in lines[0], res.stderr
    for name in names:
        assert name in res.stderr, (name, res.stderr)


def test_a_damaged_checkpoint_is_one_message_naming_it(tiny_run):
    ckpt = tiny_run.root / "models/ncsn/tiny_ncsn/checkpoints/checkpoint_2.pt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # damage in the middle: the zip may still open
    ckpt.write_bytes(bytes(data))
    res = _cli(tiny_run, "ncsn", "select_sample", "tiny_ncsn", "0")
    _assert_user_error(res, 4, "checkpoint error", "checkpoint_2.pt")
    verbose = _cli(tiny_run, "ncsn", "select_sample", "tiny_ncsn", "0", verbose=True)
    assert verbose.returncode != 0 and "Traceback" in verbose.stderr and "CheckpointError" in verbose.stderr


def test_sample_on_a_damaged_selected_checkpoint_names_the_damage_not_a_retraining(tiny_run):
    ckpt = tiny_run.root / "models/ncsn/tiny_ncsn/checkpoints/checkpoint_4.pt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2: len(data) // 2 + 16] = bytes(b ^ 0xFF for b in data[len(data) // 2: len(data) // 2 + 16])
    ckpt.unlink()  # final.pt and latest.pt may be hard links to it: damage this file only
    ckpt.write_bytes(bytes(data))
    res = _cli(tiny_run, "ncsn", "sample", "tiny_ncsn", "0")
    _assert_user_error(res, 4, "checkpoint error", "checkpoint_4.pt", "dvc checkout --force")
    assert "retrained or restored" not in res.stderr and "damaged" in res.stderr, res.stderr


def test_a_tampered_processed_dataset_is_one_message_naming_it(tiny_run):
    split = tiny_run.root / "data/processed/mnist_embedded/train.pt"
    payload = torch.load(split, weights_only=True)
    payload["images"][0] = 255 - payload["images"][0]
    torch.save(payload, split)  # a valid file whose contents no longer match the manifest
    params = tiny_run.params()
    params["ncsn"]["experiments"]["tiny_ncsn"]["training"]["n_iters"] = 6  # so training reads the data
    tiny_run.write_params(params)
    res = _cli(tiny_run, "ncsn", "train", "tiny_ncsn")
    _assert_user_error(res, 3, "data integrity error", "train.pt", "manifest", "preprocess")


def _without_root_override():
    """Child: drop the capabilities that let root write into any folder, so 0o555 means read-only to it too."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone from the exec'd program's capabilities
            os._exit(99)


def test_an_unwritable_output_folder_is_one_message_naming_it(tiny_run):
    results = tiny_run.root / "results" / "ncsn"
    results.chmod(0o555)
    try:
        res = _cli(tiny_run, "ncsn", "toy", "fig2_scores",
                   preexec_fn=_without_root_override if os.geteuid() == 0 else None)
    finally:
        results.chmod(0o755)
    if res.returncode == 99:
        pytest.skip("cannot drop root's override of folder permissions here (no CAP_SETPCAP)")
    _assert_user_error(res, 77, "permission denied", "results/ncsn/toy", "writable")


def test_a_locked_run_folder_is_one_message_naming_the_holder(tiny_run):
    from scorerepro.training import RunLock

    params = tiny_run.params()
    params["ncsn"]["experiments"]["tiny_ncsn"]["training"]["n_iters"] = 6
    tiny_run.write_params(params)
    with RunLock.acquire(tiny_run.root / "models/ncsn/tiny_ncsn"):
        res = _cli(tiny_run, "ncsn", "train", "tiny_ncsn")
    _assert_user_error(res, 75, "run folder locked", f"pid {os.getpid()}", ".train.lock")


def test_a_diverged_sampler_is_one_message_naming_level_and_step(tiny_run):
    tiny_run.write_params(tiny_run.params(step_lr=10.0))
    res = _cli(tiny_run, "ncsn", "sample", "tiny_ncsn", "0")
    _assert_user_error(res, 6, "sampling diverged", "noise level 1/3", "step 1 of 1",
                       "lower step_lr")


def test_a_stale_sample_shard_is_one_message_naming_file_setting_and_command(tiny_run):
    from scorerepro.papers.ncsn.stages import sample

    for shard in (0, 1):
        sample.run(tiny_run.params(), "tiny_ncsn", shard)
    tiny_run.write_params(tiny_run.params(n_steps_each=2))
    res = _cli(tiny_run, "ncsn", "evaluate", "tiny_ncsn")
    _assert_user_error(res, 7, "sample shard error", "samples/ncsn/tiny_ncsn/eval/shard_0.pt",
                       "sampling.n_steps_each: shard=1, now=2", "`scorerepro ncsn sample tiny_ncsn 0`")
