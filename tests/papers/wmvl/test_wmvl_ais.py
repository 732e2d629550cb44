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


# ----------------------------------------------------------------------------------------------------------------------
# The default profile's AIS settings against exact likelihoods on harder models: posteriors as sharp as a trained
# VAE's (std ~0.1 in 8 dimensions; a concentration-100 vMF on S^8, the sphere VAE's code space), 784-dimensional
# data. 1,000 steps (the paper's count, the profile's) are within 1 nat on average; 100 steps are off by many nats.

def _profile_ais():
    from pathlib import Path

    import yaml

    params = yaml.safe_load((Path(__file__).resolve().parents[3] / "params.yaml").read_text())
    return params["wmvl"]["defaults"]["eval"]["ais"]


def _linear_gaussian_error(d_z, d_x, sigma, a, n_steps):
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(d_x, d_z, generator=gen, dtype=torch.float64) / math.sqrt(d_z)
    b = torch.randn(d_x, generator=gen, dtype=torch.float64) * 0.1
    z = torch.randn(4, d_z, generator=gen, dtype=torch.float64)
    x = z @ W.T + b + sigma * torch.randn(4, d_x, generator=gen, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(b, W @ W.T + sigma ** 2 * torch.eye(d_x, dtype=torch.float64))

    def log_lik(v):
        return (torch.distributions.Normal(v @ W.T + b, sigma).log_prob(x[:, None, :])).sum(-1)

    z0 = torch.randn(4, a["n_chains"], d_z, generator=gen, dtype=torch.float64)
    res = ais_log_likelihood(lambda v: log_prior(v, "euclidean"), log_lik, z0, n_steps, kernel="hmc",
                             step_size=a["step_size"], n_leapfrog=a["n_leapfrog"], generator=gen)
    return float((res["log_px"] - exact.log_prob(x)).mean())


def _vmf_error(d, kappa, a, n_steps):
    from scipy.special import ive

    gen = torch.Generator().manual_seed(1)
    mu = torch.zeros(d, dtype=torch.float64)
    mu[0] = 1.0
    z0 = sample_prior(4 * a["n_chains"], "sphere", d, gen).view(4, a["n_chains"], d).double()
    res = ais_log_likelihood(lambda z: log_prior(z, "sphere"), lambda z: kappa * (z @ mu), z0, n_steps,
                             kernel="sphere_rwm", step_size=a["step_size"], generator=gen)
    v = d / 2 - 1  # E_uniform[exp(kappa mu^T z)] on S^(d-1) = Gamma(d/2) (2/kappa)^v I_v(kappa)
    exact = math.lgamma(d / 2) + v * math.log(2 / kappa) + math.log(ive(v, kappa)) + kappa
    return float(res["log_px"].mean()) - exact


def test_the_profile_runs_ais_at_the_papers_step_count():
    assert _profile_ais()["n_steps"] >= 1000


@pytest.mark.parametrize("d_z,d_x,sigma", [(8, 50, 0.3), (8, 784, 1.0)])
def test_profile_ais_is_within_one_nat_of_a_linear_gaussian_likelihood(d_z, d_x, sigma):
    a = _profile_ais()
    assert abs(_linear_gaussian_error(d_z, d_x, sigma, a, a["n_steps"])) < 1.0
    assert _linear_gaussian_error(d_z, d_x, sigma, a, 100) < -5.0  # the old 100 steps: far below the truth


def test_profile_ais_is_within_one_nat_of_a_sharp_vmf_normaliser_on_s8():
    a = _profile_ais()
    assert abs(_vmf_error(9, 100.0, a, a["n_steps"])) < 1.0
    assert _vmf_error(9, 20.0, a, 100) < -5.0
