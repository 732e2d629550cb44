"""A diverged autoencoder carried through ae_mcmc's stages by the commands dvc.yaml runs (train with
--record-divergence -> chains -> figures -> summary) on the tiny profile with an exploding lr on one model: every
output says it diverged, the claims it feeds are untested naming the divergence, and the other models' results are
those of a run in which nothing diverged."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.text
import pandas as pd
import pytest
import yaml
from test_ae_mcmc_stages import fake_mnist, tiny_params

from scorerepro.cli import main
from scorerepro.pipeline.divergence import upstream_divergence
from scorerepro.training.divergence import Divergence, read_divergence

MODELS = ["vae", "dvae", "aae", "daae"]
FIGURES = ["fig4_samples.png", "fig2_interpolation.png", "chain_measures.png"]
ENCODER_CLAIM = "The AAE and DAAE encoders"


@pytest.fixture()
def figure_texts(monkeypatch) -> dict[str, list[str]]:
    """Every text drawn in each figure the figures stage saves, by file name (what the figure says in words)."""
    from scorerepro.papers.ae_mcmc.stages import figures

    texts: dict[str, list[str]] = {}
    save = figures.save_figure

    def recording_save(path, fig, **kwargs):
        texts[Path(path).name] = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        save(path, fig, **kwargs)

    monkeypatch.setattr(figures, "save_figure", recording_save)
    return texts


def run_stages(root: Path, exploded: str | None) -> None:
    """The tiny profile's ae_mcmc stages in DAG order in `root`, `exploded` (if any) trained with lr 1e6."""
    fake_mnist(root)
    params = tiny_params()
    if exploded:
        params["ae_mcmc"]["experiments"][exploded]["training"] = {"lr": 1.0e6, "epochs": 2}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = os.getcwd()
    os.chdir(root)
    try:
        for name in MODELS:
            assert main(["ae_mcmc", "train", name, "--record-divergence"]) == 0
        for name in MODELS:
            assert main(["ae_mcmc", "chains", name]) == 0
        assert main(["ae_mcmc", "figures"]) == 0
        assert main(["ae_mcmc", "summary"]) == 0
    finally:
        os.chdir(before)


def assert_says_diverged(res: Path, texts: dict, name: str, record: Divergence) -> None:
    """The figures and the summary name `name`'s divergence; its leaderboard rows stay, unscored."""
    for figure in FIGURES:
        assert (res / figure).stat().st_size > 0
        assert any(record.text() in t.replace("\n", " ") for t in texts[figure]), (figure, texts[figure])
    summary = pd.read_csv(res / "summary.csv")
    row = summary[summary["measure"] == "diverged"]
    assert list(row["experiment"]) == [name] and list(row["note"]) == [record.text()]
    assert f"{name.upper()}: not measured, {record.text()}" in (res / "summary.md").read_text()
    board = pd.read_csv(res / "leaderboard.csv")
    mine = board["experiment"] == name
    assert len(board) == 8 and mine.sum() == 2
    assert board.loc[mine, "setting"].str.contains(record.text(), regex=False).all()
    assert board.loc[mine, ["n_samples", "parzen_log_likelihood"]].isna().all().all()
    assert board.loc[~mine, "parzen_log_likelihood"].notna().all()


@pytest.mark.usefixtures("one_torch_thread")
def test_a_diverged_aae_is_carried_to_every_output_and_its_claims_are_untested(tmp_path, figure_texts, capsys,
                                                                               monkeypatch):
    run_stages(tmp_path, "aae")
    record = read_divergence(tmp_path / "models/ae_mcmc/aae")
    assert record is not None and record.bound is not None  # finite, past its bound
    assert "scorerepro ae_mcmc train: training diverged (recorded, exit 0" in capsys.readouterr().err
    res = tmp_path / "results/ae_mcmc"
    loss = pd.read_csv(res / "aae/loss.csv")  # the log up to the diverged step
    assert list(loss["step"])[-1] == record.step and "loss" in loss
    for output in (tmp_path / "samples/ae_mcmc/aae/chains.pt", res / "aae/chains.json"):
        assert upstream_divergence(output) == record
    assert_says_diverged(res, figure_texts, "aae", record)
    claims = pd.read_csv(res / "claims.csv")
    assert len(claims) == 6 and set(claims["holds"]) == {"untested"}  # each of the six claims uses the AAE
    assert claims["note"].str.contains("aae trained FAILED: training of models/ae_mcmc/aae diverged at step "
                                       f"{record.step}", regex=False).all()
    assert claims["note"].str.contains("beyond its bound").all()
    # DVC reruns the stage (say, after a code change): the recorded divergence again, the same outputs, exit 0
    monkeypatch.chdir(tmp_path)
    assert main(["ae_mcmc", "train", "aae", "--record-divergence"]) == 0
    assert pd.read_csv(res / "aae/loss.csv").equals(loss)


