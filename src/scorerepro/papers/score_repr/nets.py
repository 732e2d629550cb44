"""Seed 003's networks at small scale: an encoder E(x_0) -> code z and a code-conditioned score U-Net.

The score net is a DDPM++/NCSN++-like U-Net (GroupNorm, swish, residual blocks, skip connections scaled by 1/sqrt 2)
on resolutions `widths` (e.g. 28x28x32, 14x14x64 in the paper's MNIST net). Time enters as a Gaussian Fourier
embedding of log sigma(t) (NCSN++'s continuous VE choice); the code z goes through dense layers to the same size and
is added to it, so it enters every residual block as a channel-wise bias "the way the time embedding does"
(A.1). Output scaled by 1/sigma (score_sde `scale_by_sigma`). The encoder is the same downsampling path followed by
three dense layers to `code_dim`; with `probabilistic` it outputs a mean and log-variance (the KL variant).
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


def _groups(c: int) -> int:
    return min(8, c // 4) or 1


class FourierEmbedding(nn.Module):
    def __init__(self, dim: int, scale: float = 16.0):
        super().__init__()
        self.register_buffer("w", torch.randn(dim // 2) * scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        proj = x[:, None] * self.w[None] * 2 * math.pi
        return torch.cat([proj.sin(), proj.cos()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(_groups(cin), cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(_groups(cout), cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) + h) / math.sqrt(2.0)


class DownPath(nn.Module):
    """Conv in, then per resolution `blocks` residual blocks and a stride-2 downsampling between resolutions."""

    def __init__(self, channels: int, widths: list[int], blocks: int, emb_dim: int):
        super().__init__()
        self.conv_in = nn.Conv2d(channels, widths[0], 3, padding=1)
        self.levels = nn.ModuleList()
        self.downs = nn.ModuleList()
        c = widths[0]
        for i, w in enumerate(widths):
            self.levels.append(nn.ModuleList([ResBlock(c if j == 0 else w, w, emb_dim) for j in range(blocks)]))
            c = w
            if i < len(widths) - 1:
                self.downs.append(nn.Conv2d(w, w, 3, stride=2, padding=1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> list[torch.Tensor]:
        h = self.conv_in(x)
        skips = []
        for i, level in enumerate(self.levels):
            for block in level:
                h = block(h, emb)
            skips.append(h)
            if i < len(self.downs):
                h = self.downs[i](h)
        return skips


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """E(x_0): the downsampling path (no time input), global average pooling, three dense layers to the code."""

    def __init__(self, channels: int, widths: list[int], blocks: int, code_dim: int, probabilistic: bool):
        super().__init__()
        self.probabilistic = probabilistic
        self.emb_dim = 4 * widths[0]
        self.down = DownPath(channels, widths, blocks, self.emb_dim)
        hidden = 4 * widths[-1]
        self.head = _mlp([widths[-1], hidden, hidden, code_dim * (2 if probabilistic else 1)])

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """The code's mean (deterministic encoder) or [mean, log-variance] concatenated (probabilistic)."""
        zero = x0.new_zeros(x0.shape[0], self.emb_dim)
        h = self.down(x0, zero)[-1]
        return self.head(F.silu(h).mean(dim=(2, 3)))


class ScoreUNet(nn.Module):
    """s_theta(x_t, t, z) = net(x_t, log sigma(t), z) / sigma(t). code_dim 0: unconditional."""

    def __init__(self, channels: int, widths: list[int], blocks: int, code_dim: int):
        super().__init__()
        emb = 4 * widths[0]
        self.code_dim = code_dim
        self.time = nn.Sequential(FourierEmbedding(widths[0]), nn.Linear(widths[0], emb), nn.SiLU(),
                                  nn.Linear(emb, emb))
        # four dense layers map the code up to the embedding (A.1)
        self.code = _mlp([code_dim, emb, emb, emb, emb]) if code_dim > 0 else None
        self.down = DownPath(channels, widths, blocks, emb)
        self.ups = nn.ModuleList()
        self.up_levels = nn.ModuleList()
        for i in reversed(range(len(widths))):
            cin = widths[i] + (widths[i + 1] if i < len(widths) - 1 else widths[i])
            self.up_levels.append(nn.ModuleList([ResBlock(cin if j == 0 else widths[i], widths[i], emb)
                                                 for j in range(blocks)]))
        self.norm_out = nn.GroupNorm(_groups(widths[0]), widths[0])
        self.conv_out = nn.Conv2d(widths[0], channels, 3, padding=1)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        emb = self.time(torch.log(sigma))
        if self.code is not None:
            if z is None:
                raise ValueError("this score network is code-conditioned: pass the code z")
            emb = emb + self.code(z)
        skips = self.down(x, emb)
        h = skips[-1]
        for k, level in enumerate(self.up_levels):
            skip = skips[len(skips) - 1 - k]
            if h.shape[-1] != skip.shape[-1]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = torch.cat([h, skip], dim=1)
            for block in level:
                h = block(h, emb)
        out = self.conv_out(F.silu(self.norm_out(h)))
        return out / sigma[:, None, None, None]
