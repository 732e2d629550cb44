"""A Snakemake run killed mid-training, then ONE rerun of either front end: afterwards `dvc status` is clean and
`snakemake -n` has nothing to do, with no `--unlock` in between (workflow/scripts/dvc_interop.py).

A SIGKILL runs none of Snakemake's hooks, so the jobs that finished before it (download, preprocess) are on disk
but not in dvc.lock: DVC calls them stale. The rerun must not skip them on the strength of Snakemake's own
records, or its closing commit holds back everything made from them and the two front ends disagree until
`dvc repro`. One temporary git + DVC copy of the repository with the tiny params, training made long enough to be
killed after its first checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from workflow_helpers import (BIN, TINY_PARAMS, dvc, make_workspace, nothing_to_do, snakemake, stage_names,
                              tool_env)

pytestmark = pytest.mark.slow
TARGET = "samples/ncsn/tiny_ncsn/select/shard_0.pt"
STAGES = ["code_deps", "download@mnist_embedded", "preprocess@mnist_embedded", "ncsn_train@tiny_ncsn",
          "ncsn_select_sample@tiny_ncsn-0"]
PROFILE = ["--profile", "workflow/executors/local"]
TINY_TRAINING = "training: {n_iters: 4, batch_size: 8, lr: 0.001, beta1: 0.9, snapshot_freq: 2"
LONG_TRAINING = "training: {n_iters: 400, batch_size: 8, lr: 0.001, beta1: 0.9, snapshot_freq: 100"
RUN_DIR = "models/ncsn/tiny_ncsn"


@pytest.fixture
def ws(tmp_path):
    params = TINY_PARAMS.read_text()
    assert TINY_TRAINING in params, "tiny_params.yaml changed: update TINY_TRAINING"
    return make_workspace(tmp_path / "ws", params.replace(TINY_TRAINING, LONG_TRAINING, 1), dvc=True)


def _kill_during_training(ws: Path, sig: signal.Signals) -> str:
    """Start `snakemake --profile workflow/executors/local TARGET`, send `sig` to its process group once training
    has written a checkpoint, and return what it printed."""
    log = ws / "killed_run.log"
    with open(log, "w") as out:
        run = subprocess.Popen([str(BIN / "snakemake"), *PROFILE, TARGET], cwd=ws, env=tool_env(ws), stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.time() + 240
        while not list((ws / RUN_DIR).glob("**/*.pt")):
            assert run.poll() is None, f"snakemake ended before training checkpointed:\n{log.read_text()[-4000:]}"
            assert time.time() < end, "timed out waiting for a training checkpoint"
            time.sleep(0.2)
        os.killpg(run.pid, sig)
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert not (ws / RUN_DIR / "completed.json").exists(), "training finished before the kill"
    return log.read_text()


def _dvc_stale(ws: Path) -> set[str]:
    return set(json.loads(dvc(ws, "status", "--json", *STAGES).stdout or "{}"))


def _dry_run_stages(ws: Path) -> set[str]:
    res = snakemake(ws, "-n", TARGET)
    rules = {ln.split()[1].rstrip(":") for ln in (res.stdout + res.stderr).splitlines()
             if ln.startswith(("rule ", "localrule "))}
    return {stage_names(ws)[r] for r in rules}


def _assert_agree(ws: Path) -> None:
    assert _dvc_stale(ws) == set(), dvc(ws, "status", *STAGES).stdout
    res = snakemake(ws, "-n", TARGET)
    assert nothing_to_do(res), res.stdout[-3000:] + res.stderr[-3000:]


def test_one_snakemake_rerun_after_a_sigkill_leaves_both_front_ends_agreeing(ws):
    _kill_during_training(ws, signal.SIGKILL)
    assert list((ws / ".snakemake" / "locks").glob("*.lock")), "a killed snakemake leaves its locks"
    stale = _dvc_stale(ws)
    # no hook ran: what finished before the kill is on disk but not in dvc.lock
    assert {"download@mnist_embedded", "preprocess@mnist_embedded", "ncsn_train@tiny_ncsn"} <= stale, stale
    # Snakemake skips no job DVC calls stale (it once kept the finished jobs on its own records)
    assert stale - {"code_deps"} <= _dry_run_stages(ws)

    res = snakemake(ws, *PROFILE, TARGET)  # no --unlock: the dry run above took over the dead run's locks
    out = res.stdout + res.stderr
    assert "still reports" not in out and "not recorded" not in out, out[-4000:]
    assert (ws / RUN_DIR / "completed.json").exists()
    _assert_agree(ws)


def test_dvc_repro_after_an_interrupted_run_leaves_both_front_ends_agreeing(ws):
    killed = _kill_during_training(ws, signal.SIGINT)
    assert "dvc.lock now records 2 stage(s)" in killed, killed[-4000:]  # onerror recorded what finished
    assert _dvc_stale(ws) == {"ncsn_train@tiny_ncsn", "ncsn_select_sample@tiny_ncsn-0"}

    rep = dvc(ws, "repro", *STAGES)
    assert "Running stage 'ncsn_train@tiny_ncsn'" in rep.stdout
    assert "Running stage 'preprocess@mnist_embedded'" not in rep.stdout
    # Snakemake marked the killed job's outputs incomplete; DVC has made them since: no refusal, no rerun
    _assert_agree(ws)
    assert nothing_to_do(snakemake(ws, "-n", *PROFILE, TARGET))
