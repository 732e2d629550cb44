"""The chain, slerp, the corruption, the KL term and batch norm against independent answers."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import linalg

from scorerepro.papers.ae_mcmc.autoencoders import corrupt, kl_to_standard_normal
from scorerepro.papers.ae_mcmc.chain import run_chain, sampling_mode, slerp
from scorerepro.papers.ae_mcmc.measures import latent_frechet


def test_kl_matches_closed_form_from_torch_and_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g, dtype=torch.float64)
    ours = kl_to_standard_normal(mu, logvar)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    assert torch.allclose(ours, torch.distributions.kl_divergence(q, p).sum(1))
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    assert torch.allclose(ours, mc, atol=0.05)


def test_slerp_endpoints_norms_and_angles():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 16, generator=g, dtype=torch.float64), torch.randn(5, 16, generator=g, dtype=torch.float64)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)  # equal norms: slerp stays on the sphere
    p = torch.linspace(0, 1, 7, dtype=torch.float64)
    path = slerp(a, b, p)
    assert torch.allclose(path[:, 0], a) and torch.allclose(path[:, -1], b)
    assert torch.allclose(path.norm(dim=2), a.norm(dim=1, keepdim=True).expand(5, 7))
    # the angle to a grows linearly with the fraction
    cos = torch.nn.functional.cosine_similarity(path, a[:, None, :], dim=2).clamp(-1, 1)
    omega = torch.arccos(torch.nn.functional.cosine_similarity(a, b, dim=1))
    assert torch.allclose(torch.arccos(cos), p[None, :] * omega[:, None], atol=1e-6)
    # parallel vectors fall back to linear interpolation instead of dividing by sin(0)
    assert torch.allclose(slerp(a, 2 * a, p)[:, 3], 1.5 * a)


def test_corruption_has_the_configured_variance():
    x = torch.full((200, 1000), 0.3, dtype=torch.float64)
    noisy = corrupt(x, 0.25, torch.Generator().manual_seed(2))
    d = (noisy - x).flatten().numpy()
    assert abs(d.mean()) < 0.003 and abs(d.var() - 0.25) < 0.003  # std 0.5, not 0.25


def test_chain_feeds_each_steps_output_into_the_next():
    """With decode(z) = z + 1 and encode(x) = 2x, step t must be the t-fold composition, not a one-step
    reconstruction of x_0 (the public example code's bug)."""
    seen = []

    def encode(x):
        seen.append(x.clone())
        return 2 * x

    out = run_chain(torch.zeros(1, 1), lambda z: z + 1, encode, 3, [0, 1, 2, 3])
    z = 0.0
    for t in range(1, 4):
        assert torch.allclose(seen[t - 1], torch.tensor([[z + 1]]))  # encoder sees the previous decoding
        z = 2 * (z + 1)
        assert torch.allclose(out[t][0], torch.tensor([[z]])) and torch.allclose(out[t][1], torch.tensor([[z + 1]]))
    assert out[3][0].item() == 14.0  # 0 -> 2 -> 6 -> 14; a non-chaining loop would give 2 at every step


def test_chain_applies_the_corruption_before_every_encoding():
    out = run_chain(torch.zeros(1, 1), lambda z: z, lambda x: x, 4, [4], corrupt=lambda x: x + 10)
    assert out[4][0].item() == 40.0


def test_batch_norm_uses_batch_statistics_in_train_mode_and_keeps_running_stats():
    net = torch.nn.Sequential(torch.nn.BatchNorm1d(3))
    net[0].running_mean.fill_(5.0)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(3)) * 2 + 1
    with sampling_mode({"n": net}, "train") as nets:
        y = nets["n"](x)
        assert torch.allclose(y.mean(0), torch.zeros(3), atol=1e-5)  # normalised by this batch's mean and variance
        assert torch.allclose(y.var(0, unbiased=False), torch.ones(3), atol=1e-3)
        # batch-dependent: the same row normalised with another batch comes out differently
        assert not torch.allclose(nets["n"](torch.cat([x[:1], x[:1] + 5]))[0], y[0])
    with sampling_mode({"n": net}, "eval") as nets:
        assert torch.allclose(nets["n"](x), (x - 5.0) / math.sqrt(1 + 1e-5))  # running statistics
    assert torch.all(net[0].running_mean == 5.0) and net.training  # the trained network is untouched


def _joint_gaussian(rng):
    """P(x) = N(mx, Sx), Q(z|x) = N(A x + b, S), and the exact decoder P(x|z) of that joint; P^(Z) in closed form."""
    dx, dz = 3, 2
    mx = rng.normal(size=dx)
    L = rng.normal(size=(dx, dx))
    Sx = L @ L.T + 0.5 * np.eye(dx)
    A, b = rng.normal(size=(dz, dx)) * 0.3, np.array([3.0, -2.0])
    S = np.diag([1.0, 1.5])
    mz, Sz = A @ mx + b, A @ Sx @ A.T + S
    K = Sx @ A.T @ np.linalg.inv(Sz)
    Sx_given_z = Sx - K @ A @ Sx
    return dict(mx=mx, A=A, b=b, S=S, mz=mz, Sz=Sz, K=K, Sx_given_z=Sx_given_z)


def test_chain_on_a_linear_gaussian_autoencoder_converges_to_the_learned_latent_distribution():
    """Theorem 1: with P(X|Z) the exact conditional of P(X)Q(Z|X), the chain's codes converge to
    P^(Z) = N(A mx + b, A Sx A^T + S) from a start at the prior N(0, I) far from it."""
    m = _joint_gaussian(np.random.default_rng(4))
    g = torch.Generator().manual_seed(5)
    t = {k: torch.as_tensor(v) for k, v in m.items()}
    chol_x = torch.as_tensor(linalg.cholesky(m["Sx_given_z"], lower=True))
    chol_z = torch.as_tensor(linalg.cholesky(m["S"], lower=True))

    def decode(z):
        mean = t["mx"] + (z - t["mz"]) @ t["K"].T
        return mean + torch.randn(mean.shape, generator=g, dtype=torch.float64) @ chol_x.T

    def encode(x):
        mean = x @ t["A"].T + t["b"]
        return mean + torch.randn(mean.shape, generator=g, dtype=torch.float64) @ chol_z.T

    n = 20_000
    z0 = torch.randn(n, 2, generator=g, dtype=torch.float64)
    out = run_chain(z0, decode, encode, 30, [0, 1, 30])
    target = torch.as_tensor(np.random.default_rng(6).multivariate_normal(m["mz"], m["Sz"], size=n))
    d0, d1, d30 = (latent_frechet(out[s][0], target) for s in (0, 1, 30))
    assert d0 > 5 and d30 < d1 < d0
    assert np.allclose(out[30][0].mean(0).numpy(), m["mz"], atol=0.06)
    assert np.allclose(np.cov(out[30][0].numpy().T), m["Sz"], rtol=0.05, atol=0.05)
    assert d30 < 0.02
