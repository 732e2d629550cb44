"""No silent stale results: after any sequence of Snakemake runs, `dvc repro`, parameter edits,
`dvc exp run` and `git checkout` / `dvc checkout`, DVC and Snakemake agree on what is stale, and dvc.lock never
records an output as current unless the stage that makes it ran with the current params and inputs.

The whole tiny DAG, in one temporary git + DVC copy of the repository, through this sequence (each a test, in
order; each ends with the same provenance check):

1. `snakemake` builds everything (its closing `dvc commit` records every stage);
2. a downstream parameter (`ncsn.defaults.neighbours.k`) changes, then `snakemake`;
3. an upstream parameter (`ncsn.defaults.sampling.step_lr`) changes, then `snakemake`: what reads the new samples
   (evaluate, neighbours, the tables ...) must run too (before the fix only the stages DVC itself reported changed
   ran, and the closing commit then recorded the rest, older, as current);
4. a parameter changes, `dvc repro` carries out part of it (up to checkpoint selection), then `snakemake` does the
   rest without redoing DVC's part;
5. `dvc exp run -S ...`, then `snakemake` has nothing to do;
6. `git checkout` of an older commit without `dvc checkout` (outputs on disk newer than dvc.lock says), then
   `snakemake`; then back to the newest commit with `dvc checkout`, and `snakemake` has nothing to do.

The provenance check (check_provenance): every stage of dvc.yaml is in dvc.lock; the params dvc.lock records for
it equal params.yaml's; the hashes it records for its outputs equal the files on disk (and `dvc status` finds
nothing changed); `snakemake -n` has nothing to do; each stage's outputs are at least as new as the data they were
made from, unless that data's content did not change in the step (skipped after a checkout, which sets arbitrary
mtimes); and a stage whose recorded params or inputs changed in the step was rerun after the edit.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from scorerepro.config import read_params_yaml
from workflow_helpers import (TINY_PARAMS, dvc, make_workspace, nothing_to_do, parse_dry_run, run, snakemake,
                              stage_names)

pytestmark = pytest.mark.slow
EXP = "tiny_ncsn"
LOCAL = ["--profile", "workflow/executors/local", "--cores", "2"]
COMMITS: dict[str, str] = {}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = make_workspace(tmp_path_factory.mktemp("provenance"), TINY_PARAMS, dvc=True)
    with open(root / ".git" / "info" / "exclude", "a") as f:  # the tools' caches (tool_env) are not the project's
        f.write("/.dvc-site-cache/\n/.cache/\n")
    run(["git", "rm", "-rq", "--cached", "--ignore-unmatch", ".dvc-site-cache", ".cache"], root)
    return root


# ------------------------------------------------------------------------------------------------------- helpers
def _lock(ws: Path) -> dict:
    return (read_params_yaml(ws / "dvc.lock") or {}).get("stages") or {}


def _lookup(params: dict, key: str):
    value = params
    for part in key.split("."):
        value = value[part]
    return value


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*") if p.is_file() and p.name != ".gitignore"]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _stage_params(entry: dict) -> dict:
    return (entry.get("params") or {}).get("params.yaml") or {}


def _stage_deps(entry: dict) -> dict:
    return {d["path"]: d.get("md5") for d in entry.get("deps") or []}


def _ran(ws: Path, res) -> set[str]:
    """The DVC stage names of the jobs a Snakemake run ran."""
    stage_of = stage_names(ws)
    return {stage_of[job["rule"]] for job in parse_dry_run(res.stdout + res.stderr) if job["rule"] != "all"}


def _edit(ws: Path, old: str, new: str) -> float:
    """Replace `old` (once, must be there) by `new` in params.yaml; returns the time just before the edit."""
    time.sleep(0.05)
    t = time.time()
    params = ws / "params.yaml"
    text = params.read_text()
    assert text.count(old) == 1, old
    params.write_text(text.replace(old, new))
    time.sleep(0.05)
    return t


def _commit(ws: Path, name: str) -> None:
    run(["git", "add", "-A"], ws)
    run(["git", "commit", "-qm", name, "--allow-empty"], ws)
    COMMITS[name] = run(["git", "rev-parse", "HEAD"], ws).stdout.strip()


def check_provenance(ws: Path, *, before: dict | None = None, edited_at: float | None = None,
                     causal: bool = True) -> None:
    """dvc.lock describes the workspace, and both front ends agree that nothing is stale (see the module doc).
    `before`: dvc.lock's stages before the step; `edited_at`: when the step's params edit happened."""
    lock = _lock(ws)
    params = read_params_yaml(ws / "params.yaml")
    stages = {line.strip() for line in dvc(ws, "stage", "list", "--name-only").stdout.splitlines() if line.strip()}
    assert stages and stages <= set(lock), f"stages dvc.lock does not record: {sorted(stages - set(lock))}"
    problems = []
    for name in sorted(stages):
        entry = lock[name]
        for key, value in _stage_params(entry).items():
            if _lookup(params, key) != value:
                problems.append(f"{name}: dvc.lock records {key}={value!r}, params.yaml has {_lookup(params, key)!r}")
        for out in entry.get("outs") or []:
            path = ws / out["path"]
            if not path.exists():
                problems.append(f"{name}: output {out['path']} missing")
            elif path.is_file() and _md5(path) != out["md5"]:
                problems.append(f"{name}: output {out['path']} is not the file dvc.lock records")
    assert not problems, "\n".join(problems)
    status = json.loads(dvc(ws, "status", "--json").stdout or "{}")
    assert status == {}, f"dvc status: {status}"
    dry = snakemake(ws, *LOCAL, "-n")
    assert nothing_to_do(dry), f"snakemake -n disagrees with dvc status:\n{dry.stdout[-3000:]}"

    if causal:  # each output made after the data it was made from (an input rewritten with the same content, which
        # DVC rightly does not rerun a stage for, excepted: its hash in dvc.lock is the one before the step)
        # code_deps excepted: it rewrites a code file only when its text changes, so an unchanged one keeps the
        # mtime of the checkout, which may predate code_deps.py's (DVC compares their hashes, not their mtimes)
        for name in sorted(stages - {"code_deps"}):
            entry = lock[name]
            same = _stage_deps((before or {}).get(name) or {}) if before is not None else {}
            deps = [ws / d["path"] for d in entry.get("deps") or [] if not d["path"].startswith("src/")
                    and not (d["path"] in same and same[d["path"]] == d.get("md5"))]
            dep_files = [f for d in deps for f in _files(d)]
            out_files = [f for o in entry.get("outs") or [] for f in _files(ws / o["path"])]
            if dep_files and out_files:
                newest_in = max(dep_files, key=lambda f: f.stat().st_mtime)
                oldest_out = min(out_files, key=lambda f: f.stat().st_mtime)
                if oldest_out.stat().st_mtime < newest_in.stat().st_mtime:
                    problems.append(f"{name}: {oldest_out.relative_to(ws)} is older than its input "
                                    f"{newest_in.relative_to(ws)}")
        assert not problems, "outputs older than their inputs:\n" + "\n".join(problems)

    if before is not None and edited_at is not None:  # what the edit changed was redone after it
        for name in sorted(stages):
            entry, old = lock[name], before.get(name)
            if old is not None and _stage_params(old) == _stage_params(entry) \
                    and _stage_deps(old) == _stage_deps(entry):
                continue
            for o in entry.get("outs") or []:
                for f in _files(ws / o["path"]):
                    if f.stat().st_mtime < edited_at and "/checkpoints/" not in f.as_posix():
                        problems.append(f"{name}: inputs or params changed, but {f.relative_to(ws)} predates "
                                        "the change")
        assert not problems, "stale outputs recorded as current:\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------------------- the sequence
def test_1_snakemake_builds_everything(ws):
    res = snakemake(ws, *LOCAL, timeout=1800)
    assert "dvc.lock now records" in res.stderr
    check_provenance(ws)
    _commit(ws, "step1")


def test_2_downstream_param_then_snakemake(ws):
    before = _lock(ws)
    t = _edit(ws, "neighbours: {n_samples: 2, k: 2}", "neighbours: {n_samples: 2, k: 1}")
    res = snakemake(ws, *LOCAL, timeout=1200)
    ran = _ran(ws, res)
    assert {f"ncsn_neighbours@{EXP}", "ncsn_summary", "claims", "leaderboard"} <= ran, ran
    assert f"ncsn_train@{EXP}" not in ran and f"ncsn_sample@{EXP}-0" not in ran, ran
    assert (ws / "results/claims.md").stat().st_mtime > t
    check_provenance(ws, before=before, edited_at=t)
    _commit(ws, "step2")


def test_3_upstream_param_then_snakemake(ws):
    before = _lock(ws)
    t = _edit(ws, "step_lr: 2.0e-05, batch_size: 10", "step_lr: 1.0e-05, batch_size: 10")
    res = snakemake(ws, *LOCAL, timeout=1200)
    ran = _ran(ws, res)
    # the samples changed, so everything made from them is made again
    for path in [f"results/ncsn/{EXP}/metrics.json", f"results/ncsn/{EXP}/fig5_samples.png",
                 f"results/ncsn/{EXP}/fig6_neighbours.png", "results/ncsn/sensitivity/metrics.json",
                 "results/ncsn/summary.md", "results/claims.md", "results/leaderboard.md"]:
        assert (ws / path).stat().st_mtime > t, f"{path} predates the step_lr change; jobs run: {sorted(ran)}"
    assert f"ncsn_train@{EXP}" not in ran, ran
    check_provenance(ws, before=before, edited_at=t)
    _commit(ws, "step3")


def test_4_param_then_partial_dvc_repro_then_snakemake(ws):
    before = _lock(ws)
    t = _edit(ws, "sampling: {n_steps_each: 1,", "sampling: {n_steps_each: 2,")
    rep = dvc(ws, "repro", f"ncsn_select@{EXP}", timeout=1200)
    assert f"Running stage 'ncsn_select@{EXP}'" in rep.stdout
    res = snakemake(ws, *LOCAL, timeout=1200)
    ran = _ran(ws, res)
    assert not ran & {f"ncsn_select_sample@{EXP}-0", f"ncsn_select_sample@{EXP}-1", f"ncsn_select@{EXP}"}, \
        f"Snakemake redid what dvc repro had done: {sorted(ran)}"
    assert {f"ncsn_sample@{EXP}-0", f"ncsn_evaluate@{EXP}", f"ncsn_neighbours@{EXP}", "claims"} <= ran, ran
    assert (ws / f"results/ncsn/{EXP}/metrics.json").stat().st_mtime > t
    check_provenance(ws, before=before, edited_at=t)
    _commit(ws, "step4")


def test_5_dvc_exp_run_then_snakemake(ws):
    before = _lock(ws)
    t = time.time()
    dvc(ws, "exp", "run", "-S", "ncsn.toy.fig2_scores.n_iters=6", timeout=1200)
    assert read_params_yaml(ws / "params.yaml")["ncsn"]["toy"]["fig2_scores"]["n_iters"] == 6
    res = snakemake(ws, *LOCAL, timeout=1200)
    assert not _ran(ws, res), f"Snakemake redid what dvc exp run had done: {sorted(_ran(ws, res))}"
    check_provenance(ws, before=before, edited_at=t)
    _commit(ws, "step5")


def test_6_checkout_older_commit_then_snakemake(ws):
    # an older commit's params.yaml and dvc.lock, with today's data on disk (no dvc checkout): what differs is
    # rerun with the older params
    run(["git", "checkout", "-qf", COMMITS["step1"]], ws)
    assert read_params_yaml(ws / "params.yaml")["ncsn"]["defaults"]["sampling"]["step_lr"] == 2.0e-05
    res = snakemake(ws, *LOCAL, timeout=1200)
    assert f"ncsn_sample@{EXP}-0" in _ran(ws, res)
    check_provenance(ws, causal=False)

    # back to the newest commit, outputs restored by dvc checkout (new mtimes): nothing to redo
    run(["git", "checkout", "-qf", COMMITS["step5"]], ws)
    dvc(ws, "checkout", "--force")
    res = snakemake(ws, *LOCAL, timeout=1200)
    assert not _ran(ws, res), sorted(_ran(ws, res))
    check_provenance(ws, causal=False)
    assert json.loads((ws / f"results/ncsn/{EXP}/metrics.json").read_text()) == json.loads(
        run(["git", "show", f"{COMMITS['step5']}:results/ncsn/{EXP}/metrics.json"], ws).stdout)
