"""Train on the cluster, read on the laptop, through a DVC remote on a shared folder (README: "Train on the cluster,
read on your laptop"). Three folders stand for a lab's set-up: a bare git repository (the lab's git server), a
folder used as the DVC remote (the cluster's shared filesystem) and two clones of the project.

The "cluster" clone adds the remote, runs part of the tiny DAG (download, preprocess, NCSN training and a toy
study; the commands are the same for the whole DAG), commits, changes a parameter and runs again, runs a DVC
experiment, and pushes all of it (`git push`, `dvc push`, `dvc exp push`). The "laptop" clone pulls (`dvc pull`,
`dvc exp pull`), after which neither `dvc repro` nor `snakemake -n` has anything to do, `dvc metrics diff` against
the earlier commit shows the change, `dvc exp show` lists the cluster's experiment and the checkpoints and figures
are there, byte for byte the cluster's."""

from __future__ import annotations

import filecmp
import json
import subprocess
from pathlib import Path

import pytest

from workflow_helpers import dvc, make_workspace, nothing_to_do, run, snakemake, tool_env

pytestmark = pytest.mark.slow

STAGES = ["ncsn_train@tiny_ncsn", "ncsn_toy@fig2_scores"]
TARGETS = ["models/ncsn/tiny_ncsn/outcome.json", "results/ncsn/toy/fig2_scores/metrics.json"]
TOY_METRICS = "results/ncsn/toy/fig2_scores/metrics.json"
EXP_NAME = "fig2-longer"


def _git(ws: Path, *args: str):
    return run(["git", *args], ws, env=tool_env(ws))


def _commit(ws: Path, message: str) -> None:
    _git(ws, "add", "-A")
    _git(ws, "commit", "-qm", message)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    server, remote = root / "server.git", root / "shared" / "dvc-remote"
    run(["git", "init", "-q", "--bare", str(server)], root)
    remote.mkdir(parents=True)

    cluster = make_workspace(root / "cluster", dvc=True)
    with open(cluster / ".git" / "info" / "exclude", "a") as f:  # the tools' caches (tool_env), not the project's
        f.write("/.dvc-site-cache/\n/.cache/\n")
    _git(cluster, "rm", "-rq", "--cached", "--ignore-unmatch", ".dvc-site-cache", ".cache")
    dvc(cluster, "remote", "add", "-d", "shared", str(remote))
    _git(cluster, "remote", "add", "origin", str(server))
    _commit(cluster, "shared remote")

    dvc(cluster, "repro", *STAGES, timeout=900)
    _commit(cluster, "first run")
    dvc(cluster, "params", "diff")  # a readable repository, before the change
    text = (cluster / "params.yaml").read_text()
    old = "fig2_scores: {n_iters: 5,"
    assert text.count(old) == 1
    (cluster / "params.yaml").write_text(text.replace(old, "fig2_scores: {n_iters: 6,"))
    dvc(cluster, "repro", *STAGES, timeout=900)
    _commit(cluster, "fig2: 6 iterations")
    dvc(cluster, "exp", "run", "-n", EXP_NAME, "-S", "ncsn.toy.fig2_scores.n_iters=8", "ncsn_toy@fig2_scores",
        timeout=900)

    _git(cluster, "push", "-q", "origin", "HEAD:main")
    dvc(cluster, "push", "--with-deps", *STAGES)
    dvc(cluster, "exp", "push", "origin", EXP_NAME)

    laptop = root / "laptop"
    run(["git", "clone", "-q", "-b", "main", str(server), str(laptop)], root)
    dvc(laptop, "pull", "--with-deps", *STAGES)  # the stages that ran; after a whole run, plain `dvc pull`
    dvc(laptop, "exp", "pull", "origin", EXP_NAME)
    return cluster, laptop, remote


def test_the_remote_holds_the_checkpoints_and_data(lab):
    cluster, laptop, remote = lab
    assert any(remote.rglob("*")), "dvc push wrote nothing to the remote"
    for out in ["models/ncsn/tiny_ncsn/final.pt", "models/ncsn/tiny_ncsn/checkpoints/checkpoint_4.pt",
                "data/processed/mnist_embedded/train.pt"]:
        assert filecmp.cmp(cluster / out, laptop / out, shallow=False), out


def test_after_the_pull_nothing_is_left_to_run(lab):
    _, laptop, _ = lab
    status = dvc(laptop, "status", *STAGES)
    assert "up to date" in status.stdout, status.stdout
    res = dvc(laptop, "repro", *STAGES)
    assert "Running stage" not in res.stdout, res.stdout
    dry = snakemake(laptop, "--profile", "workflow/executors/local", "-n", *TARGETS)
    assert nothing_to_do(dry), dry.stdout[-3000:]


def test_metrics_diff_against_the_earlier_commit(lab):
    _, laptop, _ = lab
    diff = json.loads(dvc(laptop, "metrics", "diff", "HEAD~1", "--targets", TOY_METRICS, "--json").stdout)
    changes = diff[TOY_METRICS]
    assert changes["settings.n_iters"] == {"old": 5, "new": 6, "diff": 1}


def test_the_clusters_experiment_shows_on_the_laptop(lab):
    _, laptop, _ = lab
    shown = dvc(laptop, "exp", "show", "--md", "--only-changed").stdout
    assert EXP_NAME in shown, shown
    rows = json.loads(dvc(laptop, "exp", "show", "--json").stdout)
    exps = [e for row in rows for e in (row.get("experiments") or [])]
    assert any(e.get("name") == EXP_NAME for e in exps), [e.get("name") for e in exps]


def test_the_figures_are_there(lab):
    """The laptop's figures are the pushed commit's (the cluster's workspace now holds its experiment's)."""
    cluster, laptop, _ = lab
    for fig in ["results/ncsn/toy/fig2_scores/fig2_scores.png", "results/ncsn/tiny_ncsn/fig12_loss.csv"]:
        pushed = subprocess.run(["git", "show", f"HEAD:{fig}"], cwd=cluster, capture_output=True, check=True).stdout
        assert (laptop / fig).read_bytes() == pushed, fig
    assert (laptop / "results/ncsn/toy/fig2_scores/fig2_scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
