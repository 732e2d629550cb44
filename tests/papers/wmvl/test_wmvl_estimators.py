"""The estimators against closed forms for a Gaussian energy E(x) = 1/2 x^T A x on data N(0, S):
J_SM = E[1/2 |Ax|^2 - tr A] = 1/2 tr(A S A) - tr A; the Fisher divergence F = 1/2 E|S^-1 x - A x|^2 = J + 1/2 tr S^-1."""

import math

import pytest
import torch

from scorerepro.papers.wmvl import estimators as est

F64 = torch.float64
A = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]], dtype=F64)
S = torch.tensor([[1.0, 0.3, 0.0], [0.3, 0.8, 0.0], [0.0, 0.0, 2.0]], dtype=F64)
J = float(0.5 * torch.trace(A @ S @ A) - torch.trace(A))
FISHER = J + 0.5 * float(torch.trace(torch.linalg.inv(S)))


def energy(x):
    return 0.5 * ((x @ A) * x).sum(-1)


def data(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(S).T


def _mean_se(v):
    return float(v.mean()), float(v.std() / math.sqrt(v.numel()))


def test_exact_and_sliced_sm_match_the_closed_form():
    x = data(100_000)
    m, _ = _mean_se(est.exact_sm(energy, x).detach())
    assert m == pytest.approx(J, abs=0.02)
    ms, se = _mean_se(est.sliced_sm(energy, x, generator=torch.Generator().manual_seed(1)).detach())
    assert abs(ms - J) < 4 * se


@pytest.mark.parametrize("eps", [0.1, 0.01])
def test_mvl_mean_at_finite_eps_is_the_taylor_closed_form(eps):
    # For a quadratic energy E[MVL] = J - eps/8 E[g^T A g] exactly (g = A x): the eps -> 0 limit is J.
    x = data(200_000, 2)
    v = est.mvl_langevin(energy, x, eps, generator=torch.Generator().manual_seed(3)).detach()
    m, se = _mean_se(v)
    expected = J - eps / 8 * float(torch.trace(A @ A @ A @ S))
    assert abs(m - expected) < 4 * se + 1e-3


def test_mvl_converges_to_the_score_matching_objective():
    x = data(200_000, 4)
    m, se = _mean_se(est.mvl_langevin(energy, x, 1e-5, generator=torch.Generator().manual_seed(5)).detach())
    assert abs(m - J) < 4 * se + 1e-3


def test_control_variate_keeps_the_mean_and_bounds_the_variance():
    x = data(100_000, 6)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=F64)
    var = {}
    for eps in (1e-3, 1e-5):
        with_cv = est.mvl_langevin(energy, x, eps, noise=noise).detach()
        without = est.mvl_langevin(energy, x, eps, noise=noise, control_variate=False).detach()
        m1, se1 = _mean_se(with_cv)
        m0, se0 = _mean_se(without)
        assert abs(m1 - m0) < 4 * max(se0, se1)
        var[eps] = (float(with_cv.var()), float(without.var()))
    # Without the CV the variance grows as 1/eps (x100 here); with it it stays put.
    assert 50 < var[1e-5][1] / var[1e-3][1] < 200
    assert 0.8 < var[1e-5][0] / var[1e-3][0] < 1.25


def test_variance_reduced_dsm_tends_to_twice_the_fisher_divergence_up_to_its_constant():
    x = data(200_000, 8)
    v = est.dsm_variance_reduced(energy, x, 1e-4, generator=torch.Generator().manual_seed(9)).detach()
    m, se = _mean_se(v)
    assert abs(m - 2 * J) < 4 * se + 5e-3
    # 2 J = 2 F - tr S^-1: the same number through the Fisher divergence.
    assert abs(m + float(torch.trace(torch.linalg.inv(S))) - 2 * FISHER) < 4 * se + 5e-3


def test_dsm_control_variate_keeps_the_mean_and_cuts_the_variance():
    x = data(100_000, 10)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(11), dtype=F64)
    a = est.dsm_variance_reduced(energy, x, 1e-4, noise=noise).detach()
    b = est.dsm_variance_reduced(energy, x, 1e-4, noise=noise, control_variate=False).detach()
    assert abs(float(a.mean() - b.mean())) < 4 * float(b.std()) / math.sqrt(b.numel())
    assert float(b.var()) > 50 * float(a.var())


def test_cd1_control_variate_leaves_the_mean_unchanged():
    x = data(100_000, 12)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(13), dtype=F64)
    a = est.cd1(energy, x, 1e-3, noise=noise).detach()
    b = est.cd1(energy, x, 1e-3, noise=noise, control_variate=False).detach()
    assert abs(float(a.mean() - b.mean())) < 4 * float(b.std()) / math.sqrt(b.numel())
    assert float(b.var()) > 10 * float(a.var())


def test_rescaled_steps_follow_the_authors_rule():
    g = torch.tensor([[0.5, 0.0], [3.0, 4.0]])
    assert est.rescaled_steps(0.1, g, True).tolist() == pytest.approx([0.1, 0.1 / 25])
    assert est.rescaled_steps(0.1, g, False).tolist() == pytest.approx([0.1, 0.1])


def test_mvl_gives_gradients_to_the_energy_parameters():
    from scorerepro.papers.wmvl.energies import InnerProductEnergy

    net = InnerProductEnergy(2, 8, 2, "swish", spectral_norm=True).double()
    est.mvl_langevin(net, torch.randn(16, 2, dtype=F64), 1e-3).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)
