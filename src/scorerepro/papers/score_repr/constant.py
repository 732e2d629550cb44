"""Eq. 6's constant estimated on images: C = E_t lambda(t) E||grad log p_0t(x_t|x_0) - grad log p_t(x_t)||^2 / d for
the empirical distribution of the training images, t ~ U(t_eps, 1).

With p_t the mixture of N(x_i, sigma^2 I) over the training images, grad log p_t(x_t) = (E[x_0|x_t] - x_t) / sigma^2
with posterior weights softmax(-||x_t - x_i||^2 / (2 sigma^2)), and the term per draw reduces to
||x_0 - E[x_0|x_t]||^2 / (sigma^2 d). This is exactly the lowest DSM training loss an unconditional model can reach
on these images (the minimiser of DSM is the marginal score)."""

from __future__ import annotations

import torch

from scorerepro.papers.score_repr.losses import sample_t
from scorerepro.papers.score_repr.sde import VESDE


@torch.no_grad()
def posterior_mean(xt: torch.Tensor, data: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """E[x_0 | x_t] under the empirical distribution `data` (N, d), for rows xt (M, d) with noise sigma (M,)."""
    d2 = torch.cdist(xt.double(), data.double()) ** 2
    w = torch.softmax(-d2 / (2 * sigma.double()[:, None] ** 2), dim=1)
    return (w @ data.double()).to(xt.dtype)


@torch.no_grad()
def empirical_constant(sde: VESDE, data: torch.Tensor, x0: torch.Tensor, t: torch.Tensor,
                       noise: torch.Tensor) -> torch.Tensor:
    """The constant's term for each draw (x0 from data, time t, noise), flattened images (M, d)."""
    sigma = sde.kernel_std(t)
    xt = x0 + sigma[:, None] * noise
    mean = posterior_mean(xt, data, sigma)
    return ((x0 - mean) ** 2).mean(dim=1) / sigma ** 2


def draws(sde: VESDE, n_data: int, dim: int, n: int, t_eps: float, generator: torch.Generator):
    """Indices into the training images, times (stratified over U(t_eps, 1)) and noise for an estimate."""
    idx = torch.randint(0, n_data, (n,), generator=generator)
    u = (torch.arange(n) + torch.rand(n, generator=generator)) / n
    t = sample_t(sde, "uniform_t", u, t_eps)
    return idx, t, torch.randn(n, dim, generator=generator)
