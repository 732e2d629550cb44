"""Every claim rule of seed 003 can read yes and no (and inconclusive), and a model that fails its gate turns its
claim untested; inputs are synthetic results files."""

import json

import numpy as np
import pandas as pd
import pytest

from scorerepro.papers.score_repr import claims
from scorerepro.papers.score_repr.locations import results_dir, sweep_results_dir, toy_dir

N = 200


def _params(names):
    return {"score_repr": {"experiments": {n: {} for n in names}, "defaults": {"evaluate": {"constant_samples": 1000}},
                           "toy": {"n_eval": 20000}}}


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _exp(name, loss=0.12, **kw):
    base = {"dataset": "mnist_embedded", "pool": 2, "image_shape": [1, 14, 14], "n_test": N, "code_dim": 2,
            "model_loss_at_constant_draws": loss, "constant_empirical": 0.005}
    _write(results_dir(name) / "metrics.json", base | kw)


rng = np.random.default_rng(0)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    global rng
    rng = np.random.default_rng(0)  # each test its own draws, whichever tests run
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _points(mean, spread):
    return (mean + spread * rng.standard_normal(N)).tolist()


@pytest.mark.parametrize("gain,noise,verdict", [(1.0, 0.05, "yes"), (-1.0, 0.05, "no"), (0.0, 0.0, "inconclusive")])
def test_ink_rule(workdir, gain, noise, verdict):
    ink = rng.random(N)
    follows = ink + noise * rng.standard_normal(N)
    ignores = rng.standard_normal(N)
    trained, untrained = (follows, ignores) if gain > 0 else (ignores, follows) if gain < 0 else (follows, follows)
    _exp(claims.CODES_EXPERIMENT, ink_per_point=ink.tolist(), codes_per_point=trained[:, None].tolist(),
         codes_untrained_per_point=untrained[:, None].tolist(), ink_correlation_max=0.9,
         ink_correlation_max_untrained=0.5)
    assert claims.claim_codes_ink(_params([claims.CODES_EXPERIMENT]))["holds"] == verdict


@pytest.mark.parametrize("sil,spread,verdict", [(-0.05, 0.1, "yes"), (-0.3, 0.1, "no"), (-0.165, 0.3, "inconclusive")])
def test_class_structure_rule_against_chance(workdir, sil, spread, verdict):
    _exp(claims.CODES_EXPERIMENT, silhouette=sil, silhouette_chance=-0.17, silhouette_per_point=_points(sil, spread),
         silhouette_chance_per_point=_points(-0.17, 0.01))
    assert claims.claim_codes_class(_params([claims.CODES_EXPERIMENT]))["holds"] == verdict


def test_an_untrained_model_makes_its_claims_untested(workdir):
    _exp(claims.CODES_EXPERIMENT, loss=1.03, silhouette=-0.05, silhouette_chance=-0.17,
         silhouette_per_point=_points(-0.05, 0.1), silhouette_chance_per_point=_points(-0.17, 0.01))
    row = claims.claim_codes_class(_params([claims.CODES_EXPERIMENT]))
    assert row["holds"] == "untested"
    assert "uniform_t has learned the score FAILED: 1.03" in row["note"]


def _sweep(means, spread, small_t_chance=-0.17, loss=0.1, seeds=(0, 1, 2, 3)):
    rows = [{"t": t, "seed": s, "silhouette": m + spread * rng.standard_normal(),
             "silhouette_chance": small_t_chance, "dsm_test": loss, "dsm_zero_score": 1.0}
            for t, m in zip((0.1, 0.5, 0.9), means) for s in seeds]
    sweep_results_dir().mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(sweep_results_dir() / "silhouette.csv", index=False)
    _write(sweep_results_dir() / "metrics.json", {"dataset": "d", "pool": 1, "seeds": list(seeds), "n_iters": 5,
                                                  "n_test": 10})


@pytest.mark.parametrize("means,spread,verdict", [([-0.17, 0.1, -0.2], 0.01, "yes"),
                                                  ([0.2, 0.3, 0.1], 0.01, "no"),     # class info at small t
                                                  ([-0.17, -0.16, -0.18], 0.05, "inconclusive")])
def test_silhouette_shape_rule(workdir, means, spread, verdict):
    _sweep(means, spread)
    assert claims.claim_silhouette_vs_t({})["holds"] == verdict


def test_a_sweep_run_that_has_not_learned_fails_its_gate(workdir):
    _sweep([-0.17, 0.1, -0.2], 0.01, loss=1.2)
    row = claims.claim_silhouette_vs_t({})
    assert row["holds"] == "untested" and "sweep run t=0.1 seed 0 has learned the score FAILED" in row["note"]


