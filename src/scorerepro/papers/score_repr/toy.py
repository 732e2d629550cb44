"""Eq. 6 on a Gaussian toy, where everything has a closed form. Data x_0 ~ N(mu, s^2 I_d). An unconditional score
model's DSM loss cannot fall below the constant C = E_t lambda(t) E||grad log p_0t - grad log p_t||^2 (per
dimension, `sde.gaussian_constant`); a model given a code that is a deterministic function of x_0 (here x_0 itself)
can, since its optimum is E||grad log p_0t - grad log p_t(.|z)||^2, which is 0 when z determines x_0."""

from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from scorerepro.papers.score_repr.losses import sample_t
from scorerepro.papers.score_repr.sde import VESDE


class ToyScore(nn.Module):
    """MLP s(x, sigma[, z]) = net([x, log sigma, z]) / sigma."""

    def __init__(self, dim: int, code_dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim + 1 + code_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x, sigma, z=None):
        parts = [x, torch.log(sigma)[:, None]] + ([z] if z is not None else [])
        return self.net(torch.cat(parts, dim=1)) / sigma[:, None]


def toy_dsm(model, sde: VESDE, x0, t, noise, z=None) -> torch.Tensor:
    """lambda(t) ||s - grad log p_0t||^2 / d per example (the image loss's convention)."""
    sigma = sde.kernel_std(t)
    xt = x0 + sigma[:, None] * noise
    return ((model(xt, sigma, z) * sigma[:, None] + noise) ** 2).mean(dim=1)


def exact_score(x, sigma, mu: float, var: float):
    """grad log p_t(x) for x_0 ~ N(mu, var I): -(x - mu) / (var + sigma^2)."""
    return -(x - mu) / (var + sigma.reshape(-1, *([1] * (x.ndim - 1))) ** 2)


def monte_carlo_constant(sde: VESDE, mu: float, var: float, dim: int, n: int, t_eps: float,
                         generator: torch.Generator) -> float:
    """E lambda ||grad log p_0t - grad log p_t||^2 / d by sampling (the exact score of the Gaussian marginal)."""
    x0 = mu + var ** 0.5 * torch.randn(n, dim, generator=generator)
    t = sample_t(sde, "uniform_t", torch.rand(n, generator=generator), t_eps)
    noise = torch.randn(n, dim, generator=generator)
    sigma = sde.kernel_std(t)
    xt = x0 + sigma[:, None] * noise
    diff = -noise / sigma[:, None] - exact_score(xt, sigma, mu, var)
    return float((sigma[:, None] ** 2 * diff ** 2).mean())


def train_toy(sde: VESDE, mu: float, var: float, dim: int, conditional: bool, settings: dict, t_eps: float,
              seed: int) -> tuple[ToyScore, list[float]]:
    """A toy score model trained by DSM; returns it and its loss per step."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = ToyScore(dim, dim if conditional else 0, settings["hidden"])
    opt = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    losses = []
    for _ in tqdm(range(settings["n_iters"]), desc=f"toy {'code' if conditional else 'uncond'}", leave=False):
        n = settings["batch_size"]
        x0 = mu + var ** 0.5 * torch.randn(n, dim, generator=gen)
        t = sample_t(sde, "uniform_t", torch.rand(n, generator=gen), t_eps)
        loss = toy_dsm(model, sde, x0, t, torch.randn(n, dim, generator=gen), x0 if conditional else None).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


@torch.no_grad()
def toy_loss_terms(model: ToyScore, sde: VESDE, mu: float, var: float, dim: int, conditional: bool, n: int,
                   t_eps: float, seed: int) -> torch.Tensor:
    """The DSM loss of each of n fresh (x_0, t, noise) draws."""
    gen = torch.Generator().manual_seed(seed)
    x0 = mu + var ** 0.5 * torch.randn(n, dim, generator=gen)
    t = sample_t(sde, "uniform_t", torch.rand(n, generator=gen), t_eps)
    return toy_dsm(model, sde, x0, t, torch.randn(n, dim, generator=gen), x0 if conditional else None)


def evaluate_toy(model: ToyScore, sde: VESDE, mu: float, var: float, dim: int, conditional: bool, n: int,
                 t_eps: float, seed: int) -> float:
    return float(toy_loss_terms(model, sde, mu, var, dim, conditional, n, t_eps, seed).mean())
