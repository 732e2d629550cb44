"""DVC <-> Snakemake: either front end run after the other redoes no finished work (workflow/scripts/dvc_interop.py).

One temporary git + DVC copy of the repository with the tiny params, and cheap stages only (download and
preprocess of mnist_embedded, NCSN's fig1_manifold toy study), in this order:

1. `snakemake` builds the targets; its onsuccess hook commits them, so `dvc status` is clean, `dvc repro` runs
   nothing and `snakemake -n` has nothing to do;
2. a params change carried out by `dvc repro`: `snakemake -n` has nothing to do (without the interop Snakemake
   would redo both stages: its metadata still holds the old params);
3. `dvc checkout` restores outputs with new modification times (treeverse/dvc#8602), here in the worst order
   (inputs newer than outputs): `snakemake -n` has nothing to do (without the interop it reruns preprocess);
4. an output only DVC ever made (never seen by Snakemake), whose input then looks newer: nothing to do;
5. a params change of that stage, not yet run by anyone: Snakemake reruns it (alone it could not see the
   change: it has no metadata for that output), and afterwards neither side has anything to do.
Each "without the interop" control (SCOREREPRO_DVC_INTEROP=0) shows the measured problem the hooks solve.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from workflow_helpers import REPO, TINY_PARAMS, dvc, make_workspace, nothing_to_do, snakemake, stage_kind, tool_env

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
import dvc_interop  # noqa: E402

TARGETS = ["data/processed/mnist_embedded"]
STAGES = ["download@mnist_embedded", "preprocess@mnist_embedded"]


def _reruns(res) -> set[str]:
    """The stages (without their foreach key) of the jobs a dry run lists."""
    return {stage_kind(line.split()[1].rstrip(":")) for line in (res.stdout + res.stderr).splitlines()
            if line.startswith(("rule ", "localrule "))}


def _set_mtime(path: Path, t: float) -> None:
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (t, t))


def test_stage_of_maps_markers_and_outputs():
    stages = {"ncsn_train@a": ["models/ncsn/a", "results/ncsn/a/fig12_loss.csv"],
              "ncsn_select@a": ["results/ncsn/a/selected.json"], "download@d": ["data/raw/d"]}
    assert dvc_interop.stage_of("models/ncsn/a/completed.json", stages) == "ncsn_train@a"
    assert dvc_interop.stage_of("results/ncsn/a/fig12_loss.csv", stages) == "ncsn_train@a"
    assert dvc_interop.stage_of("results/ncsn/a/selected.json", stages) == "ncsn_select@a"
    assert dvc_interop.stage_of("data/raw/d/download.json", stages) == "download@d"
    assert dvc_interop.stage_of("models/ncsn/ab/completed.json", stages) is None
    assert dvc_interop.stage_of("models/ncsn", stages) is None


def test_only_stages_with_an_up_to_date_upstream_are_trusted(tmp_path):
    """ancient() inputs only where DVC holds the stage AND everything upstream of it up to date: below a changed
    stage, Snakemake must rerun what reads the changed outputs."""
    upstream = {"train": set(), "select_sample": {"train"}, "select": {"select_sample"}, "sample": {"select"},
                "evaluate": {"sample"}, "toy": set(), "summary": {"evaluate", "toy"}}
    stages = {s: [f"out/{s}"] for s in upstream}
    state = dvc_interop.DvcState(tmp_path, stages, up_to_date=set(upstream) - {"select_sample"},
                                 changed={"select_sample"}, upstream=upstream, asked=True)
    assert state.trusted == {"train", "toy"}
    assert state.is_up_to_date("out/evaluate") and not state.is_trusted("out/evaluate")
    assert state.must_rerun("out/select_sample") and (tmp_path / dvc_interop.STAMP).exists()
    state = dvc_interop.DvcState(tmp_path, stages, up_to_date=set(upstream), upstream=upstream, asked=True)
    assert state.trusted == set(upstream)
    assert state.distrust({"select"}) == {"select", "sample", "evaluate", "summary"}
    assert state.trusted == {"train", "select_sample", "toy"}


def test_dag_order_and_downstream():
    upstream = {"a": set(), "b": {"a"}, "c": {"b"}, "d": {"a"}, "e": {"c", "d"}}
    order = dvc_interop.dag_order(["e", "c", "a", "d"], upstream)
    assert order.index("a") < order.index("c") < order.index("e") and order.index("d") < order.index("e")
    assert set(order) == {"a", "c", "d", "e"}
    assert dvc_interop.downstream_of(["b"], upstream) == {"b", "c", "e"}


def test_fallback_is_said(tmp_path):
    """When DVC cannot be asked, the state says so (and the Snakefile prints it)."""
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "dvc.yaml").write_text("stages: [this is not a stage list\n")
    (tmp_path / "dvc.lock").write_text("")
    state = dvc_interop.read_state(tmp_path)
    assert not state.asked and "dvc status failed" in state.note
    assert "DVC not asked (dvc status failed" in dvc_interop.fallback_message(state)
    plain = dvc_interop.read_state(tmp_path / "nothing")
    assert not plain.asked and "not a DVC repository" in dvc_interop.fallback_message(plain)


def test_no_commit_when_params_changed_during_the_run(tmp_path):
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    digest = dvc_interop.params_digest(tmp_path)
    (tmp_path / "params.yaml").write_text("seed: 2\n")
    said = []
    assert dvc_interop.commit(tmp_path, ["out/x"], log=said.append, parsed_params_digest=digest) == []
    assert "params.yaml changed while Snakemake ran" in said[0]


def test_snakefile_says_when_dvc_is_not_asked(tmp_path):
    ws = make_workspace(tmp_path / "plain", TINY_PARAMS)  # no DVC repository
    res = snakemake(ws, "-n", "data/processed/mnist_embedded")
    assert "dvc_interop: DVC not asked (not a DVC repository)" in res.stderr
    off = snakemake(ws, "-n", "data/processed/mnist_embedded", env=tool_env(ws, SCOREREPRO_DVC_INTEROP="0"))
    assert "DVC not asked (SCOREREPRO_DVC_INTEROP=0)" in off.stderr


def test_stage_of_maps_every_snakemake_marker_to_its_dvc_stage(ws, monkeypatch):
    """The completion markers Snakemake declares instead of persistent output folders (dvc_rules.py) lie inside the
    folders dvc.yaml declares, so the interop finds their stage (and checks it, drops stale metadata, commits it)."""
    import dvc_rules

    for k, v in tool_env(ws).items():  # keep DVC's site cache in the workspace
        if k.startswith("DVC_"):
            monkeypatch.setenv(k, v)
    stages = dvc_interop.dvc_stages(ws)
    markers = {(r.stage, f) for r in dvc_rules.rules(ws) for f in r.outputs if f not in stages[r.stage]}
    assert {dvc_rules.stage_kind(s) for s, _ in markers} == set(dvc_rules.PERSISTENT_MARKERS)
    for stage, marker in markers:
        assert dvc_interop.stage_of(marker, stages) == stage, (stage, marker)
        assert os.path.dirname(marker) in stages[stage], (stage, marker, stages[stage])


def test_dvcignore_hides_snakemake_timestamps():
    """Snakemake writes .snakemake_timestamp into directory outputs; DVC must not hash it, or a folder made by
    Snakemake and the same folder made by DVC get different hashes (and downstream stages rerun)."""
    lines = [ln.strip() for ln in (REPO / ".dvcignore").read_text().splitlines()]
    assert ".snakemake_timestamp" in lines, "add the line `.snakemake_timestamp` to .dvcignore"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = make_workspace(tmp_path_factory.mktemp("interop"), TINY_PARAMS, dvc=True)
    return root


@pytest.mark.slow
def test_1_snakemake_then_dvc(ws):
    res = snakemake(ws, "--cores", "2", *TARGETS)
    assert "dvc.lock now records 2 stage(s)" in res.stderr
    lock = (ws / "dvc.lock").read_text()
    assert all(s in lock for s in STAGES)
    st = dvc(ws, "status", *STAGES)
    assert "up to date" in st.stdout, st.stdout
    rep = dvc(ws, "repro", *STAGES)
    assert "Running stage" not in rep.stdout, rep.stdout
    again = snakemake(ws, "-n", *TARGETS)
    assert nothing_to_do(again) and "dropped" not in again.stderr


@pytest.mark.slow
def test_2_params_change_run_by_dvc(ws):
    params = ws / "params.yaml"
    params.write_text(params.read_text().replace("seed: 7", "seed: 8", 1))
    rep = dvc(ws, "repro", *STAGES)
    assert "Running stage 'preprocess@mnist_embedded'" in rep.stdout
    assert "Running stage 'download@mnist_embedded'" not in rep.stdout

    control = snakemake(ws, "-n", *TARGETS, env=tool_env(ws, SCOREREPRO_DVC_INTEROP="0"))
    assert _reruns(control) == {"preprocess"}, "Snakemake alone redoes what dvc repro just did"
    res = snakemake(ws, "-n", *TARGETS)
    assert nothing_to_do(res), res.stdout + res.stderr
    assert "dropped Snakemake metadata" in res.stderr


@pytest.mark.slow
def test_3_dvc_checkout_new_mtimes(ws):
    for d in ("data/raw/mnist_embedded", "data/processed/mnist_embedded"):
        for p in sorted((ws / d).rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
    dvc(ws, "checkout", *STAGES[:2])
    assert (ws / "data/processed/mnist_embedded/train.pt").exists()
    # the worst order dvc checkout can produce: the raw data newer than what was made from it
    now = time.time()
    _set_mtime(ws / "data/processed/mnist_embedded", now - 100)
    _set_mtime(ws / "data/raw/mnist_embedded", now)

    control = snakemake(ws, "-n", *TARGETS, env=tool_env(ws, SCOREREPRO_DVC_INTEROP="0"))
    assert _reruns(control) == {"preprocess"}, "Snakemake alone reruns preprocess after dvc checkout"
    res = snakemake(ws, "-n", *TARGETS)
    assert nothing_to_do(res), res.stdout + res.stderr
    st = dvc(ws, "status", *STAGES)
    assert "up to date" in st.stdout


@pytest.mark.slow
def test_4_output_made_only_by_dvc(ws):
    dvc(ws, "repro", "ncsn_toy_manifold")
    target = "results/ncsn/toy/fig1_manifold/metrics.json"
    assert json.loads((ws / target).read_text())["study"] == "fig1_manifold"
    _set_mtime(ws / "data/processed/mnist_embedded", time.time() + 5)  # its input now looks newer

    control = snakemake(ws, "-n", target, env=tool_env(ws, SCOREREPRO_DVC_INTEROP="0"))
    assert _reruns(control) == {"ncsn_toy_manifold"}
    res = snakemake(ws, "-n", target, *TARGETS)
    assert nothing_to_do(res), res.stdout + res.stderr


@pytest.mark.slow
def test_5_params_change_after_dvc_seen_by_snakemake(ws):
    """An output only DVC made has no Snakemake metadata, so Snakemake alone cannot see a params change; DVC can,
    and the interop makes Snakemake rerun the stage (and then records it, so neither side reruns it again)."""
    target = "results/ncsn/toy/fig1_manifold/metrics.json"
    params = ws / "params.yaml"
    params.write_text(params.read_text().replace("mnist_embedded, n_iters: 4", "mnist_embedded, n_iters: 5", 1))
    now = time.time()  # undo test 4's newer-looking input: only the params differ now
    _set_mtime(ws / "data/raw/mnist_embedded", now - 300)
    _set_mtime(ws / "data/processed/mnist_embedded", now - 200)

    control = snakemake(ws, "-n", target, env=tool_env(ws, SCOREREPRO_DVC_INTEROP="0"))
    assert nothing_to_do(control), "Snakemake alone misses the change"
    assert _reruns(snakemake(ws, "-n", target)) == {"ncsn_toy_manifold"}
    res = snakemake(ws, "--cores", "2", target)
    assert "dvc.lock now records" in res.stderr
    assert json.loads((ws / target).read_text())["settings"]["n_iters"] == 5
    assert nothing_to_do(snakemake(ws, "-n", target, *TARGETS))
    assert "up to date" in dvc(ws, "status", "ncsn_toy_manifold", *STAGES).stdout
