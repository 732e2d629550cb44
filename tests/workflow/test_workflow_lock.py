"""Faults of the two front ends together, driven as a user would: one workflow lock shared by `dvc` and
`snakemake` (workflow/scripts/dvc_interop.py: WorkflowLock), a killed Snakemake run, a failing closing `dvc commit`,
and a params typo that makes DVC call stages stale that Snakemake could not remake.

One temporary git + DVC copy of the repository with the tiny params and cheap stages only; two test-only additions
to that copy make a front end busy for a while: dvc.yaml stages `slow` and `slow_snakemake`, each a sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from workflow_helpers import BIN, TINY_PARAMS, dvc, make_workspace, nothing_to_do, snakemake, tool_env

pytestmark = pytest.mark.slow
TARGETS = ["data/processed/mnist_embedded"]
STAGES = ["download@mnist_embedded", "preprocess@mnist_embedded"]
# test-only stages (the Snakemake rules are made from them): slow jobs for either front end, and a stage that reads
# a hand-made file (no stage makes it) and its consumer
EXTRA_STAGES = {
    "slow": {"cmd": "sleep 40 && echo done > slow_dvc.txt", "outs": [{"slow_dvc.txt": {"cache": False}}]},
    "slow_snakemake": {"cmd": "sleep 40 && touch slow.txt", "outs": [{"slow.txt": {"cache": False}}]},
    "handmade": {"cmd": "cp handmade_input.txt handmade.txt", "deps": ["handmade_input.txt"],
                 "outs": [{"handmade.txt": {"cache": False}}]},
    "handmade_consumer": {"cmd": "cp handmade.txt handmade_consumer.txt", "deps": ["handmade.txt"],
                          "outs": [{"handmade_consumer.txt": {"cache": False}}]},
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = make_workspace(tmp_path_factory.mktemp("lock"), TINY_PARAMS, dvc=True)
    with open(root / "dvc.yaml", "a") as f:  # appended under `stages:`, the file's last top-level key
        f.write("\n" + "\n".join("  " + ln for ln in yaml.safe_dump(EXTRA_STAGES, sort_keys=False).splitlines()) + "\n")
    snakemake(root, "--cores", "2", *TARGETS)
    return root


def _start(cmd: list[str], ws: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ws, env=tool_env(ws), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def _wait_for(pred, what: str, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _rwlock(ws: Path) -> dict:
    try:
        return json.loads((ws / ".dvc" / "tmp" / "rwlock").read_text())
    except (OSError, ValueError):  # absent, or caught mid-write
        return {}


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def test_snakemake_refuses_while_dvc_repro_runs(ws):
    repro = _start([str(BIN / "dvc"), "repro", "slow"], ws)
    try:
        _wait_for(lambda: (ws / ".dvc" / "tmp" / "lock").exists() and "slow_dvc" in json.dumps(_rwlock(ws)),
                  "dvc repro to start its stage")
        t0 = time.time()
        res = snakemake(ws, "--cores", "2", *TARGETS, check=False)
        assert res.returncode != 0
        out = res.stdout + res.stderr
        assert "refusing to run: another front end" in out and f"PID {repro.pid}" in out and "dvc repro" in out, out
        assert time.time() - t0 < 60, "refused at once, not after the other run"
    finally:
        _stop(repro)


def test_dvc_refuses_while_snakemake_runs_then_takes_over_a_killed_one(ws):
    run = _start([str(BIN / "snakemake"), "--cores", "1", "slow.txt"], ws)
    try:
        _wait_for(lambda: any("snakemake" in i.get("cmd", "") for i in _rwlock(ws).get("write", {}).values()),
                  "snakemake to hold the workflow lock")
        for cmd in (["repro", *STAGES], ["status"], ["commit", "-f", STAGES[1]]):
            res = dvc(ws, *cmd, check=False)
            assert res.returncode != 0, (cmd, run.poll(), run.stdout.read() if run.poll() is not None else "")
            out = res.stdout + res.stderr
            assert f"PID {run.pid}" in out and "snakemake" in out, out
        other = snakemake(ws, "--cores", "1", *TARGETS, check=False)
        assert other.returncode != 0 and f"PID {run.pid}" in other.stdout + other.stderr
    finally:
        _stop(run)  # killed: its rwlock entry and Snakemake's own directory lock stay behind
    assert any(i["pid"] == run.pid for i in _rwlock(ws)["write"].values())
    assert list((ws / ".snakemake" / "locks").glob("*.lock")), "a killed snakemake leaves its lock"

    # a dead holder is taken over: DVC drops its entry, and one rerun of snakemake needs no --unlock
    assert "up to date" in dvc(ws, "status", *STAGES).stdout
    res = snakemake(ws, "--cores", "2", "slow.txt", *TARGETS)
    assert "removed the Snakemake locks a killed run left" in res.stderr
    assert (ws / "slow.txt").exists()
    assert "write" not in _rwlock(ws), "the lock is released when the run ends"
    assert nothing_to_do(snakemake(ws, "-n", *TARGETS))
    assert "up to date" in dvc(ws, "status", *STAGES).stdout


def test_snakemake_fails_when_its_dvc_commit_fails(ws):
    params = ws / "params.yaml"
    params.write_text(params.read_text().replace("seed: 7", "seed: 9", 1))
    lock = ws / "dvc.lock"
    good = lock.read_text()
    lock.write_text("stages: [\n")  # a damaged dvc.lock: the jobs run, the closing commit cannot parse it
    try:
        res = snakemake(ws, "--cores", "2", *TARGETS, check=False)
    finally:
        lock.write_text(good)
    out = res.stdout + res.stderr
    assert "Finished jobid" in out and "dvc commit failed" in out, out
    assert res.returncode != 0
    res = snakemake(ws, "--cores", "2", *TARGETS)  # the next run records it
    assert "dvc.lock now records" in res.stderr
    assert "up to date" in dvc(ws, "status", *STAGES).stdout


def test_a_stale_stage_snakemake_cannot_remake_is_refused(ws):
    """A stage DVC calls stale because an input it reads is gone and nothing makes it (as a misspelt dataset
    name does): Snakemake used to drop its job, since its output exists, run only what follows it and record
    that in dvc.lock. Now it refuses, naming the stage and the input, and records nothing."""
    (ws / "handmade_input.txt").write_text("1\n")
    dvc(ws, "repro", "handmade_consumer")
    (ws / "handmade_input.txt").unlink()
    lock_before = (ws / "dvc.lock").read_text()
    res = snakemake(ws, "--cores", "2", "handmade_consumer.txt", check=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "cannot be remade" in out and "handmade: handmade_input.txt" in out, out
    assert (ws / "dvc.lock").read_text() == lock_before
    control = snakemake(ws, "--cores", "2", "handmade_consumer.txt", env=tool_env(ws, SCOREREPRO_DVC_INTEROP="0"))
    assert "handmade" not in {ln.split()[1].rstrip(":") for ln in control.stdout.splitlines()
                              if ln.startswith(("rule ", "localrule "))}, "Snakemake alone skips the stale job"
