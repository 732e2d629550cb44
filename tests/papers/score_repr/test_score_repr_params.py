"""Every profile carries a valid score_repr block (the paper profiles are validated here, not run), and the
cross-field checks name the key at fault."""

import copy
from pathlib import Path

import pytest

from scorerepro.config import load_params, read_params_yaml
from scorerepro.papers.score_repr.params_checks import check_params
from scorerepro.profiles import available_profiles, load_profile

REPO = Path(__file__).resolve().parents[3]
PROFILES = [*available_profiles(), REPO / "params.yaml", REPO / "tests" / "fixtures" / "tiny_params.yaml"]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: getattr(p, "name", p))
def test_every_profile_has_a_valid_block(profile):
    params = load_params(profile) if isinstance(profile, Path) else load_profile(profile)
    assert "score_repr" in params
    assert check_params(params) == []


def test_paper_profiles_use_the_papers_settings():
    mnist = load_profile("paper_mnist")["score_repr"]
    assert mnist["defaults"]["model"]["widths"] == [32, 64] and mnist["defaults"]["model"]["blocks"] == 2
    assert mnist["defaults"]["training"]["n_iters"] == 80000
    assert mnist["experiments"]["uniform_t"]["dataset"] == "mnist"
    assert len(mnist["sweep"]["seeds"]) == 3
    cifar = load_profile("paper_cifar10")["score_repr"]
    assert cifar["sweep"]["dataset"] == "cifar10_3class"
    assert cifar["defaults"]["model"]["widths"] == [32, 32, 32]
    assert cifar["experiments"]["uniform_t_kl"]["model"] == {"regulariser": "kl", "reg_weight": 1.0e-07}


def test_quick_profile_is_params_yaml():
    assert (REPO / "params.yaml").read_bytes() == (REPO / "workflow" / "params" / "quick.yaml").read_bytes()


@pytest.mark.parametrize("edit,key", [
    (lambda b: b["experiments"]["uniform_t"]["training"].update(t_mode="fixed", fixed_t=None),
     "score_repr.experiments.uniform_t.training.fixed_t"),
    (lambda b: b["experiments"]["uniform_t"]["training"].update(finetune_iters=5),
     "score_repr.experiments.uniform_t.training.finetune_iters"),
    (lambda b: b["experiments"]["uniform_t"]["data"].update(pool=3), "score_repr.experiments.uniform_t.data.pool"),
    (lambda b: b["experiments"]["uniform_t"]["evaluate"].update(leaderboard_samples=5),
     "score_repr.experiments.uniform_t.evaluate.leaderboard_samples"),
    (lambda b: b["sde"].update(sigma_min=60.0), "score_repr.sde.sigma_min"),
])
def test_cross_field_checks_name_the_key(edit, key):
    params = copy.deepcopy(read_params_yaml(REPO / "params.yaml"))
    edit(params["score_repr"])
    problems = check_params(params)
    assert any(key in p for p in problems), problems
