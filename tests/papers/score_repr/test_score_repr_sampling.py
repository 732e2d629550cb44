"""The predictor-corrector sampler of the reverse VE SDE, driven by the exact score of a Gaussian, recovers the
Gaussian's mean and variance."""

import pytest
import torch

from scorerepro.papers.score_repr.sampling import noise_levels, pc_sample
from scorerepro.papers.score_repr.sde import VESDE
from scorerepro.papers.score_repr.toy import exact_score


@pytest.mark.parametrize("mu,var", [(0.5, 0.25), (-1.0, 2.0)])
def test_reverse_sde_with_exact_score_recovers_mean_and_variance(mu, var):
    sde = VESDE(0.01, 50.0)
    g = torch.Generator().manual_seed(0)
    x = pc_sample(lambda x, sigma: exact_score(x, sigma, mu, var), sde, (2000, 16), n_steps=200, snr=0.16,
                  t_eps=1e-5, generator=g)
    assert float(x.mean()) == pytest.approx(mu, abs=0.03)
    assert float(x.var()) == pytest.approx(var, rel=0.05)


def test_noise_levels_run_from_sigma_max_to_zero():
    sig = noise_levels(VESDE(0.01, 50.0), 10, 1e-5)
    assert float(sig[0]) == pytest.approx(50.0)
    assert float(sig[-1]) == 0.0
    assert bool((sig[:-1] > sig[1:]).all())
