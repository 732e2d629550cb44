"""The paper profiles carry the paper's settings (validated, not run), and params errors name the key."""

from __future__ import annotations

import copy
from pathlib import Path


from scorerepro.config import load_params
from scorerepro.papers.infusion.params_checks import check_params
from scorerepro.profiles import load_profile

REPO = Path(__file__).resolve().parents[3]


def test_paper_mnist_profile_has_the_papers_settings():
    m = load_profile("paper_mnist")["infusion"]["model"]
    assert (m["dataset"], m["n_steps"], m["alpha0"], m["omega"], m["schedule"]) == ("mnist", 15, 0.0, 0.01,
                                                                                     "increasing")
    assert (m["layers"], m["hidden"], m["beta"], m["eps"]) == (2, 1200, 0.1, 1e-4)
    ev = load_profile("paper_mnist")["infusion"]["eval"]
    assert (ev["n_test"], ev["n_train"], ev["repetitions"], ev["n_samples"], ev["parzen_fixed_sigma"],
            ev["sampling_steps"]) == (1000, 100, 10, 10000, 0.17, 30)


def test_paper_cifar10_profile_has_the_papers_schedule():
    p = load_profile("paper_cifar10")["infusion"]
    assert (p["model"]["dataset"], p["model"]["n_steps"], p["model"]["omega"]) == ("cifar10", 20, 0.02)
    assert p["eval"]["n_samples"] == 50000 and p["eval"]["inception"] is True


def test_quick_profile_follows_the_papers_schedule_on_embedded_mnist():
    m = load_params(REPO / "params.yaml")["infusion"]["model"]
    assert (m["dataset"], m["n_steps"], m["alpha0"], m["omega"]) == ("mnist_embedded", 15, 0.0, 0.01)


def test_checks_name_the_bad_key():
    params = load_params(REPO / "params.yaml")
    bad = copy.deepcopy(params)
    bad["infusion"]["model"]["omega"] = 0.2  # 14 * 0.2 > 1
    bad["infusion"]["model"]["dataset"] = "nope"
    bad["infusion"]["eval"]["sampling_steps"] = 3
    problems = "\n".join(check_params(bad))
    for key in ("infusion.model:", "infusion.model.dataset", "infusion.eval.sampling_steps"):
        assert key in problems
    assert check_params(params) == []
