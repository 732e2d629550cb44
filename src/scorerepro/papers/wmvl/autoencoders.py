"""The MNIST autoencoders of seed 004 section 6.2: VAEs with Euclidean or hyperspherical latents and explicit
(Gaussian / power-spherical) or implicit encoders, and WAEs whose marginal KL is estimated with an MVL-trained
energy (or a GAN discriminator, the WAE-GAN baseline).

Latent sizes follow the authors' code (FACTS 4.7 pitfall 4): latent_dim n means R^n for Euclidean latents and
S^n in R^(n+1) for spherical ones; spherical codes are multiplied by sqrt(n+1) before the decoder.

The explicit hyperspherical encoder uses the power spherical distribution (De Cao & Aziz 2020), whose sampler is
reparameterised through a Beta draw and whose KL to the uniform prior is closed-form, in place of the vMF of the
paper (whose gradients need Bessel-function derivatives; FACTS 4.7 pitfall 7).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from scorerepro.papers.wmvl.energies import ConditionalEnergy, InnerProductEnergy, mlp
from scorerepro.papers.wmvl.sphere import log_sphere_area

X_DIM = 784


class PowerSpherical:
    """p(z) proportional to (1 + mu^T z)^kappa on S^(d-1); mu [B, d] unit, kappa [B]."""

    def __init__(self, mu: torch.Tensor, kappa: torch.Tensor):
        self.mu, self.kappa = mu, kappa
        self.d = mu.shape[-1]
        self.beta = (self.d - 1) / 2
        self.alpha = self.beta + kappa

    def _gamma_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch._standard_gamma(self.alpha), torch._standard_gamma(torch.full_like(self.alpha, self.beta))

    def rsample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        # t ~ Beta(alpha, beta) reparameterised via two Gamma draws. torch's Gamma sampler takes no generator, so a
        # given generator seeds a forked global RNG: the draw is then a function of the generator alone, not of
        # whatever ran before in the process (training passes none and keeps drawing from the seeded global RNG).
        if generator is None:
            ga, gb = self._gamma_pair()
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=generator)))
                ga, gb = self._gamma_pair()
        t = ga / (ga + gb)
        w = (2 * t - 1)[:, None]
        v = torch.randn(self.mu.shape[0], self.d - 1, generator=generator, dtype=self.mu.dtype)
        v = v / v.norm(dim=-1, keepdim=True)
        y = torch.cat([w, torch.sqrt(torch.clamp(1 - w ** 2, min=1e-12)) * v], dim=-1)
        # Householder reflection taking e1 to mu.
        e1 = torch.zeros_like(self.mu)
        e1[:, 0] = 1
        u = e1 - self.mu
        u = u / torch.clamp(u.norm(dim=-1, keepdim=True), min=1e-12)
        return y - 2 * (y * u).sum(-1, keepdim=True) * u

    def log_normalizer(self) -> torch.Tensor:
        """log C with p(z) = C (1 + mu^T z)^kappa."""
        a, b = self.alpha, self.beta
        return -((a + b) * math.log(2) + b * math.log(math.pi) + torch.lgamma(a) - torch.lgamma(a + b))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return self.log_normalizer() + self.kappa * torch.log1p((self.mu * z).sum(-1))

    def entropy(self) -> torch.Tensor:
        a, b = self.alpha, self.beta
        return -(self.log_normalizer() + self.kappa * (math.log(2) + torch.digamma(a) - torch.digamma(a + b)))

    def kl_to_uniform(self) -> torch.Tensor:
        return -self.entropy() + log_sphere_area(self.d)


def code_dim(latent: str, latent_dim: int) -> int:
    return latent_dim + 1 if latent == "sphere" else latent_dim


def log_prior(z: torch.Tensor, latent: str) -> torch.Tensor:
    """log p(z): N(0, I) or uniform on the sphere (w.r.t. area)."""
    if latent == "sphere":
        return torch.full(z.shape[:-1], -log_sphere_area(z.shape[-1]), dtype=z.dtype)
    return -0.5 * (z * z).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


def sample_prior(n: int, latent: str, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    z = torch.randn(n, dim, generator=generator)
    return z / z.norm(dim=-1, keepdim=True) if latent == "sphere" else z


class Decoder(nn.Module):
    def __init__(self, latent: str, dim: int, hidden: int, activation: str):
        super().__init__()
        self.scale = math.sqrt(dim) if latent == "sphere" else 1.0
        self.net = mlp(dim, hidden, 2, X_DIM, activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z * self.scale)


def bernoulli_log_lik(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)


class ExplicitEncoder(nn.Module):
    """Gaussian (mean, log std) or power spherical (direction, concentration) posterior."""

    def __init__(self, latent: str, dim: int, hidden: int, activation: str):
        super().__init__()
        self.latent, self.dim = latent, dim
        self.net = mlp(X_DIM, hidden, 2, dim + (1 if latent == "sphere" else dim), activation)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(x)
        if self.latent == "sphere":
            mu = F.normalize(h[:, :self.dim], dim=-1)
            kappa = F.softplus(h[:, self.dim]) + 1.0
            q = PowerSpherical(mu, kappa)
            return q.rsample(generator), q.kl_to_uniform()
        mean, log_std = h[:, :self.dim], h[:, self.dim:].clamp(-10, 5)
        z = mean + log_std.exp() * torch.randn(mean.shape, generator=generator)
        kl = 0.5 * (mean ** 2 + (2 * log_std).exp() - 1 - 2 * log_std).sum(-1)
        return z, kl


class ImplicitEncoder(nn.Module):
    """z = f(x, noise), noise ~ N(0, I) of noise_dim (0: deterministic, the WAE); normalised on the sphere."""

    def __init__(self, latent: str, dim: int, noise_dim: int, hidden: int, activation: str):
        super().__init__()
        self.latent, self.noise_dim = latent, noise_dim
        self.net = mlp(X_DIM + noise_dim, hidden, 2, dim, activation)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.noise_dim:
            x = torch.cat([x, torch.randn(x.shape[0], self.noise_dim, generator=generator)], dim=-1)
        z = self.net(x)
        return F.normalize(z, dim=-1) if self.latent == "sphere" else z


def build_networks(kind: str, latent: str, latent_dim: int, hidden: int) -> dict[str, nn.Module]:
    """kind: vae_explicit | vae_implicit | wae_mvl | wae_gan -> the named networks train_loop drives."""
    dim = code_dim(latent, latent_dim)
    if kind == "vae_explicit":
        # Explicit baselines use ReLU (the authors' ExplicitAE default); the implicit models tanh.
        return {"encoder": ExplicitEncoder(latent, dim, hidden, "relu"), "decoder": Decoder(latent, dim, hidden, "relu")}
    if kind == "vae_implicit":
        return {"encoder": ImplicitEncoder(latent, dim, latent_dim, hidden, "tanh"),
                "decoder": Decoder(latent, dim, hidden, "tanh"),
                "energy": ConditionalEnergy(dim, X_DIM, hidden, 2, "tanh")}
    if kind == "wae_mvl":
        return {"encoder": ImplicitEncoder(latent, dim, 0, hidden, "tanh"), "decoder": Decoder(latent, dim, hidden, "tanh"),
                "energy": InnerProductEnergy(dim, hidden, 2, "tanh")}
    if kind == "wae_gan":
        return {"encoder": ImplicitEncoder(latent, dim, 0, hidden, "tanh"), "decoder": Decoder(latent, dim, hidden, "tanh"),
                "discriminator": mlp(dim, hidden, 2, 1, "tanh")}
    raise ValueError(f"unknown model kind {kind!r}; choose vae_explicit, vae_implicit, wae_mvl or wae_gan")
