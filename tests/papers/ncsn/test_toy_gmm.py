import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from scorerepro.papers.ncsn.toy_gmm import GaussianMixture2D, seed000_gmm

torch.set_default_dtype(torch.float32)


def _three_component():
    return GaussianMixture2D([0.5, 0.3, 0.2], [[0.0, 0.0], [3.0, -1.0], [-2.0, 4.0]], std=1.3)


def _scipy_logpdf(x, weights, means, var):
    dens = sum(w * multivariate_normal(mean=m, cov=var * np.eye(2)).pdf(x) for w, m in zip(weights, means))
    return np.log(dens)


def test_log_prob_matches_scipy_mixture():
    gmm = _three_component()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=g, dtype=torch.float64) * 3
    ours = gmm.log_prob(x).numpy()
    ref = _scipy_logpdf(x.numpy(), [0.5, 0.3, 0.2], [[0, 0], [3, -1], [-2, 4]], 1.3**2)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


def test_density_integrates_to_one():
    gmm = seed000_gmm()
    h = 0.05
    grid = torch.arange(-12, 12 + h / 2, h, dtype=torch.float64)
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    pts = torch.stack([xx.flatten(), yy.flatten()], dim=1)
    total = gmm.log_prob(pts).exp().sum().item() * h * h
    assert total == pytest.approx(1.0, abs=1e-6)


def test_score_equals_autograd_gradient_of_log_prob():
    gmm = _three_component()
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(300, 2, generator=g, dtype=torch.float64) * 4).requires_grad_(True)
    auto = torch.autograd.grad(gmm.log_prob(x).sum(), x)[0]
    with torch.no_grad():
        exact = gmm.score(x)
    torch.testing.assert_close(exact, auto, rtol=1e-10, atol=1e-10)


def _convolved_log_density(x, weights, means, var):
    # Written out independently of the class: sum_k w_k N(x; mu_k, var I) in 2-D.
    comps = []
    for w, m in zip(weights, means):
        m = torch.tensor(m, dtype=x.dtype)
        comps.append(math.log(w) - ((x - m) ** 2).sum(1) / (2 * var) - math.log(2 * math.pi * var))
    return torch.logsumexp(torch.stack(comps), dim=0)


@pytest.mark.parametrize("sigma", [0.3, 2.0, 20.0])
def test_perturbed_score_equals_score_of_convolved_mixture(sigma):
    gmm = _three_component()
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(300, 2, generator=g, dtype=torch.float64) * 5).requires_grad_(True)
    var = 1.3**2 + sigma**2
    ref = torch.autograd.grad(_convolved_log_density(x, [0.5, 0.3, 0.2], [[0, 0], [3, -1], [-2, 4]], var).sum(), x)[0]
    torch.testing.assert_close(gmm.perturbed_score(x.detach(), sigma), ref, rtol=1e-10, atol=1e-10)
    # And perturbed_log_prob is that same log-density.
    torch.testing.assert_close(
        gmm.perturbed_log_prob(x.detach(), sigma),
        _convolved_log_density(x.detach(), [0.5, 0.3, 0.2], [[0, 0], [3, -1], [-2, 4]], var),
    )


def test_perturbed_score_matches_monte_carlo_tweedie():
    # grad log q_sigma(y) = (E[x | y] - y) / sigma^2, with E[x | y] estimated by self-normalised importance
    # weights N(y; x_j, sigma^2) over i.i.d. draws x_j ~ p.
    gmm = seed000_gmm()
    sigma = 3.0
    g = torch.Generator().manual_seed(3)
    xs = gmm.sample(400_000, generator=g, dtype=torch.float64)
    ys = torch.tensor([[0.0, 0.0], [2.0, -1.0], [-4.0, -6.0], [6.0, 4.0]], dtype=torch.float64)
    logw = -((ys[:, None, :] - xs[None, :, :]) ** 2).sum(-1) / (2 * sigma**2)
    w = torch.softmax(logw, dim=1)
    post_mean = w @ xs
    mc = (post_mean - ys) / sigma**2
    exact = gmm.perturbed_score(ys, sigma)
    # MC error here is about 1e-3; the unconvolved variance (sigma^2 alone) would be off by 0.03 or more.
    torch.testing.assert_close(mc, exact, rtol=0, atol=0.01)


