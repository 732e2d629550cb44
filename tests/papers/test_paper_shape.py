"""Every paper package has the same modules for the same jobs (docs/DESIGN.md, "Adding a paper"), and each paper's
experiment.initial_networks draws the same weights for the same seed and experiment, other weights otherwise."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

from scorerepro.config import load_params
from scorerepro.papers import PAPERS

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_params.yaml"
SAME_IN_EVERY_PAPER = ("experiment", "locations", "claims", "reported", "params_checks", "stages.train",
                       "stages.summary")


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_every_paper_has_the_same_modules(paper):
    package = PAPERS[paper][0]
    for name in SAME_IN_EVERY_PAPER:
        importlib.import_module(f"{package}.{name}")
    assert importlib.import_module(f"{package}.locations").PAPER == paper
    assert callable(importlib.import_module(f"{package}.experiment").initial_networks)


def _builder(paper: str, params: dict):
    """(experiment name, build(seed, name) -> the experiment's initial networks) for the tiny params."""
    experiment = importlib.import_module(f"scorerepro.papers.{paper}.experiment")
    if paper == "infusion":  # one main model, and no merging: the block, the data's pixel count, a run name
        block = experiment.experiment_settings(params)
        return "main", lambda seed, name: experiment.initial_networks(block, 784, seed, name)
    name = next(iter(params[paper]["experiments"]))
    exp = experiment.experiment_settings(params, name)
    return name, lambda seed, other: experiment.initial_networks({**exp, "name": other}, seed)


def _floats(nets: dict) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()
            if v.is_floating_point() and v.numel() > 1 and v.std() > 0}


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_initial_networks_depend_on_seed_and_experiment_only(paper):
    name, build = _builder(paper, load_params(TINY))
    torch.rand(int(torch.randint(1, 100, ()).item()))  # whatever the global RNG did before must not matter
    a, b = _floats(build(7, name)), _floats(build(7, name))
    assert a and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for other in (_floats(build(8, name)), _floats(build(7, name + "_other"))):
        assert not all(torch.equal(a[k], other[k]) for k in a)
