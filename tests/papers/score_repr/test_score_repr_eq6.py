"""Eq. 6: a code that is a deterministic function of x_0 lets the DSM loss fall below the unconditional constant on
the Gaussian toy, while an unconditional model stays at or above it; the image estimate of the constant agrees with
the closed form on Gaussian data."""

import pytest
import torch

from scorerepro.papers.score_repr.constant import draws, empirical_constant, posterior_mean
from scorerepro.papers.score_repr.sde import VESDE, gaussian_constant
from scorerepro.papers.score_repr.toy import evaluate_toy, train_toy

SETTINGS = {"hidden": 32, "lr": 0.003, "n_iters": 400, "batch_size": 256}


def test_a_deterministic_code_takes_the_loss_below_the_constant_and_no_code_does_not():
    torch.set_num_threads(1)
    sde = VESDE(0.01, 50.0)
    const = gaussian_constant(sde, 0.25, 1e-5)
    losses = {}
    for conditional in (False, True):
        model, _ = train_toy(sde, 0.5, 0.25, 2, conditional, SETTINGS, 1e-5, seed=3)
        losses[conditional] = evaluate_toy(model, sde, 0.5, 0.25, 2, conditional, 20000, 1e-5, seed=4)
    assert losses[False] > const * 0.97  # cannot go below (up to Monte Carlo error)
    assert losses[True] < const * 0.85


def test_posterior_mean_of_an_empirical_distribution_matches_a_direct_softmax():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(7, 3, generator=g)
    xt = torch.randn(4, 3, generator=g)
    sigma = torch.tensor([0.1, 0.5, 1.0, 5.0])
    expected = []
    for i in range(4):
        w = torch.tensor([float(torch.exp(-((xt[i] - d) ** 2).sum() / (2 * sigma[i] ** 2))) for d in data],
                         dtype=torch.float64)
        expected.append((w[:, None] * data.double()).sum(0) / w.sum())
    assert torch.allclose(posterior_mean(xt, data, sigma).double(), torch.stack(expected), atol=1e-5)


def test_empirical_constant_of_many_gaussian_points_approaches_the_closed_form():
    """With many data points the empirical distribution is close to the Gaussian at the noise levels that carry the
    constant, so the image estimator must give nearly the closed form."""
    sde = VESDE(0.01, 50.0)
    g = torch.Generator().manual_seed(1)
    var, d = 1.0, 1
    data = torch.randn(20000, d, generator=g) * var ** 0.5
    idx, t, noise = draws(sde, len(data), d, 4000, 1e-5, g)
    est = float(empirical_constant(sde, data, data[idx], t, noise).mean())
    assert est == pytest.approx(gaussian_constant(sde, var, 1e-5), rel=0.08)
