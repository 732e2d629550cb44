"""Seed 003's objective (Eq. 8): denoising score matching with the score network conditioned on t and on the code
z = E(x_0), weight lambda(t) = sigma(t)^2, plus the code's regulariser (L1, or KL for a probabilistic encoder).

Scale. The DSM term is the mean over batch and pixels of ||sigma s_theta + eps||^2 = lambda ||s_theta - grad log
p_0t||^2 per dimension, so it is comparable across image sizes and with Eq. 6's constant per dimension. score_sde
sums 0.5 ||.||^2 over pixels and adds lambda_z * reg; to keep the paper's balance between the two the regulariser
is added here as 2 * lambda_z * reg / d.
"""

from __future__ import annotations

import torch

from scorerepro.papers.score_repr.sde import VESDE

T_MODES = ("uniform_t", "uniform_sigma", "fixed")


def sample_t(sde: VESDE, mode: str, u: torch.Tensor, t_eps: float, fixed_t: float | None = None) -> torch.Tensor:
    """Training times from uniforms u: t ~ U(t_eps, 1); sigma(t) ~ U(sigma_min, sigma_max) (section 3.2.1); or one
    fixed t for every example (section 3.2.2)."""
    if mode == "uniform_t":
        return t_eps + (1.0 - t_eps) * u
    if mode == "uniform_sigma":
        return sde.t_for_sigma_uniform(u).clamp(min=t_eps)
    if mode == "fixed":
        if fixed_t is None:
            raise ValueError("t mode 'fixed' needs fixed_t")
        return torch.full_like(u, float(fixed_t))
    raise ValueError(f"unknown t mode {mode!r} (one of {', '.join(T_MODES)})")


def encode(encoder, x0: torch.Tensor, code_noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(code z, regulariser per example). Deterministic encoder: z = E(x0), reg = ||z||_1. Probabilistic: z =
    mu + exp(logvar / 2) * code_noise (the mean when code_noise is None), reg = KL(N(mu, var) || N(0, I))."""
    out = encoder(x0)
    if not encoder.probabilistic:
        return out, out.abs().sum(dim=1)
    mu, logvar = out.chunk(2, dim=1)
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(dim=1)
    z = mu if code_noise is None else mu + (0.5 * logvar).exp() * code_noise
    return z, kl


def dsm_per_example(score_net, sde: VESDE, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                    z: torch.Tensor | None) -> torch.Tensor:
    """lambda(t) ||s_theta(x_t, t, z) - grad log p_0t(x_t|x_0)||^2 / d for each example."""
    sigma = sde.kernel_std(t)
    xt = sde.perturb(x0, t, noise)
    s = score_net(xt, sigma, z)
    return ((s * sigma.reshape(-1, 1, 1, 1) + noise) ** 2).flatten(1).mean(dim=1)
