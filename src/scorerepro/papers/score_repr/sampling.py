"""Predictor-corrector sampling of the reverse-time VE SDE (score_sde's default: reverse-diffusion predictor and one
Langevin corrector step with signal-to-noise ratio `snr` per noise level), conditioned on a code.

score(x, sigma) is any function returning the score at noise level sigma (a batch of sigmas, one per row); the
image models pass a closure over their network and codes, the tests the exact score of a Gaussian.
"""

from __future__ import annotations

from typing import Callable

import torch
from tqdm import tqdm

from scorerepro.papers.score_repr.sde import VESDE

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def noise_levels(sde: VESDE, n_steps: int, t_eps: float) -> torch.Tensor:
    """sigma at t = 1 ... t_eps (n_steps values), then 0: the discretisation of score_sde's VESDE."""
    t = torch.linspace(1.0, t_eps, n_steps)
    return torch.cat([sde.sigma(t), torch.zeros(1)])


def langevin_corrector(score: Score, x: torch.Tensor, sigma: torch.Tensor, snr: float,
                       generator: torch.Generator) -> torch.Tensor:
    """One Langevin step x + eps s + sqrt(2 eps) z with eps = 2 (snr ||z|| / ||s||)^2, the norms averaged over the
    batch (score_sde's LangevinCorrector; the same update as NCSN's annealed Langevin step, with the step size set
    by snr). Averaged, not per example: a step size that depends on each sample's own score would bias the chain
    (samples near the mode, with small scores, would take large steps out of it)."""
    s = score(x, sigma)
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    s_norm = s.flatten(1).norm(dim=1).mean().clamp_min(1e-12)
    z_norm = z.flatten(1).norm(dim=1).mean()
    eps = 2 * (snr * z_norm / s_norm) ** 2
    return x + eps * s + (2 * eps).sqrt() * z


@torch.no_grad()
def pc_sample(score: Score, sde: VESDE, shape: tuple[int, ...], n_steps: int, snr: float, t_eps: float,
              generator: torch.Generator, corrector_steps: int = 1, progress: bool = False) -> torch.Tensor:
    """Samples of shape `shape` from x_1 ~ N(0, sigma_max^2 I) down to t_eps; the last predictor step adds no noise
    (the denoising step)."""
    sig = noise_levels(sde, n_steps, t_eps)
    x = torch.randn(shape, generator=generator) * sig[0]
    for i in tqdm(range(n_steps), desc="pc sampler", disable=not progress, leave=False):
        sigma = sig[i].expand(shape[0])
        for _ in range(corrector_steps):
            x = langevin_corrector(score, x, sigma, snr, generator)
        # reverse diffusion: x + (sigma_i^2 - sigma_{i+1}^2) s + sqrt(sigma_i^2 - sigma_{i+1}^2) z
        var_step = sig[i] ** 2 - sig[i + 1] ** 2
        x = x + var_step * score(x, sigma)
        if i < n_steps - 1:
            x = x + var_step.sqrt() * torch.randn(shape, generator=generator)
    return x
