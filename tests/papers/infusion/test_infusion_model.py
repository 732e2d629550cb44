"""Infusion's model against independent answers: scipy densities, the infusion mask's rate, per-step batch norm,
and a linear-Gaussian chain whose log-likelihood is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from scorerepro.papers.infusion.model import (FactorialGaussian, InfusionModel, Schedule, calibrate_batch_norm,
                                              gaussian_log_density, infuse, log_likelihood_estimates,
                                              mixture_log_density, sample_chain)


def test_gaussian_log_density_matches_scipy():
    g = torch.Generator().manual_seed(0)
    x, m = torch.rand(50, generator=g, dtype=torch.float64), torch.rand(50, generator=g, dtype=torch.float64)
    v = torch.rand(50, generator=g, dtype=torch.float64) * 0.1 + 1e-4
    ours = gaussian_log_density(x, m, v).numpy()
    ref = stats.norm.logpdf(x.numpy(), loc=m.numpy(), scale=np.sqrt(v.numpy()))
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_mixture_log_density_matches_scipy():
    g = torch.Generator().manual_seed(1)
    z, x, m = (torch.rand(40, generator=g, dtype=torch.float64) for _ in range(3))
    v = torch.full_like(z, 0.05)
    ours = mixture_log_density(z, x, m, v, 0.3, 1e-2).numpy()
    ref = np.log(0.7 * stats.norm.pdf(z, m, np.sqrt(0.05)) + 0.3 * stats.norm.pdf(z, x, 0.1))
    np.testing.assert_allclose(ours, ref, rtol=1e-9)


def test_factorial_prior_fits_per_pixel_moments():
    x = torch.rand(1000, 6, generator=torch.Generator().manual_seed(2))
    p = FactorialGaussian(6, var_floor=0.0).fit(x)
    torch.testing.assert_close(p.mean, x.mean(0))
    torch.testing.assert_close(p.var, x.var(0, unbiased=False))


@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.3, 0.9])
def test_infusion_mask_rate_is_alpha(alpha):
    x = torch.zeros(200, 500)
    _, mask = infuse(x, torch.ones_like(x), torch.full_like(x, 1e-2), alpha, 1e-4, torch.Generator().manual_seed(3))
    n = mask.numel()
    assert abs(mask.mean().item() - alpha) <= 4 * math.sqrt(alpha * (1 - alpha) / n) + 1e-12


def test_schedule_increasing_and_constant():
    s = Schedule("increasing", 0.0, 0.01, 15)
    assert [round(s.alpha(t), 10) for t in (0, 1, 14)] == [0.0, 0.01, 0.14]
    assert Schedule("constant", 0.2, 0.5, 5).alpha(4) == 0.2
    assert Schedule("increasing", 0.5, 0.3, 5).alpha(3) == 1.0  # clipped


def test_batch_norm_statistics_are_separate_per_step():
    torch.manual_seed(0)
    model = InfusionModel(dim=10, hidden=6, layers=2, n_steps=3)
    x = torch.rand(300, 10, generator=torch.Generator().manual_seed(4))
    model.prior.fit(x)
    calibrate_batch_norm(model, x, Schedule("increasing", 0.0, 0.4, 3), 1e-4, torch.Generator().manual_seed(5))
    first = model.net.norms[0]
    # each step's statistics are those of its own inputs: different per step
    assert not torch.allclose(first[0].running_mean, first[1].running_mean)
    assert not torch.allclose(first[1].running_mean, first[2].running_mean)
    # and step 1's equal the statistics of the prior draws' first-layer activations, computed directly
    g = torch.Generator().manual_seed(5)
    z, _ = infuse(x[:300], model.prior.mean.expand_as(x), model.prior.var.expand_as(x), 0.0, 1e-4, g)
    act = model.net.linears[0](z)
    torch.testing.assert_close(first[0].running_mean, act.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(first[0].running_var, act.var(0, unbiased=True), rtol=1e-4, atol=1e-5)
    # the parameters are separate modules per step (only the linears are shared)
    assert first[0].weight is not first[1].weight
    assert len(list(model.net.linears.parameters())) == 4


def test_extra_sampling_steps_reuse_last_step():
    torch.manual_seed(0)
    model = InfusionModel(dim=4, hidden=3, layers=1, n_steps=2).eval()
    z = torch.rand(5, 4)
    for a, b in zip(model.net(z, 2), model.net(z, 7)):
        torch.testing.assert_close(a, b)
    assert sample_chain(model, 3, 6, torch.Generator().manual_seed(0)).shape == (7, 3, 4)


class LinearGaussianStep(nn.Module):
    """p(t)(z' | z) = N(a z + b, s) per pixel: with a factorial-Gaussian prior the marginal of x is Gaussian."""

    def __init__(self, a: float, b: float, s: float):
        super().__init__()
        self.a, self.b, self.s = a, b, s

    def forward(self, z, step):
        return self.a * z + self.b, torch.full_like(z, self.s)


def test_linear_gaussian_lower_bound_below_is_below_truth_and_gap_shrinks():
    dim, a, b, s = 3, 0.8, 0.1, 0.05
    model = InfusionModel(dim=dim, hidden=2, layers=1, n_steps=2)
    model.prior.mean.fill_(0.4)
    model.prior.var.fill_(0.1)
    model.prior.var_floor = 0.0
    model.net = LinearGaussianStep(a, b, s)
    # truth: z0 ~ N(0.4, 0.1), z1 = a z0 + b + N(0, s), x = a z1 + b + N(0, s)
    mean = a * (a * 0.4 + b) + b
    var = a * a * (a * a * 0.1 + s) + s
    g = torch.Generator().manual_seed(6)
    x = (mean + math.sqrt(var) * torch.randn(200, dim, generator=g)).double()
    model = model.double()
    truth = stats.norm.logpdf(x.numpy(), mean, math.sqrt(var)).sum(1).mean()
    schedule = Schedule("increasing", 0.2, 0.2, 2)
    est = {}
    for k in (1, 10, 200):
        lb, is_ = log_likelihood_estimates(model, x, schedule, 0.05, k, torch.Generator().manual_seed(7),
                                           batch_size=4000)
        est[k] = (lb.mean().item(), is_.mean().item())
    lb = est[200][0]
    assert lb < est[10][1] < est[200][1] <= truth + 0.05
    assert truth - est[200][1] < truth - est[10][1] < truth - est[1][1]
    assert truth - est[200][1] < 0.1 * (truth - lb)


def test_best_independent_output_is_the_clipped_maximum_likelihood_fit():
    from scorerepro.papers.infusion.model import best_independent_log_likelihood

    g = torch.Generator().manual_seed(0)
    fit = torch.rand(200, 5, generator=g) * torch.tensor([1.0, 1.0, 1.0, 1.0, 0.001])
    best = best_independent_log_likelihood(fit, fit, 1e-4, 0.1).sum()
    var = fit.var(0, unbiased=False).clamp(1e-4, 0.1)
    for dm, dv in ((0.01, 0.0), (-0.01, 0.0), (0.0, 1e-3), (0.0, -1e-5)):
        other = gaussian_log_density(fit, fit.mean(0) + dm, (var + dv).clamp(1e-4, 0.1)).sum()
        assert other <= best
    # the last pixel's variance (~1e-7) is held at the variance head's floor
    assert torch.allclose(best_independent_log_likelihood(fit[:1], fit, 1e-4, 0.1),
                          gaussian_log_density(fit[:1], fit.mean(0), var).sum(1))
