"""A diverged infusion training carried down the DAG. Through the CLI on the tiny profile, as dvc.yaml runs the
stages: every declared output of each stage downstream of a diverged model exists and says so, a diverged sweep cell
does not stop the sweep, and exactly the claims a diverged model feeds become `untested`, naming the divergence; the
other claims read as in a sane run. Below them, the helpers that decide which claims a diverged sweep cell feeds."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params
from scorerepro.papers.infusion import claims as C
from scorerepro.papers.infusion.diverged_cells import DIVERGED, DIVERGENCE_RECORD, divergences, trained
from scorerepro.papers.infusion.stages import summary
from scorerepro.pipeline.divergence import FOLDER_RECORD, divergence_in, marker
from scorerepro.training.divergence import Divergence, read_divergence
from test_infusion_claims import _grid, _metrics, _sweep
from test_infusion_stages import TINY, _fake_splits

RES = Path("results/infusion")
EXPLODING = {"lr": 1.0e6, "n_iters": 6}  # diverges at step 2 (the sweep, which takes the model's lr, as well)
CELL = "T2_increasing_0"  # the omega = 0 cell at T = 2: only `infusion_vs_none` reads it
MAIN_CLAIMS = slice(0, 6)  # Table 2 and the Parzen claim: measured on the main model
CIFAR = 6  # needs no model of ours
SWEEP_CLAIMS = slice(7, 10)


def _diverged(text) -> bool:
    return isinstance(text, str) and "diverged at step" in text


def _params(path: Path, **training) -> Path:
    params = copy.deepcopy(load_params(TINY))
    params["infusion"]["eval"]["parzen_validation"] = 10
    params["infusion"]["model"]["training"].update(training)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _run(*command: str, params: str = "params.yaml") -> None:
    assert main(["infusion", *command, "--params", params]) == 0


def _claims() -> pd.DataFrame:
    return pd.read_csv(RES / "claims.csv")


@pytest.fixture(scope="module")
def sane(tmp_path_factory, one_torch_thread):
    """A workspace in which every infusion stage ran on sane settings."""
    ws = tmp_path_factory.mktemp("sane")
    _fake_splits(ws)
    _params(ws / "params.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ws)
        for stage in (["train", "--record-divergence"], ["sweep"], ["evaluate"], ["summary"]):
            _run(*stage)
    return ws


@pytest.fixture()
def copy_of(tmp_path, monkeypatch):
    """Work in a copy of a workspace."""
    def make(ws: Path) -> Path:
        shutil.copytree(ws, tmp_path / "ws")
        monkeypatch.chdir(tmp_path / "ws")
        return tmp_path / "ws"
    return make


def test_a_diverged_main_model_reaches_every_output_and_only_its_claims(sane, copy_of):
    ws = copy_of(sane)
    shutil.rmtree(ws / "models/infusion/main")
    _params(ws / "exploding.yaml", **EXPLODING)
    _run("train", "--record-divergence", params="exploding.yaml")
    record = read_divergence(ws / "models/infusion/main")
    assert record is not None and not (ws / "models/infusion/main/final.pt").exists()
    # The sweep does not read the main model: its outputs stay the sane run's.
    _run("evaluate")
    _run("summary")

    loss = pd.read_csv(RES / "train_loss.csv")  # the log up to the divergence
    assert loss["step"].iloc[-1] == record.step and loss["loss"].iloc[-1] == pytest.approx(record.value)
    assert divergence_in(json.loads((RES / "metrics.json").read_text())) == record
    for folder in (Path("samples/infusion/main"), RES / "figures"):
        assert json.loads((folder / FOLDER_RECORD).read_text()) == record.to_dict()
    assert record.text() in (RES / "summary.md").read_text()
    assert (pd.read_csv(RES / "summary.csv")["ours"] == "diverged").sum() == 6
    board = pd.read_csv(RES / "leaderboard.csv")
    assert len(board) == 1 and _diverged(board["setting"].iloc[0]) and board["n_samples"].isna().all()
    assert board["dataset"].iloc[0] == "mnist_embedded"

    claims, before = _claims(), pd.read_csv(sane / RES / "claims.csv")
    main_rows = claims.iloc[MAIN_CLAIMS]
    assert (main_rows["holds"] == "untested").all()
    assert main_rows["note"].map(_diverged).all() and main_rows["gate"].map(_diverged).all()
    pd.testing.assert_frame_equal(claims.iloc[CIFAR:], before.iloc[CIFAR:])


def test_a_diverged_sweep_cell_is_recorded_and_the_sweep_goes_on(sane, copy_of, monkeypatch):
    from scorerepro.papers.infusion.stages import sweep

    ws = copy_of(sane)
    shutil.rmtree(ws / "models/infusion/sweep")
    real = sweep.train_model

    def one_cell_explodes(block, images, seed, device, out_dir, name, **kwargs):
        if name == CELL:
            block = {**block, "training": {**block["training"], "lr": EXPLODING["lr"]}}
        return real(block, images, seed, device, out_dir, name, **kwargs)

    monkeypatch.setattr(sweep, "train_model", one_cell_explodes)
    _run("sweep")
    first = {f: (RES / f).read_bytes() for f in ("table4.csv", "table4_points.csv", "table4_heatmap.png")}
    _run("sweep")  # the cell's record raises again without training: caught the same way
    assert {f: (RES / f).read_bytes() for f in first} == first
    _run("summary")

    record = read_divergence(ws / "models/infusion/sweep" / CELL)
    table, before = pd.read_csv(RES / "table4.csv"), pd.read_csv(sane / RES / "table4.csv")
    hit = (table["n_steps"] == 2) & (table["schedule"] == "increasing") & (table["rate"] == 0)
    assert hit.sum() == 1 and table.loc[hit, "test_lower_bound"].isna().all()
    assert table.loc[hit, DIVERGED].iloc[0] == record.text() and table.loc[~hit, DIVERGED].isna().all()
    pd.testing.assert_frame_equal(table.loc[~hit, before.columns], before[~hit.to_numpy()])
    points = pd.read_csv(RES / "table4_points.csv")
    assert points[points[DIVERGED].notna()]["test_lower_bound"].isna().all()
    assert (points[DIVERGED] == record.text()).sum() == (points["point"].max() + 1)

    claims, sane_claims = _claims(), pd.read_csv(sane / RES / "claims.csv")
    cut = claims["claim"] == C.INFUSION_VS_NONE[0]
    assert claims.loc[cut, "holds"].tolist() == ["untested"] and _diverged(claims.loc[cut, "note"].iloc[0])
    assert "T=2, increasing 0)" in claims.loc[cut, "gate"].iloc[0]
    pd.testing.assert_frame_equal(claims[~cut], sane_claims[~cut])
    assert "T=2: diverged" in (RES / "summary.md").read_text()


def test_when_every_training_diverges_every_claim_of_a_model_is_untested(tmp_path, monkeypatch, one_torch_thread):
    _fake_splits(tmp_path)
    _params(tmp_path / "params.yaml", **EXPLODING)
    monkeypatch.chdir(tmp_path)
    _run("train", "--record-divergence")
    (RES / "train_loss.csv").unlink()
    _run("train", "--record-divergence")  # the recorded divergence again, without training
    assert (RES / "train_loss.csv").is_file()
    for stage in ("sweep", "evaluate", "summary"):
        _run(stage)

    table = pd.read_csv(RES / "table4.csv")
    assert table["test_lower_bound"].isna().all() and table[DIVERGED].map(_diverged).all()
    assert len(divergences(table)) == len(table) and trained(table).empty
    assert pd.read_csv(RES / "table4_points.csv")[DIVERGED].map(_diverged).all()
    assert (RES / "table4_heatmap.png").stat().st_size > 0
    assert "cells diverged" in (RES / "summary.md").read_text()
    claims = _claims()
    model_rows = claims.drop(index=CIFAR)
    assert (model_rows["holds"] == "untested").all() and model_rows["note"].map(_diverged).all()
    assert not _diverged(claims["note"].iloc[CIFAR])


# ------------------------------------------------------------------------------------ the helpers, on toy numbers
RECORD = Divergence("models/infusion/sweep/cell", "loss", 2, 3, 113.1, 4.0, "the training loss is 113.1 ...")


def _diverge(table: pd.DataFrame, points: pd.DataFrame, T: int, schedule: str, rate: float):
    """The sweep's tables as the stage writes them when that cell diverged."""
    table, points = table.copy(), points.copy()
    for frame in (table, points):
        hit = (frame["n_steps"] == T) & (frame["schedule"] == schedule) & np.isclose(frame["rate"], rate)
        frame.loc[hit, "test_lower_bound"] = np.nan
        frame[DIVERGED] = np.where(hit, RECORD.text(), None)
    table[DIVERGENCE_RECORD] = np.where(table[DIVERGED].notna(), json.dumps(RECORD.to_dict()), None)
    return table, points