@pytest.mark.usefixtures("one_torch_thread")
def test_what_the_diverged_model_does_not_feed_reads_as_in_a_run_without_divergence(tmp_path, figure_texts):
    sane, diverged = tmp_path / "sane", tmp_path / "diverged"
    run_stages(sane, None)
    run_stages(diverged, "vae")
    record = read_divergence(diverged / "models/ae_mcmc/vae")
    assert record is not None
    for name in ("dvae", "aae", "daae"):
        for output in (f"results/ae_mcmc/{name}/chains.json", f"samples/ae_mcmc/{name}/chains.pt"):
            assert (sane / output).read_bytes() == (diverged / output).read_bytes(), output
    assert_says_diverged(diverged / "results/ae_mcmc", figure_texts, "vae", record)
    before = pd.read_csv(sane / "results/ae_mcmc/claims.csv")
    after = pd.read_csv(diverged / "results/ae_mcmc/claims.csv")
    encoders = after["claim"].str.startswith(ENCODER_CLAIM)
    # the encoder claim is decided on the adversarial models only: exactly as before; its context lists the VAE
    # as diverged instead of its numbers
    same = before[before["claim"].str.startswith(ENCODER_CLAIM)].drop(columns="measured")
    assert after[encoders].drop(columns="measured").equals(same)
    assert not after.loc[encoders, "note"].str.contains("diverged").any()
    assert after.loc[encoders, "measured"].str.startswith("vae: diverged; dvae: mean per-dim std").all()
    fed = after[~encoders]
    assert len(fed) == 5 and set(fed["holds"]) == {"untested"}
    assert fed["note"].str.contains("vae trained FAILED: training of models/ae_mcmc/vae diverged at step 2",
                                    regex=False).all()


def test_a_run_that_diverged_before_its_first_log_publishes_the_record_as_its_loss_csv(tmp_path, monkeypatch):
    from scorerepro.papers.ae_mcmc.stages.train import publish_diverged_loss_log
    from scorerepro.pipeline.divergence import write_diverged_outputs

    monkeypatch.chdir(tmp_path)
    record = Divergence("models/ae_mcmc/vae", "loss", 1, 8, None, None, "the training loss is nan at step 1")
    write_diverged_outputs(record, [tmp_path / "models/ae_mcmc/vae"], "ae_mcmc train vae")
    publish_diverged_loss_log("vae")
    assert pd.read_csv(tmp_path / "results/ae_mcmc/vae/loss.csv")["diverged"].tolist() == [record.text()]


def test_with_every_model_diverged_the_figures_and_summary_still_write_every_output(tmp_path, monkeypatch,
                                                                                   figure_texts):
    from scorerepro.papers.ae_mcmc.stages import figures, summary
    from scorerepro.pipeline.divergence import write_diverged_outputs

    monkeypatch.chdir(tmp_path)
    params = tiny_params()
    records = {n: Divergence(f"models/ae_mcmc/{n}", "loss", 2, 8, 3.0e9, 5.0e6, "...") for n in MODELS}
    for n, r in records.items():
        write_diverged_outputs(r, [Path(f"samples/ae_mcmc/{n}/chains.pt"), Path(f"results/ae_mcmc/{n}/chains.json")],
                               f"ae_mcmc chains {n}")
    figures.run(params)
    summary.run(params)
    res = tmp_path / "results/ae_mcmc"
    for figure in FIGURES:
        for r in records.values():
            assert any(r.text() in t.replace("\n", " ") for t in figure_texts[figure]), figure
    claims = pd.read_csv(res / "claims.csv")
    assert len(claims) == 6 and set(claims["holds"]) == {"untested"}
    assert claims["note"].str.contains("diverged at step 2").all()
    assert pd.read_csv(res / "summary.csv")["measure"].tolist() == ["diverged"] * 4
    assert pd.read_csv(res / "leaderboard.csv")["n_samples"].isna().all()
