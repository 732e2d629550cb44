"""Instance normalisation "plus" layers of NCSN (Song & Ermon 2019).

Both layers take ``forward(x, y)`` so that blocks can be written once for the conditional network
and the unconditional baseline; the unconditional layer ignores ``y``.

Computation (read off the official ermongroup/ncsn code, re-implemented here):
    mu_c     = spatial mean of channel c
    mu_tilde = (mu - mean_c(mu)) / sqrt(var_c(mu) + 1e-5)      var over channels, unbiased
    h        = instance_norm(x)                                 eps 1e-5, biased variance, no affine
    out      = gamma * (h + alpha * mu_tilde) + beta

Initialisation: gamma and alpha ~ N(1, 0.02), beta = 0, as in the official code. Seed 000 (section 3.2)
instead initialised alpha and gamma to exactly 1; pass ``scale_init_std=0.0`` for that.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

_EPS = 1e-5


def _standardised_channel_means(x: torch.Tensor) -> torch.Tensor:
    """Per-image channel means, standardised across channels; shape (N, C, 1, 1)."""
    means = x.mean(dim=(2, 3))
    centre = means.mean(dim=-1, keepdim=True)
    # unbiased=True to match torch.var's default, which the official layer relies on
    spread = means.var(dim=-1, keepdim=True, unbiased=True)
    return ((means - centre) / torch.sqrt(spread + _EPS))[..., None, None]


def _check_features(num_features: int) -> None:
    # The channel-variance of the means is undefined for a single channel.
    if not isinstance(num_features, int) or num_features < 2:
        raise ValueError(f"num_features must be an int >= 2 for instance norm++, got {num_features!r}")


class ConditionalInstanceNorm2dPlus(nn.Module):
    """Conditional instance norm++: per-class (noise level) gamma, alpha, beta from one embedding.

    The embedding row for class k is [gamma (C) | alpha (C) | beta (C)], the same layout as the
    official code so that its checkpoints load by name (``embed.weight``).
    """

    def __init__(self, num_features: int, num_classes: int, scale_init_std: float = 0.02):
        super().__init__()
        _check_features(num_features)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        self.num_features = num_features
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, 3 * num_features)
        with torch.no_grad():
            self.embed.weight[:, : 2 * num_features].normal_(1.0, scale_init_std)
            self.embed.weight[:, 2 * num_features :].zero_()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma, alpha, beta = self.embed(y).chunk(3, dim=-1)
        h = F.instance_norm(x, eps=_EPS)
        h = h + _standardised_channel_means(x) * alpha[..., None, None]
        return gamma[..., None, None] * h + beta[..., None, None]

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_classes={self.num_classes}"


class InstanceNorm2dPlus(nn.Module):
    """Unconditional instance norm++ (the single-noise baseline's normaliser); ``y`` is ignored."""

    def __init__(self, num_features: int, scale_init_std: float = 0.02):
        super().__init__()
        _check_features(num_features)
        self.num_features = num_features
        self.alpha = nn.Parameter(torch.empty(num_features).normal_(1.0, scale_init_std))
        self.gamma = nn.Parameter(torch.empty(num_features).normal_(1.0, scale_init_std))
        self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.instance_norm(x, eps=_EPS)
        h = h + _standardised_channel_means(x) * self.alpha[:, None, None]
        return self.gamma[:, None, None] * h + self.beta[:, None, None]

    def extra_repr(self) -> str:
        return f"{self.num_features}"
