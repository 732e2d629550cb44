"""A diverged NCSN training carried down the DAG, through the CLI as DVC runs it, on the tiny profile with an
exploding learning rate: `ncsn train --record-divergence` exits 0, every stage downstream writes each output it
declares saying so, and the summary's claims about the model are untested, naming the step, the loss and the bound.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params
from scorerepro.pipeline.divergence import FOLDER_RECORD, marker, upstream_divergence
from scorerepro.training.divergence import Divergence, read_divergence

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_params.yaml"
EXP = "tiny_ncsn"
EXPLODING = {"lr": 1.0e3, "n_iters": 6}
RECORD = Divergence("models/ncsn/x", "loss", 2, 6, 2.3e18, 4.1e6, "the training loss ...")


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def _fake_mnist(root: Path) -> None:
    """Processed mnist_embedded train and test splits of random digits (the inpaint stage reads the test split)."""
    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.data.preprocess import save_split

    d = root / "data" / "processed" / "mnist_embedded"
    g = torch.Generator().manual_seed(3)
    splits = {}
    for name, n in (("train", 32), ("test", 8)):
        save_split(d / f"{name}.pt", torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g), None)
        splits[name] = {"file": f"{name}.pt", "shape": [n, 1, 28, 28], "sha256": sha256_file(d / f"{name}.pt")}
    write_json(d / "manifest.json", {"splits": splits})


@pytest.fixture
def workdir(tmp_path):
    _fake_mnist(tmp_path)
    before = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(before)


def _write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _run(*command: str) -> None:
    assert main(["ncsn", *command]) == 0, command


def _downstream(exp: str) -> list[tuple[str, ...]]:
    """The stage commands downstream of `exp`'s training, in DAG order, as dvc.yaml runs them (shards 0 and 1)."""
    return [("select_sample", exp, "0"), ("select_sample", exp, "1"), ("select", exp), ("sample", exp, "0"),
            ("sample", exp, "1"), ("evaluate", exp), ("neighbours", exp), ("inpaint", exp), ("figures", exp)]


@pytest.fixture
def notes(monkeypatch) -> dict[Path, str]:
    """{figure path: its note} of every figure drawn as a note (what write_diverged_outputs draws), by cwd path."""
    from scorerepro.plots import images

    drawn, real = {}, images.note_figure

    def recording(path, title, note):
        drawn[Path(path)] = note
        real(path, title, note)

    monkeypatch.setattr(images, "note_figure", recording)
    return drawn


