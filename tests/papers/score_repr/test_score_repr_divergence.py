"""A diverged score_repr training carried down the DAG through the CLI, as DVC runs it, on the tiny profile with
fake MNIST: the stages after it exit 0 and write every output they declare, saying so; the claims the model feeds
become `untested` naming the divergence, and the others keep their verdicts. A sane chain is run once; each test
copies it, changes one setting and reruns what DVC would rerun after that change."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params
from scorerepro.papers.score_repr import claims, training
from scorerepro.papers.score_repr.stages.summary import experiment_line, leaderboard_scores
from scorerepro.papers.score_repr.stages.sweep import DIVERGED_RUNS, diverged_runs, std_of_means
from scorerepro.pipeline.divergence import marker, upstream_divergence
from scorerepro.training.divergence import Divergence

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_params.yaml"
EXPERIMENTS = ("uniform_t", "uniform_sigma", "unconditional", "uniform_t_28")
EVALUATE_OUTPUTS = ("figure.png", "loss.csv", "metrics.json")
SWEEP_OUTPUTS = ("silhouette.csv", "fig4_silhouette.png", "metrics.json")
# The claims each model feeds (claims.py: CODES_EXPERIMENT, SIGMA_EXPERIMENT, DIVERSITY_BY_DIM); the sweep feeds
# the silhouette claim, the toy the Gaussian one.
USES_UNIFORM_T = ("With t uniform, a code coordinate", "With t uniform, the codes carry", "Training on high noise",
                  "Eq. 6 on the training images", "Denoising x_t with", "Diversity of samples")
USES_UNIFORM_SIGMA = ("Training on high noise",)
USES_SWEEP = ("Silhouette of the codes vs single training t",)
RECORD = Divergence("models/score_repr/uniform_t", "loss", 2, 6, 3.1e5, 1.0e4, "the training loss ...")


def _fake_mnist(root: Path) -> None:
    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.data.preprocess import save_split

    d = root / "data" / "processed" / "mnist_embedded"
    g = torch.Generator().manual_seed(3)
    splits = {}
    for name, n in (("train", 64), ("test", 24)):
        save_split(d / f"{name}.pt", torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g),
                   torch.randint(0, 10, (n,), generator=g))
        splits[name] = {"file": f"{name}.pt", "shape": [n, 1, 28, 28], "sha256": sha256_file(d / f"{name}.pt")}
    write_json(d / "manifest.json", {"splits": splits})


def _write_params(root: Path, change=None) -> None:
    params = load_params(TINY)
    if change is not None:
        change(params["score_repr"])
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _stage(*args: str) -> None:
    assert main(["score_repr", *args]) == 0, args


@pytest.fixture(scope="module")
def sane(tmp_path_factory, one_torch_thread) -> Path:
    """Every score_repr stage of the tiny profile, in DAG order, with nothing diverging."""
    root = tmp_path_factory.mktemp("sane")
    _fake_mnist(root)
    _write_params(root)
    before = os.getcwd()
    os.chdir(root)
    try:
        _stage("toy")
        for exp in EXPERIMENTS:
            _stage("train", exp, "--record-divergence")
        _stage("sweep")
        for exp in EXPERIMENTS:
            _stage("evaluate", exp)
        _stage("summary")
    finally:
        os.chdir(before)
    return root


@pytest.fixture()
def workdir(sane, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "run"
    shutil.copytree(sane, root)
    monkeypatch.chdir(root)
    return root


def _claims(root: Path) -> dict[str, dict]:
    return {row["claim"]: row for row in csv.DictReader((root / "results/score_repr/claims.csv").open())}


def _uses(claim: str, prefixes) -> bool:
    return claim.startswith(tuple(prefixes))


def _assert_claims(before: dict, after: dict, uses, gate: str) -> None:
    """Claims that use the diverged model: untested, naming it; every other row exactly as before."""
    assert before.keys() == after.keys()
    for claim, row in after.items():
        if _uses(claim, uses):
            assert row["holds"] == "untested", row
            assert f"{gate} trained FAILED" in row["note"] and "diverged at step" in row["note"], row
        else:
            assert row == before[claim], claim


def _assert_says_diverged(paths) -> None:
    for path in paths:
        assert path.is_file(), path
        if path.suffix == ".csv":
            assert "diverged at step" in path.read_text(), path
        elif path.suffix == ".json":
            assert upstream_divergence(path) is not None, path
        else:
            assert path.read_bytes()[:4] == b"\x89PNG", path


def _nan_times(monkeypatch, when) -> None:
    """Training times that are NaN where when(mode, fixed_t): the loss is NaN from that step on (a divergence the
    learning rate cannot place in one phase or one sweep run)."""
    real = training.sample_t

    def sample_t(sde, mode, u, t_eps, fixed_t=None):
        t = real(sde, mode, u, t_eps, fixed_t)
        return t * math.nan if when(mode, fixed_t) else t

    monkeypatch.setattr(training, "sample_t", sample_t)


def test_an_exploding_lr_on_uniform_t_reaches_its_outputs_and_claims(workdir, capsys):
    before = _claims(workdir)
    board_before = (workdir / "results/score_repr/leaderboard.csv").read_text()
    _write_params(workdir, lambda p: p["experiments"]["uniform_t"]["training"].update(lr=10.0))
    _stage("train", "uniform_t", "--record-divergence")  # other settings: the sane run is moved aside
    _stage("evaluate", "uniform_t")
    assert "score_repr evaluate uniform_t: not run, training of models/score_repr/uniform_t diverged at step" \
        in capsys.readouterr().out
    _stage("summary")

    _assert_says_diverged(workdir / "results/score_repr/experiments/uniform_t" / f for f in EVALUATE_OUTPUTS)
    _assert_claims(before, _claims(workdir), USES_UNIFORM_T, "uniform_t")
    assert (workdir / "results/score_repr/leaderboard.csv").read_text() == board_before  # uniform_t_28's row
    summary = (workdir / "results/score_repr/summary.md").read_text()
    line = next(x for x in summary.splitlines() if x.startswith("| uniform_t |"))
    assert "diverged at step" in line and "beyond its bound" in line
    assert not (workdir / "models/score_repr/uniform_t/final.pt").exists()


def test_a_divergence_in_the_fine_tuning_phase_is_carried_like_one_in_the_first(workdir, monkeypatch):
    before = _claims(workdir)
    shutil.rmtree(workdir / "models/score_repr/uniform_sigma")  # as if its settings had changed
    with monkeypatch.context() as m:
        _nan_times(m, lambda mode, fixed_t: mode == "uniform_t")  # only the fine-tuning phase samples t uniformly
        _stage("train", "uniform_sigma", "--record-divergence")
    record = upstream_divergence(workdir / "models/score_repr/uniform_sigma")
    assert record.step == 5 and record.n_iters == 6 and record.value is None  # 4 first-phase steps + 2
    _stage("evaluate", "uniform_sigma")
    _stage("summary")

    _assert_says_diverged(workdir / "results/score_repr/experiments/uniform_sigma" / f for f in EVALUATE_OUTPUTS)
    _assert_claims(before, _claims(workdir), USES_UNIFORM_SIGMA, "uniform_sigma")


def test_a_diverged_sweep_run_is_recorded_and_the_sweep_goes_on(workdir, sane, monkeypatch):
    before = _claims(workdir)
    shutil.rmtree(workdir / "models/score_repr/sweep/t0.5_seed0")  # as if its settings had changed
    with monkeypatch.context() as m:
        _nan_times(m, lambda mode, fixed_t: fixed_t == 0.5)
        _stage("sweep")
    outputs = {name: (workdir / "results/score_repr/sweep" / name).read_bytes() for name in SWEEP_OUTPUTS}
    _stage("sweep")  # the rerun meets the recorded divergence again, without training
    assert outputs == {name: (workdir / "results/score_repr/sweep" / name).read_bytes() for name in SWEEP_OUTPUTS}
    _stage("summary")

    table = pd.read_csv(workdir / "results/score_repr/sweep/silhouette.csv")
    old = pd.read_csv(sane / "results/score_repr/sweep/silhouette.csv")
    hit = table["t"] == 0.5
    assert table.loc[hit, "silhouette"].isna().all() and "diverged at step 1" in table.loc[hit, "diverged"].item()
    pd.testing.assert_frame_equal(table.loc[~hit, old.columns], old[old["t"] != 0.5])  # the other runs kept
    metrics = json.loads((workdir / "results/score_repr/sweep/metrics.json").read_text())
    assert [(t, seed) for t, seed, _ in diverged_runs(metrics)] == [(0.5, 0)]
    _assert_claims(before, _claims(workdir), USES_SWEEP, "sweep run t=0.5 seed 0")


def test_an_exploding_lr_on_every_sweep_run_leaves_a_table_of_divergences(workdir):
    before = _claims(workdir)
    _write_params(workdir, lambda p: p["sweep"]["training"].update(lr=10.0))
    _stage("sweep")
    _stage("summary")
    table = pd.read_csv(workdir / "results/score_repr/sweep/silhouette.csv")
    assert table["silhouette"].isna().all() and table["diverged"].str.contains("beyond its bound").all()
    metrics = json.loads((workdir / "results/score_repr/sweep/metrics.json").read_text())
    assert len(metrics[DIVERGED_RUNS]) == 3
    assert all(math.isnan(v) for v in metrics["silhouette_mean"] + metrics["silhouette_std"])
    _assert_claims(before, _claims(workdir), USES_SWEEP, "sweep run t=0.2 seed 0")


# ----------------------------------------------------------------------------------------- the helpers, one each
def test_a_diverged_experiment_has_a_leaderboard_row_only_where_it_would_have_scored_samples():
    assert leaderboard_scores(marker(RECORD), {"evaluate": {"leaderboard_samples": 10}}) == {}
    assert leaderboard_scores(marker(RECORD), {"evaluate": {"leaderboard_samples": 0}}) is None
    assert leaderboard_scores({"leaderboard": {"n_samples": 10}}, {}) == {"n_samples": 10}
    assert leaderboard_scores({}, {}) is None


def test_a_diverged_experiment_line_shows_its_settings_and_the_divergence():
    line = experiment_line(load_params(TINY), "uniform_t", marker(RECORD))
    assert line["data"] == "mnist_embedded /2 (1, 14, 14)" and line["silhouette"] is None
    assert line["diverged"] == RECORD.text()
    assert "diverged" not in experiment_line(load_params(TINY), "uniform_t", {
        "dataset": "d", "pool": 1, "image_shape": [1, 2, 2], "code_dim": 2, "t_mode": "uniform_t"})


def test_diverged_runs_reads_the_sweep_metrics():
    assert diverged_runs({}) == []
    assert diverged_runs({DIVERGED_RUNS: [{"t": 0.5, "seed": 1, **marker(RECORD)}]}) == [(0.5, 1, RECORD)]


def test_a_claim_needing_a_diverged_model_is_untested_and_the_context_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from scorerepro.core.fileio import write_json
    from scorerepro.papers.score_repr.locations import results_dir

    params = {"score_repr": {"experiments": {claims.CODES_EXPERIMENT: {}, claims.UNCONDITIONAL_EXPERIMENT: {}}}}
    for name in params["score_repr"]["experiments"]:
        write_json(results_dir(name) / "metrics.json", marker(RECORD))
    gates = claims.diverged_gates(params, [claims.CODES_EXPERIMENT, claims.SIGMA_EXPERIMENT])
    assert [g.name for g in gates] == [f"{claims.CODES_EXPERIMENT} trained"]
    row = claims.claim_denoise_gap(params)
    assert row["holds"] == "untested" and RECORD.text() in row["note"] and RECORD.text() in row["gate"]
    assert claims.context(params)[0] == f"Eq. 6: not measured on the unconditional model: {RECORD.text()}."


def test_the_spread_of_a_t_whose_runs_all_diverged_is_unknown_not_zero():
    agg = pd.DataFrame({"t": [0.2, 0.5, 0.8], "mean": [0.1, math.nan, 0.3], "std": [0.02, math.nan, math.nan]})
    assert std_of_means(agg, []).tolist() == [0.02, 0.0, 0.0]  # as before: one run, no spread
    shown = std_of_means(agg, [{"t": 0.5}]).tolist()
    assert shown[0] == 0.02 and math.isnan(shown[1]) and shown[2] == 0.0