def test_trained_and_divergences_read_the_diverged_columns():
    table, points = _sweep(_grid(650, 900, 800, 650, 880, 800))
    assert trained(table) is table and divergences(table) == []
    table, points = _diverge(table, points, 5, "increasing", 0.0)
    assert len(trained(table)) == len(table) - 1 and trained(points)["test_lower_bound"].notna().all()
    assert divergences(table) == [({"n_steps": 5, "schedule": "increasing", "rate": 0.0}, RECORD)]


@pytest.mark.parametrize("cell, untested", [
    ((5, "increasing", 0.0), {C.INFUSION_VS_NONE[0]}),  # read by that claim only
    ((10, "constant", 0.05), {C.INFUSION_VS_NONE[0], C.INCREASING_VS_CONSTANT[0], C.BEST_OMEGA_FALLS[0]}),
])
def test_a_diverged_cell_leaves_untested_exactly_the_claims_that_read_it(cell, untested):
    table, points = _sweep(_grid(650, 900, 800, 650, 880, 800))
    sane_rows = {r["claim"]: r for r in C.sweep_claims(table, points)}
    assert {r["holds"] for r in sane_rows.values()} == {"yes"}
    for row in C.sweep_claims(*_diverge(table, points, *cell)):
        if row["claim"] in untested:
            assert row["holds"] == "untested" and _diverged(row["note"]) and _diverged(row["gate"])
        else:
            assert row == sane_rows[row["claim"]]


