"""Langevin dynamics on S^n in a stereographic chart, and the Riemannian MVL objective (seed 004 Eqs. 17-18).

Chart: x = y[:n] / (1 + s y_n) with s = sign(y_n) (each point uses the projection from the pole farther away, so x
stays in the unit ball; the authors flip y for y_n < 0, which is this chart with the sign folded back in `embed`).
The metric is conformal, g_ii = 4 / (1 + |x|^2)^2. For a density p on the sphere (w.r.t. area), the density w.r.t.
chart Lebesgue measure is p(embed(x)) g^(n/2), so the chart energy is E~ = scale*E(embed(x)) - (n/2) log g. The
Riemannian Langevin step is x+ = x + h (-g^-1 grad E~ + d_i g^ii) + N(0, 2 h g^-1), d_i g^ii = (1 + |x|^2) x_i.
"""

from __future__ import annotations

from typing import Callable

import torch

Energy = Callable[[torch.Tensor], torch.Tensor]


def to_chart(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    s = torch.where(y[:, -1] >= 0, 1.0, -1.0).to(y.dtype)
    return y[:, :-1] / (1 + s * y[:, -1])[:, None], s


def embed(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    r2 = (x * x).sum(-1, keepdim=True)
    return torch.cat([2 * x / (1 + r2), s[:, None] * (1 - r2) / (1 + r2)], dim=-1)


def metric(x: torch.Tensor) -> torch.Tensor:
    """g (one value per point: the metric is g times the identity)."""
    return 4 / (1 + (x * x).sum(-1)) ** 2


def langevin_step(energy: Energy, y: torch.Tensor, eps: float, *, energy_scale: float = 1.0,
                  noise: torch.Tensor | None = None, rescale: bool = False, generator: torch.Generator | None = None,
                  create_graph: bool = False) -> dict[str, torch.Tensor]:
    """One Riemannian Langevin step targeting p^energy_scale (w.r.t. area), p = exp(-E). Returns the new point y+
    and, for MVL, the embedded energies and the chart noise and chart gradient of E."""
    x, s = to_chart(y.detach())
    x = x.requires_grad_(True)
    n = x.shape[1]
    e = energy(embed(x, s))
    (grad_e,) = torch.autograd.grad(e.sum(), x, create_graph=create_graph)
    g = metric(x)
    grad_chart = energy_scale * grad_e - (n / 2) * torch.autograd.grad(torch.log(g).sum(), x, create_graph=create_graph)[0]
    step = torch.full_like(g, eps)
    if rescale:
        step = eps / torch.clamp((grad_e.detach() ** 2).sum(-1), min=1.0)
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    drift = -grad_chart / g[:, None] + (1 + (x * x).sum(-1, keepdim=True)) * x
    xi = torch.sqrt(2 * step / g)[:, None] * noise
    x_next = x + step[:, None] * drift + xi
    return {"y": embed(x_next, s), "e": e, "grad_e": grad_e, "xi": xi, "step": step, "x_next": x_next, "s": s}


def riemannian_mvl(energy: Energy, y: torch.Tensor, eps: float, *, control_variate: bool = True,
                   rescale: bool = False, noise: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-sample Riemannian MVL objective: -(E(y+) - E(y) - grad_x E . xi) (eps/eps_i) / eps, one step targeting
    p^(1/2). The control variate uses the chart gradient of the embedded energy (no log g term), as the code does."""
    out = langevin_step(energy, y, eps, energy_scale=0.5, noise=noise, rescale=rescale, generator=generator,
                        create_graph=True)
    ediff = energy(embed(out["x_next"], out["s"])) - out["e"]
    if control_variate:
        ediff = ediff - (out["grad_e"] * out["xi"]).sum(-1)
    return -ediff * (eps / out["step"]) / eps




def sample_langevin(energy: Energy, y0: torch.Tensor, eps: float, n_steps: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """n_steps unadjusted Riemannian Langevin steps targeting exp(-E) on the sphere (w.r.t. area)."""
    y = y0
    for _ in range(n_steps):
        y = langevin_step(energy, y, eps, generator=generator)["y"].detach()
        y = y / y.norm(dim=-1, keepdim=True)  # remove float drift off the sphere
    return y


def uniform_sphere(n: int, dim: int, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    """n points uniform on S^(dim-1) in R^dim."""
    z = torch.randn(n, dim, generator=generator, dtype=dtype)
    return z / z.norm(dim=-1, keepdim=True)


def log_sphere_area(dim: int) -> float:
    """log area of S^(dim-1) in R^dim: log(2 pi^(dim/2) / Gamma(dim/2))."""
    import math

    return math.log(2) + dim / 2 * math.log(math.pi) - math.lgamma(dim / 2)
