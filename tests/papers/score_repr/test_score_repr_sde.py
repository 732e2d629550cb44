"""The VE SDE, its perturbation kernel and Eq. 6's constant against independent answers (torch.distributions,
autograd, scipy quadrature, Monte Carlo of DSM minus explicit score matching)."""

import math

import pytest
import torch
from scipy.integrate import quad

from scorerepro.papers.score_repr.sde import VESDE, gaussian_constant
from scorerepro.papers.score_repr.toy import exact_score


def test_sigma_schedule_endpoints_and_sigma_uniform_inverse():
    sde = VESDE(0.01, 50.0)
    assert sde.sigma(torch.tensor([0.0, 1.0])).tolist() == pytest.approx([0.01, 50.0])
    s = torch.tensor([0.01, 1.0, 25.0, 50.0])
    assert sde.sigma(sde.t_of_sigma(s)).tolist() == pytest.approx(s.tolist(), rel=1e-5)
    # sigma(t) uniform on [sigma_min, sigma_max] when t = t_for_sigma_uniform(u), u uniform
    u = torch.rand(200000, generator=torch.Generator().manual_seed(0))
    sig = sde.sigma(sde.t_for_sigma_uniform(u))
    assert float(sig.mean()) == pytest.approx((0.01 + 50.0) / 2, rel=0.01)


def test_kernel_score_is_the_gradient_of_the_gaussian_log_density():
    sde = VESDE(0.01, 50.0)
    x0 = torch.randn(5, 3)
    t = torch.rand(5)
    xt = (x0 + torch.randn(5, 3)).requires_grad_(True)
    std = sde.kernel_std(t)[:, None]
    logp = torch.distributions.Normal(x0, std).log_prob(xt).sum()
    (grad,) = torch.autograd.grad(logp, xt)
    assert torch.allclose(sde.kernel_score(xt.detach(), x0, t), grad, atol=1e-5)


def test_perturbation_kernel_moments_and_the_sde_variance():
    sde = VESDE(0.01, 50.0)
    g = torch.Generator().manual_seed(1)
    t = torch.full((200000,), 0.4)
    x0 = torch.full((200000, 1), 0.3)
    xt = sde.perturb(x0, t, torch.randn(200000, 1, generator=g))
    assert float(xt.mean()) == pytest.approx(0.3, abs=0.01)
    assert float(xt.var()) == pytest.approx(float(sde.sigma(t[:1])) ** 2, rel=0.02)
    # the forward SDE's variance grows at g(t)^2: d sigma^2 / dt = diffusion(t)^2
    tt = torch.tensor([0.37], dtype=torch.float64)
    h = 1e-4
    dvar = (sde.sigma(tt + h) ** 2 - sde.sigma(tt - h) ** 2) / (2 * h)
    assert float(dvar) == pytest.approx(float(sde.diffusion(tt) ** 2), rel=1e-4)


@pytest.mark.parametrize("var", [0.05, 0.25, 4.0])
def test_gaussian_constant_closed_form_equals_quadrature(var):
    sde = VESDE(0.01, 50.0)
    eps = 1e-5
    integrand = lambda t: var / (var + (0.01 * 5000 ** t) ** 2)  # noqa: E731
    expected = quad(integrand, eps, 1.0, limit=200)[0] / (1 - eps)
    assert gaussian_constant(sde, var, eps) == pytest.approx(expected, rel=1e-7)


def test_constant_equals_dsm_minus_explicit_score_matching():
    """For ANY score function s: DSM(s) - ESM(s) = the constant, with ESM = E lambda ||s - grad log p_t||^2."""
    sde = VESDE(0.01, 50.0)
    mu, var, d, n = 0.5, 0.25, 3, 400000
    g = torch.Generator().manual_seed(2)
    x0 = mu + math.sqrt(var) * torch.randn(n, d, generator=g)
    t = 1e-5 + (1 - 1e-5) * torch.rand(n, generator=g)
    noise = torch.randn(n, d, generator=g)
    sigma = sde.kernel_std(t)[:, None]
    xt = x0 + sigma * noise

    def s(x, sig):  # an arbitrary, wrong score model
        return -0.7 * (x - 0.1) / (0.3 + sig ** 2) + 0.05

    lam = sigma ** 2
    dsm = (lam * (s(xt, sigma) + noise / sigma) ** 2).mean()
    esm = (lam * (s(xt, sigma) - exact_score(xt, sigma[:, 0], mu, var)) ** 2).mean()
    assert float(dsm - esm) == pytest.approx(gaussian_constant(sde, var, 1e-5), rel=0.02)