def test_a_diverged_training_reaches_every_declared_output_and_makes_its_claims_untested(workdir, notes):
    params = copy.deepcopy(load_params(TINY))
    params["ncsn"]["experiments"][EXP]["training"].update(EXPLODING)
    _write_params(workdir, params)
    _run("train", EXP, "--record-divergence")
    for command in _downstream(EXP) + [("sensitivity",), ("summary_rows", EXP), ("summary",)]:
        _run(*command)

    record = read_divergence(workdir / "models/ncsn" / EXP)
    assert record is not None and record.bound is not None
    res = workdir / "results/ncsn" / EXP
    loss = pd.read_csv(res / "fig12_loss.csv")  # the loss log up to the divergence
    assert list(loss["step"]) == list(range(1, record.step + 1)) and loss["loss"].iloc[-1] == record.value
    for path in [*(workdir / f"samples/ncsn/{EXP}/{kind}/shard_{i}.pt" for kind in ("select", "eval") for i in (0, 1)),
                 res / "selected.json", res / "metrics.json", res / "neighbours.json",
                 workdir / "results/ncsn/sensitivity/metrics.json", workdir / f"data/ncsn/summary_rows/{EXP}.json"]:
        assert upstream_divergence(path) == record, path
    assert pd.read_csv(res / "fig13_fid_by_iteration.csv").to_dict("records") == [{"diverged": record.text()}]
    assert read_divergence(res / "inpainting") == record and (res / "inpainting" / FOLDER_RECORD).is_file()
    figures = [res / name for name in ("fig13_fid_by_iteration.png", "fig6_neighbours.png", "fig5_samples.png",
                                       "fig5_intermediate.png")] + [workdir / "results/ncsn/sensitivity/fig8_sensitivity.png"]
    assert {workdir / path: note for path, note in notes.items()} == {png: record.text() for png in figures}
    assert all(png.read_bytes()[:4] == b"\x89PNG" for png in figures)
    assert (res / "fig12_loss.png").read_bytes()[:4] == b"\x89PNG"  # the loss curve up to the divergence

    top = workdir / "results/ncsn"
    summary = pd.read_csv(top / "summary.csv")
    shown = summary[summary["metric"] == "diverged"].set_index("study")["value"].to_dict()
    assert shown == {"ncsn": record.text(), "sensitivity": record.text()}
    assert record.text() in (top / "summary.md").read_text()
    board = pd.read_csv(top / "leaderboard.csv")
    assert list(board["experiment"]) == [EXP] and record.text() in board["setting"].iloc[0]
    assert board[["n_samples", "fid_mnist_classifier", "fid_inception"]].isna().all(axis=None)
    claims = pd.read_csv(top / "claims.csv").set_index("claim")
    uses_model = claims[claims["measured"] == "diverged in training"]
    assert {c.split(",")[0] for c in uses_model.index} == {"FID fluctuates between checkpoints",
                                                            "Too small and too large eps both degrade image samples"}
    assert (uses_model["holds"] == "untested").all()
    assert uses_model["note"].str.contains(f"{EXP} trained FAILED: training of models/ncsn/{EXP} diverged at step "
                                           f"{record.step} of 6: loss 'loss'", regex=False).all()
    assert uses_model["note"].str.contains(f"beyond its bound {record.bound:.4g}", regex=False).all()
    others = claims.drop(uses_model.index)
    assert len(others) == 3 and not others["note"].str.contains("diverged").any()
    assert set(others["note"]) == {"no such experiment in this profile",
                                   "this profile has no CIFAR-10 experiment (`scorerepro use-profile paper_cifar10`)"}


def test_a_diverged_model_beside_a_sane_one_keeps_the_sane_ones_rows(workdir):
    """A single-noise baseline diverges, the main model does not: the summary keeps the main model's rows and
    leaderboard row, and only the claims that use the baseline (or the sensitivity grid, on the baseline) are
    untested for it."""
    params = copy.deepcopy(load_params(TINY))
    main_exp = params["ncsn"]["experiments"][EXP]
    main_exp["training"]["snapshot_freq"] = 4  # one checkpoint: selected without scoring (no classifier here)
    baseline = {**copy.deepcopy(main_exp), "model": {"arch": "refinenet_baseline", "ngf": 4},
                "noise": {"sigma_begin": 0.01, "num_levels": 1}, "training": dict(EXPLODING)}
    params["ncsn"]["experiments"]["tiny_baseline"] = baseline
    params["ncsn"]["sensitivity"]["experiment"] = "tiny_baseline"
    _write_params(workdir, params)
    _run("train", EXP, "--record-divergence")
    _run("train", "tiny_baseline", "--record-divergence")
    assert read_divergence(workdir / "models/ncsn" / EXP) is None
    record = read_divergence(workdir / "models/ncsn/tiny_baseline")
    assert record is not None
    for exp in (EXP, "tiny_baseline"):
        for command in _downstream(exp)[:6] + [("summary_rows", exp)]:  # what the summary reads
            _run(*command)
    _run("sensitivity")
    _run("summary")

    top = workdir / "results/ncsn"
    board = pd.read_csv(top / "leaderboard.csv").set_index("experiment")
    assert board.loc[EXP, "n_samples"] == 10 and board.loc[EXP, "setting"].endswith("checkpoint 4")
    assert pd.isna(board.loc["tiny_baseline", "n_samples"])
    assert board.loc["tiny_baseline", "setting"].endswith(f"no checkpoint: {record.text()}")
    summary = pd.read_csv(top / "summary.csv")
    assert set(summary.loc[summary["experiment"] == EXP, "metric"]) == {"n_samples", "selected_iteration"}
    claims = pd.read_csv(top / "claims.csv").set_index("claim")
    diverged = claims[claims["note"].str.contains("diverged at step", regex=False)]
    assert {c.split(" ")[1] for c in diverged.index} == {"single-noise", "small"}
    assert (diverged["holds"] == "untested").all()
    assert diverged["note"].str.contains("tiny_baseline trained FAILED", regex=False).all()
    assert not diverged["note"].str.contains(f"{EXP} trained", regex=False).any()
    fluctuation = claims.loc["FID fluctuates between checkpoints, so per-checkpoint selection matters"]
    # judged as without the baseline: the main model's one checkpoint was not scored (nothing to choose between)
    assert fluctuation["measured"] == "0 checkpoints, FID []" and "needs at least 3 checkpoints" in fluctuation["note"]
    assert "diverged" not in fluctuation["note"] + fluctuation["gate"]


