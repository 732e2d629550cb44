"""A training that diverges in every paper, through `dvc repro` on the tiny profile: the DAG runs to the end
(exit 0), every stage downstream of a diverged model writes outputs that say so, the claims those models feed are
`untested` naming the step, loss and bound, and both front ends then call the workspace up to date. Lowering the
learning rate again trains afresh and the divergence leaves the tables."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from scorerepro.papers import PAPERS
from workflow_helpers import TINY_PARAMS, dvc, make_workspace, nothing_to_do, snakemake

pytestmark = pytest.mark.slow

# (block of params.yaml, what makes its training explode): one model per paper where the params allow it.
EXPLODING = [
    ("ncsn.experiments.tiny_ncsn.training", {"lr": 1.0e3, "n_iters": 6}),
    ("ae_mcmc.defaults.training", {"lr": 1.0e6, "epochs": 2, "batch_size": 16}),
    # On the real digits infusion's per-step batch norm keeps the loss near its start at lr 1e6 (its learned gate
    # fails instead); 1e20 makes it NaN at step 2. The sweep takes the same lr.
    ("infusion.model.training", {"lr": 1.0e20, "n_iters": 6}),
    ("score_repr.defaults.training", {"lr": 10.0}),  # every experiment, so the one with leaderboard samples too
    ("wmvl.experiments.wae_gan_sph8.training", {"lr": 1.0e6, "n_iters": 6}),
]


def _exploding_params() -> str:
    params = yaml.safe_load(TINY_PARAMS.read_text())
    for block, change in EXPLODING:
        node = params
        for key in block.split("."):
            node = node[key]
        node.update(change)
    return yaml.safe_dump(params, sort_keys=False)


def _diverged(text) -> bool:
    return isinstance(text, str) and "diverged at step" in text


def test_a_diverged_training_in_every_paper_runs_the_dag_through_to_untested_claims(tmp_path):
    ws = make_workspace(tmp_path / "ws", _exploding_params(), dvc=True)
    res = dvc(ws, "repro", timeout=1500)
    assert res.stderr.count("training diverged (recorded, exit 0") >= len(PAPERS), res.stderr[-3000:]
    claims = pd.read_csv(ws / "results" / "claims.csv")
    for paper in PAPERS:
        rows = claims[claims["paper"] == paper]
        hit = rows[rows["gate"].map(_diverged)]
        assert len(hit) >= 1, f"{paper}: no claim names a diverged training"
        assert set(hit["holds"]) == {"untested"}, hit[["claim", "holds"]]
        assert hit["note"].map(_diverged).all()
    assert "training(s) diverged" in (ws / "results" / "claims.md").read_text()
    board = pd.read_csv(ws / "results" / "leaderboard.csv")
    gone = board[board["setting"].map(_diverged)]
    assert set(gone["paper"]) == set(PAPERS) and gone["fid_mnist_classifier"].isna().all(), gone
    assert not list((ws / "models" / "wmvl" / "wae_gan_sph8").glob("final.pt"))
    # Both front ends agree that the workspace is up to date.
    assert dvc(ws, "status").stdout.strip() == "Data and pipelines are up to date."
    assert nothing_to_do(snakemake(ws, "--profile", "workflow/executors/local", "-n"))

    # A sane learning rate again: the diverged run moves aside, trains afresh, and its claims are decided again.
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["wmvl"]["experiments"]["wae_gan_sph8"]["training"] = {}
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(ws, "repro", timeout=900)
    wmvl = pd.read_csv(ws / "results" / "wmvl" / "claims.csv")
    assert not wmvl["gate"].map(_diverged).any() and not wmvl["note"].map(_diverged).any()
    assert (ws / "models" / "wmvl" / "wae_gan_sph8" / "final.pt").is_file()
    assert list((ws / "models" / "wmvl").glob("wae_gan_sph8.superseded/*/diverged.json"))


def test_snakemake_runs_a_diverged_training_to_its_untested_claims(tmp_path):
    """The same through the other front end: the diverged job succeeds (outcome.json is its marker), the jobs after
    it run, and the closing `dvc commit` leaves DVC agreeing."""
    params = yaml.safe_load(TINY_PARAMS.read_text())
    params["wmvl"]["experiments"]["wae_gan_sph8"]["training"] = {"lr": 1.0e6, "n_iters": 6}
    ws = make_workspace(tmp_path / "ws", yaml.safe_dump(params, sort_keys=False), dvc=True)
    snakemake(ws, "--profile", "workflow/executors/local", "--cores", "2", "results/wmvl/claims.csv", timeout=900)
    run_dir = ws / "models" / "wmvl" / "wae_gan_sph8"
    assert (run_dir / "diverged.json").is_file() and not (run_dir / "final.pt").exists()
    assert '"diverged"' in (run_dir / "outcome.json").read_text()
    claims = pd.read_csv(ws / "results" / "wmvl" / "claims.csv")
    hit = claims[claims["gate"].map(_diverged)]
    assert len(hit) >= 1 and set(hit["holds"]) == {"untested"}
    assert nothing_to_do(snakemake(ws, "--profile", "workflow/executors/local", "-n", "results/wmvl/claims.csv"))
    assert "wmvl_train@wae_gan_sph8" not in dvc(ws, "status", "wmvl_summary").stdout
