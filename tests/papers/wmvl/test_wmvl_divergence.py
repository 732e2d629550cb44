"""A WMVL autoencoder whose training diverges, carried through the stages as DVC runs them (scorerepro.cli.main): its
evaluate outputs and its summary, leaderboard and claims rows say so, the claims that compare it become untested
naming the divergence, and every other claim reads as it did before the model diverged."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params
from scorerepro.pipeline.divergence import upstream_divergence
from scorerepro.training.divergence import DIVERGED_NAME, Divergence

REPO = Path(__file__).resolve().parents[3]
TINY = REPO / "tests" / "fixtures" / "tiny_params.yaml"
SYNTHETIC = ("banana", "cosine", "circle", "sphere")
EXPLODE = {"lr": 1.0e6, "n_iters": 6}

# The claims that compare each model the tests make diverge (with the experiments of `all_models_params`).
USED_BY = {
    "wae_gan_sph8": ["WAE (wae_gan): the spherical prior gives a lower FID than the Gaussian one",
                     "WAE (sphere prior): MVL gives a lower FID than WAE-GAN"],
    "vae_explicit_sph8": ["The implicit hyperspherical VAE has the lowest test NLL (n_z=2)"],
}


def fake_mnist(root: Path, n_train: int = 64, n_test: int = 24) -> None:
    import torch

    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.data.preprocess import save_split

    d = root / "data" / "processed" / "mnist_embedded"
    g = torch.Generator().manual_seed(3)
    splits = {}
    for name, n in (("train", n_train), ("test", n_test)):
        images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
        save_split(d / f"{name}.pt", images, torch.randint(0, 10, (n,), generator=g))
        splits[name] = {"file": f"{name}.pt", "shape": [n, 1, 28, 28], "sha256": sha256_file(d / f"{name}.pt")}
    write_json(d / "manifest.json", {"splits": splits})


def all_models_params() -> dict:
    """The tiny profile with every autoencoder of Tables 1 and 2 (n_z=2), so that every model claim compares."""
    params = copy.deepcopy(load_params(TINY))
    experiments = params["wmvl"]["experiments"]
    for kind in ("vae_explicit", "vae_implicit", "wae_mvl", "wae_gan"):
        for latent, short in (("euclidean", "euc"), ("sphere", "sph")):
            experiments.setdefault(f"{kind}_{short}8", {"model": {"kind": kind, "latent": latent, "latent_dim": 2},
                                                        "training": {}, "eval": {}})
    return params


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run(*command: str) -> None:
    assert main(list(command)) == 0, command


def in_dir(root: Path, *commands: tuple[str, ...]) -> None:
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    before = os.getcwd()
    os.chdir(root)
    try:
        # One BLAS thread: the FID bootstrap's many small eigvalsh calls ran 4-10x slower on a busy 2-core machine
        # with OpenBLAS's second thread spinning.
        with threadpool_limits(limits=1):
            for command in commands:
                run(*command)
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def sane(tmp_path_factory, one_torch_thread) -> Path:
    """Every wmvl stage in DAG order on the tiny profile, nothing diverged (with the MNIST classifier the FIDs need)."""
    root = tmp_path_factory.mktemp("sane")
    fake_mnist(root)
    params = all_models_params()
    write_params(root, params)
    names = list(params["wmvl"]["experiments"])
    in_dir(root, ("classifier", "mnist_embedded"), *[("wmvl", "synthetic", s) for s in SYNTHETIC],
           *[("wmvl", "train", n, "--record-divergence") for n in names],
           *[("wmvl", "evaluate", n) for n in names], ("wmvl", "summary"))
    return root


def diverge(sane: Path, root: Path, name: str) -> Divergence:
    """The sane workspace with `name`'s lr exploded, and the stages that change rerun as DVC would: its train, its
    evaluate, the summary."""
    shutil.copytree(sane, root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["wmvl"]["experiments"][name]["training"] = dict(EXPLODE)
    write_params(root, params)
    in_dir(root, ("wmvl", "train", name, "--record-divergence"), ("wmvl", "evaluate", name), ("wmvl", "summary"))
    record = upstream_divergence(root / "models" / "wmvl" / name)
    assert record is not None
    return record


@pytest.mark.parametrize("name", list(USED_BY))
def test_a_diverged_model_is_carried_to_every_output_and_makes_its_claims_untested(sane, tmp_path, name):
    root = tmp_path / "diverged"
    record = diverge(sane, root, name)
    res = root / "results" / "wmvl"
    assert (root / "models" / "wmvl" / name / DIVERGED_NAME).is_file()
    assert not (root / "models" / "wmvl" / name / "final.pt").exists()
    # wmvl evaluate: both declared outputs, in place of metrics and samples
    assert upstream_divergence(res / "models" / name / "metrics.json") == record
    assert (res / "models" / name / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert (res / "models" / name / "samples.png").read_bytes() != \
        (sane / "results" / "wmvl" / "models" / name / "samples.png").read_bytes()
    for other in (res / "models").iterdir():
        for f in ("metrics.json", "samples.png"):
            same = (other / f).read_bytes() == (sane / "results" / "wmvl" / "models" / other.name / f).read_bytes()
            assert same == (other.name != name), other / f
    # wmvl summary: the model's rows stay, without numbers, naming the divergence
    summary = pd.read_csv(res / "summary.csv")
    rows = summary[summary["experiment"] == name]
    assert len(rows) == (2 if name.startswith("vae") else 1)
    assert rows["value"].isna().all() and (rows["ours_on"] == record.text()).all()
    assert record.text() in (res / "summary.md").read_text()
    board = pd.read_csv(res / "leaderboard.csv")
    row = board[board["experiment"] == name].iloc[0]
    assert pd.isna(row["fid_mnist_classifier"]) and pd.isna(row["n_samples"])
    assert row["setting"].endswith(f"; {record.text()}") and "diverged at step" in row["setting"]
    # the claims: untested where they compare the model, as before everywhere else
    claims = pd.read_csv(res / "claims.csv")
    before = pd.read_csv(sane / "results" / "wmvl" / "claims.csv")
    uses = claims["claim"].isin(USED_BY[name])
    assert uses.sum() == len(USED_BY[name])
    for _, r in claims[uses].iterrows():
        assert r["holds"] == "untested"
        assert f"{name} trained FAILED: training of " in r["note"] and "diverged at step" in r["note"]
    pd.testing.assert_frame_equal(claims[~uses], before[~before["claim"].isin(USED_BY[name])])
    assert not before["note"].fillna("").str.contains("diverged").any()


RECORD = Divergence("models/wmvl/wae_gan_sph8", "reconstruction", 2, 6, 4.2e9, 5.5e6, "the training loss ...")


def _wae(kind: str, latent: str, divergence: Divergence | None = None) -> dict:
    metrics = {} if divergence else {"fid_mnist_classifier": 20.0, "fid_mnist_classifier_se": 1.0, "n_samples": 100,
                                     "fid_mnist_classifier_real_same_n": 5.0}
    return {"kind": kind, "latent": latent, "latent_dim": 8, "metrics": metrics, "divergence": divergence}


def test_diverged_claim_is_untested_naming_each_divergence():
    from scorerepro.papers.wmvl.claims import diverged_claim

    row = diverged_claim("c", "s", {"a": RECORD, "b": RECORD}, "also a note")
    assert row["holds"] == "untested" and row["measured"] == "no comparison: a, b diverged in training"
    assert row["note"].count("diverged at step 2 of 6") == 2 and "a trained FAILED" in row["note"]
    assert row["note"].endswith("also a note")


@pytest.mark.parametrize("partner", [True, False], ids=["both models", "one model in the profile"])
def test_a_fid_claim_with_a_diverged_model_names_it(partner):
    from scorerepro.papers.wmvl.claims import fid_claim

    sphere, euclidean = {"kind": "wae_gan", "latent": "sphere"}, {"kind": "wae_gan", "latent": "euclidean"}
    models = {"gan_sph": _wae("wae_gan", "sphere"), "gan_euc": _wae("wae_gan", "euclidean")}
    assert fid_claim(models, sphere, euclidean, "c")["holds"] == "inconclusive"
    models["gan_sph"] = _wae("wae_gan", "sphere", RECORD)
    if not partner:
        del models["gan_euc"]
    row = fid_claim(models, sphere, euclidean, "c")
    assert row["holds"] == "untested" and "gan_sph trained FAILED" in row["note"]
    assert ("do not include both models" in row["note"]) != partner


def test_the_table1_claim_with_a_diverged_vae_names_it():
    from scorerepro.papers.wmvl.claims import table1_claim

    models = {"ie": {**_wae("vae_implicit", "sphere"), "latent_dim": 2},
              "ee": {**_wae("vae_explicit", "euclidean", RECORD), "latent_dim": 2}}
    row = table1_claim(models, 2)
    assert row["holds"] == "untested" and "ee trained FAILED" in row["note"]
    assert table1_claim(models, 8)["note"].startswith("not all four VAEs")


def test_a_diverged_models_summary_row_has_no_numbers():
    from scorerepro.papers.wmvl.stages.summary import _measured
    from scorerepro.pipeline.divergence import marker

    assert _measured(marker(RECORD), "nll_ais", "nll_ais_sem", lambda: "x") == (None, None, RECORD.text())
    assert _measured({"nll_ais": 90.0, "nll_ais_sem": 1.0}, "nll_ais", "nll_ais_sem", lambda: "x") == (90.0, 1.0, "x")
