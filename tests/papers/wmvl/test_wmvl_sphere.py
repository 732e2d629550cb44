"""Stereographic chart, Riemannian Langevin on S^1 against the von Mises distribution, the vMF mixtures against scipy,
and the power spherical distribution against Monte Carlo."""

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from scorerepro.data.synthetic import wmvl_circle_mixture, wmvl_sphere_mixture
from scorerepro.papers.wmvl import sphere
from scorerepro.papers.wmvl.autoencoders import PowerSpherical


def test_chart_round_trip_both_hemispheres():
    y = sphere.uniform_sphere(1000, 4, torch.Generator().manual_seed(0), dtype=torch.float64)
    x, s = sphere.to_chart(y)
    assert (x.norm(dim=-1) <= 1 + 1e-12).all()
    assert torch.allclose(sphere.embed(x, s), y, atol=1e-12)


def test_riemannian_langevin_on_the_circle_reproduces_von_mises_mean_and_concentration():
    kappa, mu_angle = 2.0, 0.7
    mu = torch.tensor([math.cos(mu_angle), math.sin(mu_angle)], dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    y = sphere.uniform_sphere(3000, 2, gen, dtype=torch.float64)
    y = sphere.sample_langevin(lambda v: -kappa * (v @ mu), y, 5e-3, 600, generator=gen)
    resultant = y.mean(0)
    angle = math.atan2(float(resultant[1]), float(resultant[0]))
    length = float(resultant.norm())
    assert angle == pytest.approx(mu_angle, abs=0.05)
    assert length == pytest.approx(special.i1(kappa) / special.i0(kappa), abs=0.03)


def test_riemannian_mvl_control_variate_keeps_the_mean_and_cuts_the_variance():
    mu = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    y = torch.from_numpy(wmvl_sphere_mixture().sample(20000, np.random.default_rng(0)))
    noise = torch.randn(20000, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    e = lambda v: -3.0 * (v @ mu)  # noqa: E731
    a = sphere.riemannian_mvl(e, y, 1e-5, noise=noise).detach()
    b = sphere.riemannian_mvl(e, y, 1e-5, noise=noise, control_variate=False).detach()
    assert abs(float(a.mean() - b.mean())) < 4 * float(b.std()) / math.sqrt(20000)
    assert float(b.var()) > 100 * float(a.var())


def test_vmf_mixtures_agree_with_scipy():
    for mix in (wmvl_circle_mixture(), wmvl_sphere_mixture()):
        pts = mix.sample(2000, np.random.default_rng(3))
        dens = sum(w * stats.vonmises_fisher(m, k).pdf(pts) for w, m, k in zip(mix.weights, mix.means, mix.kappas))
        assert np.allclose(mix.log_prob(pts), np.log(dens), atol=1e-8)
        # Sample mean against sum_k w_k A_p(kappa_k) mu_k (A_p = I_{p/2} / I_{p/2-1}).
        p = pts.shape[1]
        a = special.ive(p / 2, mix.kappas) / special.ive(p / 2 - 1, mix.kappas)
        expected = (mix.weights[:, None] * a[:, None] * mix.means).sum(0)
        big = mix.sample(200_000, np.random.default_rng(4))
        assert np.allclose(big.mean(0), expected, atol=0.01)


def test_power_spherical_entropy_and_kl_against_monte_carlo():
    mu = torch.nn.functional.normalize(torch.tensor([[0.3, -0.2, 0.9, 0.1]]), dim=-1).repeat(100_000, 1)
    q = PowerSpherical(mu, torch.full((100_000,), 4.0))
    torch.manual_seed(5)
    z = q.rsample()
    assert torch.allclose(z.norm(dim=-1), torch.ones(100_000), atol=1e-5)
    assert float(-q.log_prob(z).mean()) == pytest.approx(float(q.entropy()[0]), abs=0.02)
    kl_mc = float((q.log_prob(z) + sphere.log_sphere_area(4)).mean())
    assert kl_mc == pytest.approx(float(q.kl_to_uniform()[0]), abs=0.02)
    assert float(q.kl_to_uniform()[0]) > 0