def test_perturbed_score_sigma_to_zero_limit_and_per_sample_sigma():
    gmm = seed000_gmm()
    g = torch.Generator().manual_seed(4)
    x = torch.randn(100, 2, generator=g, dtype=torch.float64) * 6
    torch.testing.assert_close(gmm.perturbed_score(x, 1e-6), gmm.score(x), rtol=1e-9, atol=1e-9)
    sig = torch.linspace(0.1, 10, 100, dtype=torch.float64)
    per = gmm.perturbed_score(x, sig)
    one_by_one = torch.stack([gmm.perturbed_score(x[i: i + 1], sig[i].item())[0] for i in range(100)])
    torch.testing.assert_close(per, one_by_one)


def test_official_toy_score_uses_sigma_as_component_std():
    gmm = seed000_gmm()
    x = torch.tensor([[1.0, -2.0], [7.0, 3.0]], dtype=torch.float64).requires_grad_(True)
    sigma = 4.0
    ref = torch.autograd.grad(_convolved_log_density(x, [0.2, 0.8], [[-5, -5], [5, 5]], sigma**2).sum(), x)[0]
    torch.testing.assert_close(gmm.official_toy_score(x.detach(), sigma), ref)
    # At sigma = data std (1) it is the data score itself.
    torch.testing.assert_close(gmm.official_toy_score(x.detach(), 1.0), gmm.score(x.detach()))


def test_score_is_finite_far_from_the_modes():
    gmm = seed000_gmm()
    x = torch.tensor([[1e20, -1e20], [3e30, 3e30], [-1e25, 5.0]])
    s = gmm.score(x)
    assert torch.isfinite(s).all()
    # Far away the score points back: -(x - nearest mean) / 1.
    assert s[1, 0].item() == pytest.approx(-3e30, rel=1e-6)


def test_score_net_adapter_uses_per_sample_levels():
    gmm = seed000_gmm()
    sigmas = torch.tensor([10.0, 1.0, 0.1])
    net = gmm.score_net(sigmas)
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    labels = torch.tensor([0, 1, 2])
    out = net(x, labels)
    for i in range(3):
        torch.testing.assert_close(out[i], gmm.perturbed_score(x[i: i + 1], sigmas[i].item())[0])
    off = gmm.score_net(sigmas, official=True)(x, labels)
    torch.testing.assert_close(off[1], gmm.score(x[1:2])[0])


def test_sample_weights_and_moments():
    gmm = seed000_gmm()
    g = torch.Generator().manual_seed(5)
    n = 50_000
    x = gmm.sample(n, generator=g)
    assert x.shape == (n, 2) and x.dtype == torch.float32
    frac = gmm.component_fraction(x)
    se = math.sqrt(0.2 * 0.8 / n)
    assert abs(frac[0].item() - 0.2) < 4 * se and abs(frac[1].item() - 0.8) < 4 * se
    right = x[gmm.assign_modes(x) == 1].double()
    assert right.mean(0).sub(5.0).abs().max().item() < 0.05
    cov = torch.cov(right.T)
    torch.testing.assert_close(cov, torch.eye(2, dtype=torch.float64), atol=0.05, rtol=0)
    # Same seed, same draws.
    x2 = gmm.sample(n, generator=torch.Generator().manual_seed(5))
    assert torch.equal(x, x2)


def test_assign_modes_nearest_mean():
    gmm = seed000_gmm()
    x = torch.tensor([[-4.0, -6.0], [0.1, 0.0], [-0.1, 0.0], [9.0, 1.0]])
    assert gmm.assign_modes(x).tolist() == [0, 1, 0, 1]
    assert gmm.component_fraction(x).tolist() == [0.5, 0.5]


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(weights=[0.5, 0.6], means=[[0, 0], [1, 1]]), "sum to 1"),
        (dict(weights=[1.2, -0.2], means=[[0, 0], [1, 1]]), "-0.2"),
        (dict(weights=[0.5, 0.5], means=[[0, 0]]), "shape (1, 2)"),
        (dict(weights=[0.5, 0.5], means=[[0, 0], [1, 1]], std=0.0), "0.0"),
    ],
)
def test_bad_mixture_arguments(kwargs, needle):
    with pytest.raises(ValueError) as err:
        GaussianMixture2D(**kwargs)
    assert needle in str(err.value)


def test_wrong_point_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(N, 2\).*\(5, 3\)"):
        seed000_gmm().score(torch.zeros(5, 3))