def test_a_diverged_main_model_leaves_its_claims_untested_and_the_rest_as_they_were():
    m = {**marker(RECORD), "dataset": "toy", "setting": "T=2"}
    rows, sane_rows = C.model_claims(m), C.model_claims(_metrics(900.0))
    assert [r["claim"] for r in rows] == [r["claim"] for r in sane_rows]
    assert all(r["holds"] == "untested" and _diverged(r["note"]) for r in rows[MAIN_CLAIMS])
    assert rows[CIFAR] == sane_rows[CIFAR]
    assert C.context_lines(m, _sweep(_grid(650, 900, 800, 650, 880, 800))[0])[0].endswith(RECORD.text() + ".")


def test_the_summary_counts_diverged_cells_and_keeps_an_unscored_leaderboard_row():
    table, points = _diverge(*_sweep(_grid(650, 900, 800, 650, 880, 800)), 5, "increasing", 0.1)
    row = summary.table4_row(table, 5, "omega 0.1", 1448.66)
    assert row["ours"].endswith("1 of 4 cells diverged") and "(increasing 0.03)" in row["ours"]
    board = summary.leaderboard_rows({"profile": "tiny"}, {**marker(RECORD), "dataset": "toy", "setting": "T=2"})
    assert board["setting"].iloc[0] == f"T=2; {RECORD.text()}" and board["n_samples"].isna().all()


def test_a_diverged_run_folder_without_a_loss_log_still_gives_the_loss_csv(tmp_path, monkeypatch):
    from scorerepro.core.fileio import write_json
    from scorerepro.papers.infusion.stages import train

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    write_json(run / "diverged.json", RECORD.to_dict())
    train.publish_diverged_loss_log(run)
    assert RECORD.text() in (RES / "train_loss.csv").read_text()
    (run / "loss.csv").write_text("step,loss,lr\n1,0.5,1.0\n2,113.1,1.0\n")
    train.publish_diverged_loss_log(run)
    assert (RES / "train_loss.csv").read_text() == (run / "loss.csv").read_text()


def test_a_sweep_cell_gives_its_record_and_an_unrecorded_error_stands(tmp_path, monkeypatch):
    from scorerepro.core.fileio import write_json
    from scorerepro.papers.infusion.stages import sweep
    from scorerepro.training.train_errors import NonFiniteLossError

    def diverges(*args, **kwargs):
        raise NonFiniteLossError(2, float("nan"), "the training loss is nan at step 2")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sweep, "train_model", diverges)
    with pytest.raises(NonFiniteLossError):
        sweep.train_cell({}, None, 0, "cpu", "cell")
    write_json(sweep.sweep_dir() / "cell" / "diverged.json", RECORD.to_dict())
    assert sweep.train_cell({}, None, 0, "cpu", "cell") == RECORD
