"""AIS against closed-form marginal likelihoods: a linear-Gaussian decoder (HMC) and a vMF-shaped likelihood under a
uniform prior on S^2 (random-walk Metropolis on the sphere)."""

import math

import pytest
import torch

from scorerepro.papers.wmvl.ais import ais_log_likelihood, sigmoid_schedule
from scorerepro.papers.wmvl.autoencoders import log_prior, sample_prior


def test_sigmoid_schedule_runs_from_zero_to_one_monotonically():
    b = sigmoid_schedule(50)
    assert float(b[0]) == 0 and float(b[-1]) == pytest.approx(1.0)
    assert (b[1:] > b[:-1]).all()


def test_ais_matches_the_linear_gaussian_marginal_likelihood():
    gen = torch.Generator().manual_seed(0)
    d_z, d_x, sigma = 2, 5, 0.5
    W = torch.randn(d_x, d_z, generator=gen, dtype=torch.float64)
    b = torch.randn(d_x, generator=gen, dtype=torch.float64)
    x = torch.randn(3, d_x, generator=gen, dtype=torch.float64) * 2
    cov = W @ W.T + sigma ** 2 * torch.eye(d_x, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(b, cov).log_prob(x)

    def log_lik(z):  # z [B, C, d_z]
        mean = z @ W.T + b
        return (-0.5 * ((x[:, None, :] - mean) / sigma) ** 2).sum(-1) - d_x * math.log(sigma * math.sqrt(2 * math.pi))

    z0 = torch.randn(3, 16, d_z, generator=gen, dtype=torch.float64)
    res = ais_log_likelihood(lambda z: log_prior(z, "euclidean"), log_lik, z0, 300, kernel="hmc", step_size=0.1,
                             n_leapfrog=5, generator=gen)
    # AIS noise at this size is ~0.2 nats per point; a wrong weight or kernel is off by many nats.
    assert torch.allclose(res["log_px"], exact, atol=0.3)
    assert float((res["log_px"] - exact).abs().mean()) < 0.2


def test_ais_on_the_sphere_matches_the_vmf_normaliser():
    kappa = 5.0
    mu = torch.tensor([0.0, 0.6, 0.8], dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    z0 = sample_prior(4 * 16, "sphere", 3, gen).view(4, 16, 3).double()
    res = ais_log_likelihood(lambda z: log_prior(z, "sphere"), lambda z: kappa * (z @ mu), z0, 300,
                             kernel="sphere_rwm", step_size=0.3, generator=gen)
    # E_uniform[exp(kappa mu^T z)] on S^2 = sinh(kappa) / kappa.
    exact = math.log(math.sinh(kappa) / kappa)
    assert torch.allclose(res["log_px"], torch.full((4,), exact, dtype=torch.float64), atol=0.15)
    assert abs(float(res["log_px"].mean()) - exact) < 0.06
