"""Every claim rule of seed 004 can read yes and no (and inconclusive, for interval rules), and a model that fails
its gate turns its claim untested."""

import numpy as np
import pytest

from scorerepro.papers.wmvl import claims
from scorerepro.pipeline.evidence import Interval

C = {"small_eps": 1e-3, "bias_rel_max": 0.05, "slope_eps_max": 1e-3, "slope_tolerance": 0.25, "alpha": 0.05,
     "kl_max": 0.05}


def test_variance_slope_recovers_power_laws():
    rows = [{"estimator": "mvl", "control_variate": cv, "eps": e, "variance": (1 / e if not cv else 3.0)}
            for e in (1e-6, 1e-5, 1e-4, 1e-3, 1e-1) for cv in (False, True)]
    assert abs(claims.variance_slope(rows, "mvl", False, 1e-3) + 1) < 1e-9
    assert abs(claims.variance_slope(rows, "mvl", True, 1e-3)) < 1e-9


def _slope_rows(slope, noise, seed=0):
    rng = np.random.default_rng(seed)
    return [{"estimator": "mvl", "control_variate": False, "eps": e,
             "variance": e ** slope * np.exp(noise * rng.standard_normal())} for e in (1e-6, 1e-5, 1e-4, 1e-3)]


@pytest.mark.parametrize("slope,noise,verdict", [(-1.0, 0.01, "yes"), (-0.3, 0.01, "no"), (-1.0, 1.5, "inconclusive")])
def test_slope_rule_reads_each_verdict(slope, noise, verdict):
    iv = claims.slope_interval(_slope_rows(slope, noise), "mvl", False, 1e-3)
    assert claims.within(iv, -1.25, -0.75) == verdict


def _banana(diff, z):
    row = {"estimator": "mvl", "control_variate": True, "eps": 1e-4, "mean_minus_ssm": diff, "z": z,
           "p_value": 0.5}
    return {"rows": [row, {**row, "estimator": "dsm"}], "exact_sm_mean": -10.0,
            "settings": {"K": 100, "M": 500, "z_test_eps": 1e-4}}


@pytest.mark.parametrize("diff,z,verdict", [(0.1, 0.5, "yes"), (2.0, 40.0, "no"), (0.4, 1.0, "inconclusive")])
def test_bias_rule_reads_each_verdict(diff, z, verdict):
    assert claims._bias_row(_banana(diff, z), C, "s", "K")["holds"] == verdict


@pytest.mark.parametrize("diff,z,verdict", [(0.05, 0.5, "yes"), (0.2, 4.0, "no"), (0.4, 1.0, "inconclusive")])
def test_z_rule_reads_each_verdict(diff, z, verdict):
    assert claims._z_row(_banana(diff, z), "mvl", C, "s")["holds"] == verdict


def test_within_is_inconclusive_for_an_infinite_interval():
    assert claims.within(Interval(0.0, float("-inf"), float("inf"), 2, "m"), -1, 1) == "inconclusive"


def _vae(kind, latent, nll_per_image, bound=None, factorial=200.0):
    lp = -np.asarray(nll_per_image, dtype=float)
    nll = float(-lp.mean())
    return {"kind": kind, "latent": latent, "latent_dim": 8,
            "metrics": {"nll_ais": nll, "log_px_ais_per_image": lp.tolist(), "nll_factorial": factorial,
                        "nll_bound": nll + 5 if bound is None else bound, "nll_bound_kind": "negative ELBO",
                        "ais": {"n_steps": 1000}}}


def _vaes(target_offset, noise, seed=0, **target_kw):
    rng = np.random.default_rng(seed)
    base = 140 + 10 * rng.standard_normal(50)

    def per(offset):
        return base + offset + noise * rng.standard_normal(50)

    return {"ie8": _vae("vae_implicit", "sphere", per(target_offset), **target_kw),
            "ee8": _vae("vae_explicit", "euclidean", per(0.0)), "es8": _vae("vae_explicit", "sphere", per(3.0)),
            "ieu8": _vae("vae_implicit", "euclidean", per(6.0))}