def test_shards_divergence_reads_the_record_from_marker_shards_only(tmp_path):
    from scorerepro.core.fileio import save_torch
    from scorerepro.papers.ncsn.divergence import shards_divergence

    save_torch(tmp_path / "shard_0.pt", {"images": torch.zeros(2, 1, 2, 2, dtype=torch.uint8)})
    assert shards_divergence(tmp_path, [0]) is None
    assert shards_divergence(tmp_path, [0, 1]) is None  # a missing shard is the shard reader's to report
    save_torch(tmp_path / "shard_1.pt", marker(RECORD))
    assert shards_divergence(tmp_path, [0, 1]) == RECORD


def test_diverged_claim_is_untested_naming_each_diverged_model_once():
    from scorerepro.papers.ncsn.claims import diverged_claim

    assert diverged_claim("c", "s", {}, ("a", "b")) is None
    assert diverged_claim("c", "s", {"x": RECORD}, ("a", None)) is None
    row = diverged_claim("c", "s", {"a": RECORD}, ("a", "b", "a"))
    assert row["holds"] == "untested" and row["measured"] == "diverged in training"
    assert row["note"] == f"not measured: a trained FAILED: {RECORD.text()} (rule: training ends with finite losses " \
                          f"within their bounds)"
    assert row["gate"].count("trained FAILED") == 1


def test_the_loss_table_of_a_diverged_run_without_a_loss_log_names_the_divergence(workdir):
    from scorerepro.core.fileio import write_json
    from scorerepro.papers.ncsn.stages.train import publish_loss_table

    run = workdir / "models/ncsn" / EXP
    write_json(run / "diverged.json", RECORD.to_dict())
    publish_loss_table(run, EXP)
    table = pd.read_csv(workdir / f"results/ncsn/{EXP}/fig12_loss.csv")
    assert table.to_dict("records") == [{"diverged": RECORD.text()}]
    assert json.loads((run / "diverged.json").read_text())["step"] == 2


def test_a_divergence_recorded_by_torchrun_workers_is_the_stages_own(workdir, monkeypatch, capsys):
    """training.gpus > 1 runs the stage again under torchrun, which exits 1 when a worker fails: the record the
    workers left makes the stage exit as a single process would (0 under --record-divergence, else 5)."""
    import subprocess

    from scorerepro.core.fileio import write_json

    def workers(cmd, check):
        write_json(workdir / "models/ncsn" / EXP / "diverged.json", RECORD.to_dict())
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(subprocess, "run", workers)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    params = copy.deepcopy(load_params(TINY))
    params["ncsn"]["experiments"][EXP]["training"]["gpus"] = 2
    _write_params(workdir, params)
    assert main(["ncsn", "train", EXP]) == 5
    assert main(["ncsn", "train", EXP, "--record-divergence"]) == 0
    assert "training diverged (recorded, exit 0" in capsys.readouterr().err
