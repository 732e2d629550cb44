"""Energy networks of seed 004: E(x) = x^T psi(x) with psi an MLP ("score-net-inspired", paper section 6.2), and
the conditional energy E(z | x) of the implicit VAE (psi takes (z, x), the product is taken with z only)."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"swish": nn.SiLU, "tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(d_in: int, hidden: int, depth: int, d_out: int, activation: str, spectral_norm: bool = False) -> nn.Sequential:
    """depth hidden layers of `hidden` units; spectral norm (when asked) on the intermediate layers only, as the
    paper puts it for the banana energy (the first and last layers are left free)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    dims = [d_in] + [hidden] * depth
    for i in range(depth):
        lin = nn.Linear(dims[i], dims[i + 1])
        if spectral_norm and i > 0:
            lin = nn.utils.parametrizations.spectral_norm(lin)
        layers += [lin, ACTIVATIONS[activation]()]
    layers.append(nn.Linear(dims[-1], d_out))
    return nn.Sequential(*layers)


class InnerProductEnergy(nn.Module):
    """E(x) = x^T psi(x), psi: R^d -> R^d. Returns one energy per row."""

    def __init__(self, dim: int, hidden: int = 100, depth: int = 2, activation: str = "swish",
                 spectral_norm: bool = False):
        super().__init__()
        self.psi = mlp(dim, hidden, depth, dim, activation, spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.psi(x)).sum(-1)


class ConditionalEnergy(nn.Module):
    """E(z | x) = z^T psi(z, x): the implicit encoder's log-density model, up to a constant in z."""

    def __init__(self, z_dim: int, x_dim: int, hidden: int = 256, depth: int = 2, activation: str = "tanh"):
        super().__init__()
        self.psi = mlp(z_dim + x_dim, hidden, depth, z_dim, activation)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (z * self.psi(torch.cat([z, x], dim=-1))).sum(-1)
