"""The paper profiles carry the paper's settings and validate; the params checks name the bad key."""

from pathlib import Path

import copy

import yaml

from scorerepro.config import experiment
from scorerepro.papers.wmvl.params_checks import check_params
from scorerepro.profiles import load_profile

ROOT = Path(__file__).resolve().parents[3]


def _load(name):
    return load_profile(Path(name).stem)


def test_paper_mnist_profile_has_table1_and_table2_settings():
    p = _load("paper_mnist.yaml")
    exps = {n: experiment(p, "wmvl", n) for n in p["wmvl"]["experiments"]}
    vaes = {(e["model"]["kind"], e["model"]["latent"], e["model"]["latent_dim"]) for e in exps.values()
            if e["model"]["kind"].startswith("vae")}
    assert vaes == {(k, ln, d) for k in ("vae_explicit", "vae_implicit") for ln in ("euclidean", "sphere") for d in (8, 32)}
    for e in exps.values():
        assert e["dataset"] == "mnist" and e["training"]["batch_size"] == 128 and e["model"]["hidden"] == 256
        assert e["training"]["n_iters"] == (200_000 if e["model"]["kind"].startswith("wae") else 100_000)
        assert e["eval"]["ais"] == {"n_test": 10000, "batch_size": 128, "n_steps": 1000, "n_chains": 16,
                                    "step_size": 0.01, "n_leapfrog": 10}
    assert p["wmvl"]["synthetic"]["banana"]["batch_size"] == 50_000 and p["wmvl"]["synthetic"]["banana"]["n_batches"] == 100


def test_paper_celeba_profile_is_the_latent_32_wae():
    p = _load("paper_celeba.yaml")
    exps = [experiment(p, "wmvl", n) for n in p["wmvl"]["experiments"]]
    assert {e["model"]["kind"] for e in exps} == {"wae_mvl", "wae_gan"}
    assert all(e["model"]["latent_dim"] == 32 and e["dataset"] == "celeba" and e["training"]["lr"] == 1e-4
               and e["training"]["mvl_eps"] == 1e-4 for e in exps)


def test_quick_profile_equals_params_yaml_block():
    assert yaml.safe_load((ROOT / "params.yaml").read_text())["wmvl"] == _load("quick.yaml")["wmvl"]


def test_checks_name_the_key():
    p = _load("quick.yaml")
    bad = copy.deepcopy(p)
    bad["wmvl"]["synthetic"]["banana"]["z_test_eps"] = 0.5
    bad["wmvl"]["experiments"]["vae_explicit_euc8"]["training"] = {"snapshot_freq": 10**6}
    problems = "\n".join(check_params(bad))
    assert "wmvl.synthetic.banana.z_test_eps" in problems
    assert "wmvl.experiments.vae_explicit_euc8.training.snapshot_freq" in problems
    assert check_params(p) == []
