"""scorerepro.papers.ncsn.experiment: an experiment's settings over the defaults, and its network spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorerepro.config import experiment, load_params
from scorerepro.papers.ncsn.experiment import model_spec

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def quick() -> dict:
    return load_params(REPO / "params.yaml")


def test_model_spec_fills_dataset_and_levels(quick):
    spec = model_spec(experiment(quick, "ncsn", "fig5_mnist"))
    assert (spec["channels"], spec["image_size"], spec["num_classes"]) == (1, 28, 10)
    base = model_spec(experiment(quick, "ncsn", "fig4_mnist_baseline"))
    assert base["arch"] == "refinenet_baseline" and "num_classes" not in base


def test_override_lays_over_defaults_and_another_arch_replaces_the_network(quick):
    exp = experiment(quick, "ncsn", "fig4_mnist_baseline")
    assert exp["noise"] == {"schedule": "geometric", "sigma_begin": 0.01, "sigma_end": 0.01, "num_levels": 1}
    assert exp["training"] == quick["ncsn"]["defaults"]["training"]
    resnet = experiment(quick, "ncsn", "sec6_3_mnist_cond_resnet")["model"]
    assert resnet == {"arch": "cond_resnet", "nf": 8, "width_factor": 1}  # no ngf from the default RefineNet
