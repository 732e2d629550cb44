"""Every paper's dataset key is checked the same way at validation, through the CLI: a typo is refused naming the
key (exit 2), and so is a training batch larger than the dataset can hold."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params
from scorerepro.profiles import available_profiles, load_profile

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_params.yaml"

# (paper, a train command of that paper, the block holding its dataset, the block holding its training batch)
PAPERS = [
    ("ncsn", ["ncsn", "train", "tiny_ncsn"], "ncsn.experiments.tiny_ncsn", "ncsn.experiments.tiny_ncsn.training"),
    ("ae_mcmc", ["ae_mcmc", "train", "vae"], "ae_mcmc.defaults", "ae_mcmc.defaults.training"),
    ("infusion", ["infusion", "train"], "infusion.model", "infusion.model.training"),
    ("score_repr", ["score_repr", "train", "uniform_t"], "score_repr.experiments.uniform_t",
     "score_repr.defaults.training"),
    ("wmvl", ["wmvl", "train", "wae_gan_sph8"], "wmvl.defaults", "wmvl.defaults.training"),
]


def _node(params: dict, key: str) -> dict:
    for k in key.split("."):
        params = params[k]
    return params


def _run(tmp_path, monkeypatch, params: dict, argv: list[str], capsys) -> tuple[int, str]:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("paper, argv, dataset_block, training_block", PAPERS, ids=[p[0] for p in PAPERS])
def test_a_dataset_typo_is_refused_by_key(tmp_path, monkeypatch, capsys, paper, argv, dataset_block,
                                          training_block):
    params = copy.deepcopy(load_params(TINY))
    _node(params, dataset_block)["dataset"] = "mnist_embeded"
    code, err = _run(tmp_path, monkeypatch, params, argv, capsys)
    assert code == 2, err
    assert f"{dataset_block}.dataset: 'mnist_embeded' is not one of" in err, err


@pytest.mark.parametrize("paper, argv, dataset_block, training_block", PAPERS, ids=[p[0] for p in PAPERS])
def test_an_undeclared_dataset_is_refused_by_key(tmp_path, monkeypatch, capsys, paper, argv, dataset_block,
                                                 training_block):
    params = copy.deepcopy(load_params(TINY))
    _node(params, dataset_block)["dataset"] = "digits8x8"  # a known dataset, but not under datasets:
    code, err = _run(tmp_path, monkeypatch, params, argv, capsys)
    assert code == 2, err
    assert f"{dataset_block}.dataset: 'digits8x8' is not declared under datasets" in err, err


@pytest.mark.parametrize("paper, argv, dataset_block, training_block", PAPERS, ids=[p[0] for p in PAPERS])
def test_a_batch_larger_than_the_dataset_is_refused_at_validation_by_key(tmp_path, monkeypatch, capsys, paper,
                                                                         argv, dataset_block, training_block):
    params = copy.deepcopy(load_params(TINY))
    _node(params, training_block)["batch_size"] = 100000
    code, err = _run(tmp_path, monkeypatch, params, argv, capsys)  # no data here: refused before loading any
    assert code == 2, err
    assert f"{training_block}.batch_size: 100000 is more than the 400 images 'mnist_embedded' has at most" in err, err


def test_every_profile_still_validates():
    load_params(TINY)
    for profile in available_profiles():
        load_profile(profile)
