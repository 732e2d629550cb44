"""The DCGAN-style encoder / decoder pair shared by the four generative autoencoders, and the AAE's adversary.

Encoder: strided 4x4 convolutions (stride 2, pad 1), each followed by batch norm and ReLU, halving the image down
to 4x4, then a fully connected layer to the code (2 x latent for the VAE's mean and log-variance, latent for the
deterministic AAE encoder); paper App. A (a 4x4 convolution on 4x4 features is the same as the FC layer).
Decoder: the mirror image, FC to nf*2^k x 4 x 4, transposed convolutions with batch norm and ReLU, sigmoid output.
Images whose side is not a power of two >= 8 (MNIST's 28) are zero-padded to the next one and cropped back.
Weights: DCGAN init, conv N(0, 0.02), batch-norm scale N(1, 0.02).
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


def padded_side(side: int) -> int:
    """The power of two >= max(side, 8) the networks work at."""
    return max(8, 2 ** math.ceil(math.log2(side)))


def _levels(side: int) -> int:
    return int(math.log2(padded_side(side))) - 2  # halvings from the padded side down to 4


def dcgan_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Encoder(nn.Module):
    def __init__(self, channels: int, side: int, nf: int, out_dim: int):
        super().__init__()
        self.side, self.padded = side, padded_side(side)
        layers, c_in = [], channels
        for i in range(_levels(side)):
            c_out = nf * 2 ** i
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * 16, out_dim)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = self.padded - self.side
        if pad:
            x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
        return self.fc(self.features(x).flatten(1))


class Decoder(nn.Module):
    def __init__(self, channels: int, side: int, nf: int, latent_dim: int):
        super().__init__()
        self.side, self.padded = side, padded_side(side)
        n = _levels(side)
        self.c0 = nf * 2 ** (n - 1)
        self.fc = nn.Sequential(nn.Linear(latent_dim, self.c0 * 16, bias=False), nn.BatchNorm1d(self.c0 * 16),
                                nn.ReLU(inplace=True))
        layers, c_in = [], self.c0
        for i in range(n - 1, 0, -1):
            c_out = nf * 2 ** (i - 1)
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True)]
            c_in = c_out
        layers += [nn.ConvTranspose2d(c_in, channels, 4, 2, 1)]
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.body(self.fc(z).view(-1, self.c0, 4, 4))
        pad = self.padded - self.side
        if pad:
            a = pad // 2
            h = h[:, :, a:a + self.side, a:a + self.side]
        return h

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder mean (Bernoulli means in [0, 1]): what the chain passes on, as the paper's code does."""
        return torch.sigmoid(self.logits(z))


class Adversary(nn.Module):
    """The AAE's discriminator on codes: fully connected, leaky ReLU and dropout (paper section 4.1); one logit."""

    def __init__(self, latent_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout),
                                 nn.Linear(hidden, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)
