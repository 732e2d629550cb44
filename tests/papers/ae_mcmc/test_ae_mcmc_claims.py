"""Every ae_mcmc rule (papers/ae_mcmc/claims.py) on synthetic chains.json numbers: each can read yes, no and
inconclusive; a model that fails its reconstruction gate makes the claims it feeds untested."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from scorerepro.config import load_params
from scorerepro.papers.ae_mcmc import claims
from scorerepro.papers.ae_mcmc.stages.chains import reconstruction
from scorerepro.pipeline.divergence import diverged_gate, marker
from scorerepro.training.divergence import Divergence

import torch

REPO = Path(__file__).resolve().parents[3]
MODELS = {"vae": "vae", "dvae": "vae", "aae": "aae", "daae": "aae"}
GOOD = {"n": 500, "mse": 0.02, "mse_mean_image": 0.067, "ratio_to_mean_image": 0.3, "max_pixel_mean": 0.97}
CAPPED = {"n": 500, "mse": 0.044, "mse_mean_image": 0.067, "ratio_to_mean_image": 0.66, "max_pixel_mean": 0.48}


def _sample(fid: float, se: float = 5.0) -> dict:
    return {"n_samples": 200, "fid_mnist_classifier": fid, "fid_mnist_classifier_se": se}


def _mode(fid0=100.0, fid10=50.0, se=5.0, std=0.6, fd0=2.0, fd50=0.5, fd_se=0.1, rho=(0.3, 0.15, 0.45),
          rec=GOOD) -> dict:
    return {"reconstruction": rec,
            "encodings": {"n": 500, "per_dim_std": [std] * 8, "mean_std": std, "frechet_to_prior": 1.0},
            "latent_frechet_to_encodings": {"0": fd0, "50": fd50},
            "latent_frechet_to_encodings_se": {"0": fd_se, "50": fd_se},
            "samples": {"0": _sample(fid0, se), "10": _sample(fid10, se)},
            "movement_vs_realism": {"nearest_train_distance": {"rho": rho[0], "p_value": 0.01, "n": 200,
                                                               "ci_low": rho[1], "ci_high": rho[2]}},
            "interpolation": {"steps": 5, "before": _sample(fid0, se), "after": _sample(fid10, se)}}


def _params() -> dict:
    p = load_params(REPO / "params.yaml")
    p["ae_mcmc"]["chains"].update(steps=[0, 50], image_steps=[0, 10], bn_modes=["train"])
    return p


def _rows(modes: dict) -> dict:
    metrics = {n: {"kind": MODELS[n], "modes": {"train": m}} for n, m in modes.items()}
    return {r["claim"].split(" ")[0] + str(i): r for i, r in enumerate(claims.evaluate_claims(_params(), metrics))}


def _verdicts(modes: dict) -> list[str]:
    return [r["holds"] for r in _rows(modes).values()]


def _all(**kw) -> dict:
    return {n: _mode(**kw) for n in MODELS}


def test_every_rule_reads_yes_on_clear_effects_of_learned_models():
    # denoising pair gaps: the denoising models score better after MCMC than the plain ones, and not before
    modes = _all()
    for d in ("dvae", "daae"):
        modes[d] = _mode(fid0=100.0, fid10=20.0)
    assert _verdicts(modes) == ["yes"] * 6
    row = _rows(modes)["MCMC2"]
    assert row["interval_high"] < 0 and row["n"] == 200 and "passed" in row["gate"]


def test_every_rule_reads_no_on_clear_opposite_effects():
    modes = _all(fid0=50.0, fid10=100.0, std=1.3, fd0=0.5, fd50=2.0, rho=(-0.3, -0.45, -0.15))
    for d in ("dvae", "daae"):
        modes[d] = _mode(fid0=50.0, fid10=150.0)
    assert _verdicts(modes) == ["no"] * 6


def test_every_rule_reads_inconclusive_within_the_noise():
    modes = _all(fid0=100.0, fid10=95.0, se=10.0, std=0.98, fd0=1.0, fd50=0.95, fd_se=0.2, rho=(0.05, -0.09, 0.19))
    assert _verdicts(modes) == ["inconclusive"] * 6


def test_float_rounding_sized_mcmc_gains_read_inconclusive():
    """An AAE at 898.0 after 10 steps vs 886.5 before (a fresh clone) and 838.2 vs 910.2 (another run) differ by
    less than their noise at 200 samples: neither reads yes or no."""
    for fid0, fid10 in ((886.5, 898.0), (910.2, 838.2)):
        modes = _all(fid0=fid0, fid10=fid10, se=30.0)
        assert _rows(modes)["MCMC2"]["holds"] == "inconclusive"


def test_a_capped_decoder_makes_the_claims_it_feeds_untested():
    modes = _all()
    modes["aae"] = _mode(rec=CAPPED)
    rows = list(_rows(modes).values())
    assert [r["holds"] for r in rows] == ["untested"] * 6
    assert all("aae reconstructs test digits FAILED" in r["note"] and "0.48" in r["note"] for r in rows)


def test_an_unmeasured_reconstruction_fails_the_gate():
    modes = _all()
    del modes["vae"]["reconstruction"]
    assert not claims.reconstruction_gate("vae", modes["vae"]).passed


def test_reconstruction_measure_tells_a_learned_decoder_from_a_capped_one():
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(64, 1, 28, 28, generator=g) > 0.85).float()
    mean = images.mean(0)
    good = reconstruction(images * 0.95 + 0.02, images, mean)
    capped = reconstruction(torch.full_like(images, 0.48) * images + 0.01, images, mean)
    blank = reconstruction(mean.expand_as(images).clone(), images, mean)
    assert claims.reconstruction_gate("m", {"reconstruction": good}).passed
    assert not claims.reconstruction_gate("m", {"reconstruction": capped}).passed
    assert not claims.reconstruction_gate("m", {"reconstruction": blank}).passed
    assert blank["ratio_to_mean_image"] == pytest.approx(1.0)


def test_without_standard_errors_the_fid_rules_are_inconclusive():
    modes = copy.deepcopy(_all())
    for m in modes.values():
        for s in (m["samples"]["0"], m["samples"]["10"], m["interpolation"]["before"], m["interpolation"]["after"]):
            del s["fid_mnist_classifier_se"]
    rows = list(_rows(modes).values())
    assert rows[2]["holds"] == "inconclusive" and rows[5]["holds"] == "inconclusive"


# A model whose training diverged: its chains.json holds the record in place of metrics (pipeline.divergence).
DIVERGED = Divergence("models/ae_mcmc/vae", "loss", 3, 40, 2.2e9, 5.4e6, "the training loss is 2.2e9 at step 3")


def _with_diverged(modes: dict, diverged: dict[str, Divergence]) -> list[dict]:
    metrics = {n: marker(diverged[n]) if n in diverged else {"kind": MODELS[n], "modes": {"train": m}}
               for n, m in modes.items()}
    return claims.evaluate_claims(_params(), metrics)


def test_a_diverged_model_makes_the_claims_it_feeds_untested_and_leaves_the_others_decided():
    modes = _all()
    for d in ("dvae", "daae"):
        modes[d] = _mode(fid0=100.0, fid10=20.0)
    sane = claims.evaluate_claims(_params(), {n: {"kind": MODELS[n], "modes": {"train": m}} for n, m in modes.items()})
    rows = _with_diverged(modes, {"vae": DIVERGED})
    # the encoder claim reads only the adversarial models: the same verdict, interval, gates and note
    assert {k: v for k, v in rows[0].items() if k != "measured"} == {k: v for k, v in sane[0].items()
                                                                      if k != "measured"}
    assert rows[0]["holds"] == "yes" and rows[0]["measured"].startswith("vae: diverged; dvae: mean per-dim std")
    for row in rows[1:]:
        assert row["holds"] == "untested"
        assert f"vae trained FAILED: {DIVERGED.text()}" in row["note"] and "beyond its bound" in row["note"]
        assert "train longer" not in row["note"]  # advice for models that trained but did not learn
    assert rows[1]["measured"].startswith("dvae: t=0 2.000")  # the other models' numbers, for context


def test_claims_whose_models_all_diverged_are_untested_without_numbers():
    modes = _all()
    rows = _with_diverged(modes, {n: DIVERGED for n in ("aae", "daae")})
    assert rows[0]["holds"] == "untested" and rows[0]["estimate"] is None
    assert rows[0]["note"].count(DIVERGED.text()) == 2
    rows = _with_diverged(modes, {n: DIVERGED for n in MODELS})
    assert [r["holds"] for r in rows] == ["untested"] * 6
    assert all(DIVERGED.text() in r["note"] for r in rows)


def test_a_claim_untested_for_want_of_a_classifier_names_the_diverged_model_first():
    modes = copy.deepcopy(_all())
    for m in modes.values():
        for s in (m["samples"]["0"], m["samples"]["10"], m["interpolation"]["before"], m["interpolation"]["after"]):
            s["fid_mnist_classifier"] = None
    rows = _with_diverged(modes, {"aae": DIVERGED})
    for row in (rows[2], rows[4], rows[5]):
        assert row["holds"] == "untested" and row["note"].startswith(f"aae trained FAILED: {DIVERGED.text()}")
        assert "classifier" in row["note"] and row["gate"].startswith("aae trained FAILED")


def test_decide_every_with_no_model_measured_is_inconclusive_with_no_interval():
    assert claims.decide_every({}, 0.0, above=False) == ("inconclusive", "none measured", None)
    iv = claims.normal_interval(-1.0, 0.1, 100, "normal")
    assert claims.decide_every({"a": iv}, 0.0, above=False) == ("yes", "a", iv)


def test_unmeasured_gates_are_those_of_the_models_without_metrics():
    gates = {"vae": diverged_gate("vae", DIVERGED), "aae": claims.reconstruction_gate("aae", _mode())}
    assert claims.unmeasured_gates(["vae", "aae"], {"aae": _mode()}, gates) == [gates["vae"]]
    row = claims.untested_row("c", "s", "", "no classifier", [gates["vae"]])
    assert row["holds"] == "untested" and row["note"] == f"{gates['vae'].text()}; no classifier"
    assert claims.untested_row("c", "s", "", "no classifier", [])["note"] == "no classifier"
