"""Verdicts come from the measured numbers by the rule in the note: a run whose numbers satisfy the rule says yes,
one that does not says no, a missing input says untested."""

import json

import pytest

from scorerepro.papers.score_repr import claims
from scorerepro.papers.score_repr.locations import results_dir, sweep_results_dir


def _params(names):
    return {"score_repr": {"experiments": {n: {} for n in names}}}


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _exp(name, **kw):
    base = {"dataset": "mnist_embedded", "pool": 2, "image_shape": [1, 14, 14], "n_test": 10, "code_dim": 2}
    _write(results_dir(name) / "metrics.json", base | kw)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("means,holds", [([-0.17, 0.1, -0.2], "yes"),   # at chance, peak, falls
                                         ([0.01, 0.3, 0.1], "no"),     # 0 is 0.18 above chance: class info at small t
                                         ([-0.17, -0.18, 0.2], "no")])  # no interior peak
def test_silhouette_shape_rule(workdir, means, holds):
    _write(sweep_results_dir() / "metrics.json", {"t_values": [0.1, 0.5, 0.9], "silhouette_mean": means,
                                                  "silhouette_std": [0.01] * 3, "silhouette_chance_mean": [-0.17] * 3,
                                                  "dataset": "d", "pool": 2, "seeds": [0, 1, 2], "n_iters": 5,
                                                  "n_test": 10})
    assert claims.claim_silhouette_vs_t({})["holds"] == holds


@pytest.mark.parametrize("corr,sil,holds", [(0.9, -0.05, "yes"),  # 0.12 above chance counts as class structure
                                            (0.9, -0.15, "no"),   # within the margin of chance
                                            (0.3, 0.2, "no")])    # no coordinate follows ink
def test_codes_rule_against_chance(workdir, corr, sil, holds):
    _exp(claims.CODES_EXPERIMENT, ink_correlation_max=corr, ink_correlation_max_untrained=0.5, silhouette=sil,
         silhouette_chance=-0.17)
    assert claims.claim_codes(_params([claims.CODES_EXPERIMENT]))["holds"] == holds


def test_missing_inputs_are_untested(workdir):
    table = claims.evaluate_claims(_params([]))
    assert set(table["holds"]) == {"untested"}


@pytest.mark.parametrize("divs,holds", [((3.0, 2.0, 1.0), "yes"), ((3.0, 3.5, 1.0), "no")])
def test_diversity_rule(workdir, divs, holds):
    for name, dim, div in zip(claims.DIVERSITY_BY_DIM, (1, 2, 8), divs):
        _exp(name, code_dim=dim, diversity=div)
    assert claims.claim_diversity(_params(claims.DIVERSITY_BY_DIM))["holds"] == holds


@pytest.mark.parametrize("sig_sigma,sig_t,holds", [(0.3, 0.1, "yes"), (0.1, 0.3, "no")])
def test_sigma_uniform_rule(workdir, sig_sigma, sig_t, holds):
    _exp(claims.SIGMA_EXPERIMENT, silhouette=sig_sigma)
    _exp(claims.CODES_EXPERIMENT, silhouette=sig_t)
    assert claims.claim_sigma_uniform(_params([claims.SIGMA_EXPERIMENT, claims.CODES_EXPERIMENT]))["holds"] == holds


@pytest.mark.parametrize("own,other,holds", [(0.1, 0.2, "yes"), (0.2, 0.1, "no")])
def test_denoise_gap_rule(workdir, own, other, holds):
    _exp(claims.CODES_EXPERIMENT, denoise_own=own, denoise_other=other, denoise_gap=other - own,
         denoise_own_per_t=[own], denoise_other_per_t=[other], denoise_t=[0.5])
    assert claims.claim_denoise_gap(_params([claims.CODES_EXPERIMENT]))["holds"] == holds