@pytest.mark.parametrize("offset,noise,verdict", [(-4.0, 0.5, "yes"), (4.0, 0.5, "no"), (-0.1, 5.0, "inconclusive")])
def test_table1_rule_reads_each_verdict(offset, noise, verdict):
    row = claims.table1_claim(_vaes(offset, noise), 8)
    assert row["holds"] == verdict
    assert row["interval_low"] <= row["estimate"] <= row["interval_high"]


def test_table1_is_untested_when_ais_loses_to_the_bound_or_the_model_has_not_learned():
    unconverged = claims.table1_claim(_vaes(-4.0, 0.5, bound=100.0), 8)
    assert unconverged["holds"] == "untested" and "AIS beats its bound FAILED" in unconverged["note"]
    untrained = claims.table1_claim(_vaes(-4.0, 0.5, factorial=120.0), 8)
    assert untrained["holds"] == "untested" and "x-independent pixels FAILED" in untrained["note"]


def test_table1_is_untested_without_all_four_vaes():
    models = _vaes(-4.0, 0.5)
    models.pop("ee8")
    assert claims.table1_claim(models, 8)["holds"] == "untested"


def _wae(kind, latent, fid, se=5.0, floor=6.0):
    return {"kind": kind, "latent": latent, "latent_dim": 8,
            "metrics": {"fid_mnist_classifier": fid, "fid_mnist_classifier_se": se, "n_samples": 1000,
                        "fid_mnist_classifier_real_same_n": floor}}


@pytest.mark.parametrize("sph,euc,verdict", [(20.0, 40.0, "yes"), (40.0, 20.0, "no"), (30.0, 32.0, "inconclusive")])
def test_fid_rule_reads_each_verdict(sph, euc, verdict):
    models = {"a": _wae("wae_mvl", "sphere", sph), "b": _wae("wae_mvl", "euclidean", euc)}
    row = claims.fid_claim(models, {"kind": "wae_mvl", "latent": "sphere"}, {"kind": "wae_mvl", "latent": "euclidean"},
                           "c")
    assert row["holds"] == verdict


def test_fid_rule_is_untested_when_a_wae_is_far_from_the_real_floor():
    models = {"a": _wae("wae_mvl", "sphere", 300.0), "b": _wae("wae_mvl", "euclidean", 900.0)}
    row = claims.fid_claim(models, {"kind": "wae_mvl", "latent": "sphere"}, {"kind": "wae_mvl", "latent": "euclidean"},
                           "c")
    assert row["holds"] == "untested" and "FID near the real floor FAILED" in row["note"]


def _write_json(path, obj):
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


@pytest.mark.parametrize("no_cv,cv,verdict", [([0.5, 0.52, 0.48], [0.06, 0.05, 0.07], "yes"),
                                              ([0.06, 0.05, 0.07], [0.5, 0.52, 0.48], "no"),
                                              ([0.3, 0.1, 0.5], [0.2, 0.4, 0.1], "inconclusive")])
def test_cd1_rule_reads_each_verdict(tmp_path, monkeypatch, no_cv, cv, verdict):
    monkeypatch.setattr(claims, "synthetic_dir", lambda study: tmp_path / study)
    rows = [{"step_size": 1e-4, "control_variate": c, "sm_loss": v} for c, vals in ((False, no_cv), (True, cv))
            for v in vals]
    _write_json(tmp_path / "cosine" / "metrics.json", {"rows": rows, "settings": {"step_sizes": [1e-4]}})
    assert claims._cosine_claims()[0]["holds"] == verdict


@pytest.mark.parametrize("kl,verdict", [(0.01, "yes"), (0.2, "no")])
def test_sphere_kl_rule_reads_yes_and_no(tmp_path, monkeypatch, kl, verdict):
    monkeypatch.setattr(claims, "synthetic_dir", lambda study: tmp_path / study)
    for study in ("circle", "sphere"):
        _write_json(tmp_path / study / "metrics.json", {"kl_true_to_model": kl, "max_abs_log_density_error": 0.1,
                                                        "settings": {"n_iters": 10}})
    assert [r["holds"] for r in claims._sphere_claims(C)] == [verdict, verdict]
