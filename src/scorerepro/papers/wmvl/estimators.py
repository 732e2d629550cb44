"""Score-matching estimators of seed 004 (Wang et al. 2020), per sample, for an energy E (q = exp(-E) / Z).

Each function returns the per-sample values whose mean is the objective (so the caller can average, take a
variance, or backpropagate). `energy` maps [N, d] -> [N]; gradients w.r.t. x are taken with create_graph=True so
that the energy's parameters receive gradients through them (FACTS 4.7, pitfall 1).

- mvl_langevin: one Langevin step targeting q^(1/2) with step eps, the energy difference over eps, optionally minus
  the control variate (the inner product of grad E with the diffusion term). E[value] -> E[1/2 |grad E|^2 - lap E]
  (Hyvarinen's objective up to a constant) as eps -> 0.
- dsm_variance_reduced: Eq. 15 with eps = sigma^2; E[value] -> 2 x the score-matching objective.
- cd1: one Langevin step targeting q from the data, the sample held fixed (CD-1), with the same control variate.
- sliced_sm / exact_sm: the references (Song et al. 2019; Hyvarinen 2005).
"""

from __future__ import annotations

from typing import Callable

import torch

Energy = Callable[[torch.Tensor], torch.Tensor]


def energy_grad(energy: Energy, x: torch.Tensor, create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    if not x.requires_grad:
        x = x.requires_grad_(True)
    e = energy(x)
    (g,) = torch.autograd.grad(e.sum(), x, create_graph=create_graph)
    return e, g


def rescaled_steps(eps: float, g: torch.Tensor, rescale: bool) -> torch.Tensor:
    """The authors' per-sample step eps_i = eps / max(1, |g_i|^2) (code only, not in the paper), or eps."""
    if not rescale:
        return torch.full(g.shape[:1], eps, dtype=g.dtype, device=g.device)
    return eps / torch.clamp((g * g).sum(-1), min=1.0)


def mvl_langevin(energy: Energy, x: torch.Tensor, eps: float, *, noise: torch.Tensor | None = None,
                 control_variate: bool = True, rescale: bool = False, generator: torch.Generator | None = None,
                 energy_scale: float = 0.5) -> torch.Tensor:
    """Per-sample MVL objective: -(E(x+) - E(x) [- g.xi]) * (eps/eps_i) / eps, x+ = x - eps_i/2 g + xi."""
    x = x.detach().clone().requires_grad_(True)
    e0, g = energy_grad(energy, x)
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    step = rescaled_steps(eps, g.detach(), rescale)[:, None]
    xi = torch.sqrt(2 * step) * noise
    x_next = x - step * energy_scale * g + xi
    ediff = energy(x_next) - e0
    if control_variate:
        ediff = ediff - (g * xi).sum(-1)
    return -ediff * (eps / step[:, 0]) / eps


def cd1(energy: Energy, x: torch.Tensor, eps: float, *, noise: torch.Tensor | None = None,
        control_variate: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-sample CD-1 loss over eps: (E(x) - E(sg(x+))) / eps with x+ one Langevin step targeting q; with the control
    variate, + g.xi / eps (zero mean given x; it cancels the noise part of E(x+) - E(x) to first order, Appendix E.1.2)."""
    x = x.detach().clone().requires_grad_(True)
    e0, g = energy_grad(energy, x)
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    xi = (2 * eps) ** 0.5 * noise
    x_next = (x - eps * g + xi).detach()
    loss = e0 - energy(x_next)
    if control_variate:
        loss = loss + (g * xi).sum(-1)
    return loss / eps


def dsm_variance_reduced(energy: Energy, x: torch.Tensor, eps: float, *, noise: torch.Tensor | None = None,
                         control_variate: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. 15: (|sqrt(eps) z - eps grad E(x~)|^2 - eps |z|^2 + 2 eps^(3/2) z.grad E(x)) / eps^2, x~ = x + sqrt(eps) z.
    Without the control variate only the constant eps|z|^2 is removed (that leaves the mean unchanged too)."""
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    x_noisy = (x.detach() + eps ** 0.5 * noise).requires_grad_(True)
    _, g_noisy = energy_grad(energy, x_noisy)
    value = ((eps ** 0.5 * noise - eps * g_noisy) ** 2).sum(-1) - eps * (noise ** 2).sum(-1)
    if control_variate:
        _, g = energy_grad(energy, x.detach().clone().requires_grad_(True))
        value = value + 2 * eps ** 1.5 * (noise * g).sum(-1)
    return value / eps ** 2


def sliced_sm(energy: Energy, x: torch.Tensor, *, n_projections: int = 1, generator: torch.Generator | None = None
              ) -> torch.Tensor:
    """Per-sample SSM with Gaussian projections: v^T grad_x(grad log q) v + 1/2 |grad log q|^2, grad log q = -grad E."""
    x = x.detach().clone().requires_grad_(True)
    _, g = energy_grad(energy, x)
    total = 0.5 * (g * g).sum(-1)
    for _ in range(n_projections):
        v = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        (hv,) = torch.autograd.grad((g * v).sum(), x, create_graph=True)
        total = total - (hv * v).sum(-1) / n_projections
    return total


def exact_sm(energy: Energy, x: torch.Tensor) -> torch.Tensor:
    """Per-sample Hyvarinen objective 1/2 |grad E|^2 - lap E, the Laplacian by one backward pass per dimension."""
    x = x.detach().clone().requires_grad_(True)
    _, g = energy_grad(energy, x)
    lap = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(x.shape[1]):
        (row,) = torch.autograd.grad(g[:, i].sum(), x, create_graph=True)
        lap = lap + row[:, i]
    return 0.5 * (g * g).sum(-1) - lap
