"""Each paper's train stage, through the CLI, with an exploding learning rate: the losses stay finite but leave
the divergence bound, and the stage stops as on NaN (exit 5) without writing a final model. With
--record-divergence (as dvc.yaml runs it) the same run exits 0, leaving the record the stages downstream read."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import torch
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_params.yaml"


def fake_mnist(root: Path, n_train: int = 64, n_test: int = 24) -> None:
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


@pytest.fixture()
def workdir(tmp_path, one_torch_thread):
    fake_mnist(tmp_path)
    before = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(before)


def _set(params: dict, path: str, **values) -> None:
    node = params
    for key in path.split("."):
        node = node[key]
    node.update(values)


# (paper, experiment, the training block to change, what makes it explode, where its final model goes)
CASES = [
    ("ncsn", "tiny_ncsn", "ncsn.experiments.tiny_ncsn.training", {"lr": 1.0e3, "n_iters": 6},
     "models/ncsn/tiny_ncsn"),
    ("ae_mcmc", "aae", "ae_mcmc.defaults.training", {"lr": 1.0e6, "epochs": 2, "batch_size": 16},
     "models/ae_mcmc/aae"),
    ("infusion", None, "infusion.model.training", {"lr": 1.0e6, "n_iters": 6}, "models/infusion/main"),
    ("score_repr", "uniform_t", "score_repr.defaults.training", {"lr": 10.0}, "models/score_repr/uniform_t"),
    ("wmvl", "wae_gan_sph8", "wmvl.defaults.training", {"lr": 1.0e6, "n_iters": 6},
     "models/wmvl/wae_gan_sph8"),
]


@pytest.mark.parametrize("paper, exp, block, change, model_dir", CASES, ids=[c[0] for c in CASES])
def test_an_exploding_lr_stops_training_with_exit_5_and_no_final_model(workdir, capsys, paper, exp, block, change,
                                                                       model_dir):
    params = copy.deepcopy(load_params(TINY))
    _set(params, block, **change)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    code = main([paper, "train", *([exp] if exp else [])])
    err = capsys.readouterr().err
    assert code == 5, err
    assert "training diverged" in err and "beyond the divergence bound" in err, err
    assert err.strip().splitlines()[-1].startswith(f"scorerepro {paper} train: training diverged"), err
    assert not list((workdir / model_dir).rglob("final.pt"))


@pytest.mark.parametrize("paper, exp, block, change, model_dir", CASES, ids=[c[0] for c in CASES])
def test_with_record_divergence_the_stage_exits_0_and_leaves_the_record(workdir, capsys, paper, exp, block, change,
                                                                        model_dir):
    from scorerepro.training.divergence import read_divergence

    params = copy.deepcopy(load_params(TINY))
    _set(params, block, **change)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert main([paper, "train", *([exp] if exp else []), "--record-divergence"]) == 0
    err = capsys.readouterr().err
    assert f"scorerepro {paper} train: training diverged (recorded, exit 0" in err, err
    record = read_divergence(workdir / model_dir)
    assert record is not None and record.bound is not None and record.step >= 1
    assert not list((workdir / model_dir).rglob("final.pt"))
    # The same command again raises the record (no retraining), exit 5 without the option.
    assert main([paper, "train", *([exp] if exp else [])]) == 5
    assert "by an earlier run under these settings" in capsys.readouterr().err


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_count_is_set_from_params_and_recorded_with_the_model(workdir, threads):
    params = copy.deepcopy(load_params(TINY))
    params["threads"] = threads
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert main(["ncsn", "train", "tiny_ncsn"]) == 0
    done = json.loads((workdir / "models/ncsn/tiny_ncsn/completed.json").read_text())
    assert done["torch_threads"] == threads