@pytest.mark.parametrize("diff,verdict", [(0.2, "yes"), (-0.1, "no"), (0.05, "inconclusive")])
def test_sigma_uniform_rule(workdir, diff, verdict):
    base = np.asarray(_points(-0.1, 0.2))
    spread = 0.5 if verdict == "inconclusive" else 0.01
    _exp(claims.SIGMA_EXPERIMENT, silhouette=-0.1 + diff,
         silhouette_per_point=(base + diff + spread * rng.standard_normal(N)).tolist())
    _exp(claims.CODES_EXPERIMENT, silhouette=-0.1, silhouette_per_point=base.tolist())
    row = claims.claim_sigma_uniform(_params([claims.SIGMA_EXPERIMENT, claims.CODES_EXPERIMENT]))
    assert row["holds"] == verdict


@pytest.mark.parametrize("coded,se,unconditional,verdict", [(0.16, 0.002, 0.47, "yes"), (0.50, 0.002, 0.47, "no"),
                                                            (0.459, 0.01, 0.47, "inconclusive"),
                                                            (0.16, 0.002, 0.9, "untested")])  # toy gate fails
def test_toy_constant_rule(workdir, coded, se, unconditional, verdict):
    _write(toy_dir() / "metrics.json", {"dim": 2, "mean": 0.5, "variance": 0.25, "constant_closed_form": 0.459,
                                        "constant_monte_carlo": 0.456, "unconditional_eval_loss": unconditional,
                                        "code_conditioned_eval_loss": coded, "code_conditioned_eval_loss_se": se})
    assert claims.claim_constant_toy(_params([]))["holds"] == verdict


@pytest.mark.parametrize("loss,se,verdict", [(0.004, 0.0002, "yes"), (0.12, 0.004, "no"),
                                             (0.005, 0.004, "inconclusive")])
def test_image_constant_rule(workdir, loss, se, verdict):
    _exp(claims.CODES_EXPERIMENT, model_loss_at_constant_draws=loss, model_minus_constant_stderr=se)
    assert claims.claim_constant_images(_params([claims.CODES_EXPERIMENT]))["holds"] == verdict


@pytest.mark.parametrize("gap,spread,verdict", [(0.1, 0.01, "yes"), (-0.05, 0.01, "no"), (0.01, 0.3, "inconclusive")])
def test_denoise_gap_rule(workdir, gap, spread, verdict):
    own = np.abs(np.asarray(_points(0.1, 0.02))) + 0.01
    other = own * (1 + gap) + spread * own * rng.standard_normal(N)
    _exp(claims.CODES_EXPERIMENT, denoise_own=float(own.mean()), denoise_other=float(other.mean()),
         denoise_own_per_image=own.tolist(), denoise_other_per_image=other.tolist())
    assert claims.claim_denoise_gap(_params([claims.CODES_EXPERIMENT]))["holds"] == verdict


def _noise_check(samples):
    return {"samples": samples, "bernoulli_noise": 9.9, "real": 4.5, "n": 32, "noise_like": samples > 7.2}


@pytest.mark.parametrize("divs,spread,samples,verdict", [((6.0, 5.0, 4.0), 0.05, 4.8, "yes"),
                                                         ((4.0, 5.0, 6.0), 0.05, 4.8, "no"),
                                                         ((5.0, 4.95, 4.9), 0.5, 4.8, "inconclusive"),
                                                         ((6.0, 5.0, 4.0), 0.05, 9.1, "untested")])  # noise samples
def test_diversity_rule(workdir, divs, spread, samples, verdict):
    for name, dim, div in zip(claims.DIVERSITY_BY_DIM, (1, 2, 8), divs):
        _exp(name, code_dim=dim, diversity_per_code=(div + spread * np.array([-1, 1, -1, 1, -1, 1])).tolist(),
             samples_noise_check=_noise_check(samples))
    row = claims.claim_diversity(_params(claims.DIVERSITY_BY_DIM))
    assert row["holds"] == verdict
    if verdict == "untested":
        assert "samples look like digits FAILED: mean pairwise distance 9.1 vs noise 9.9" in row["note"]
        assert claims.DECIDING_PROFILE in row["note"]


def test_missing_inputs_are_untested(workdir):
    table = claims.evaluate(_params([]))
    assert list(table.columns) == claims.ROW_COLUMNS
    assert set(table["holds"]) == {"untested"}
