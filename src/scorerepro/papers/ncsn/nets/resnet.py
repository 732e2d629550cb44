"""ResNet encoder-decoder score networks.

``ResScore`` — the network of seed 000's Fig. 1 experiment (SSM on CIFAR-10 with and without N(0, 1e-4)
noise). The official code has it (ermongroup/ncsn models/scorenet.py ResScore, trained by
runners/scorenet_runner.py with configs/scorenet.yml, nef = ndf = 32), so we follow it:
    x -> 2x - 1 -> 3x3 conv (C -> 32)
    encoder: blocks 32, 64 (stride 2), 64, 128 (stride 2), 128
    decoder: transposed-conv blocks 128, 64 (stride 2 up), 64, 32 (stride 2 up), 32 -> 3x3 conv (32 -> C)
Each block is conv-norm-ELU-conv-norm, plus the input (or a 3x3 stride-2 conv of it when resizing), then ELU.
Differences from the seed's description (section 3.2), all following the official code:
- GroupNorm(8 groups) in the blocks, not batch norm;
- post-activation blocks (norm and ELU after each conv, ELU after the sum), not pre-activation;
- resizing happens in the FIRST conv of the encoder's 2nd and 4th block (stride 2) and in the LAST conv of the
  decoder's 2nd and 4th block (stride 2 transposed), not "at the end" of the encoder blocks;
- resizing shortcuts are 3x3 stride-2 (transposed) convs, not 1x1; no other block changes the width;
- the decoder uses transposed convs for its stride-1 convs too, and ends with a plain 3x3 conv.
The official class hard-codes 3 channels; ``channels`` generalises it.

``CondResScore`` — seed 000 section 6.3: the same encoder-decoder with conditional instance norm++ instead of
GroupNorm, dilated convolutions, and filters multiplied by a width factor (the seed: 4, "to match the number
of parameters in the RefineNet"). Not in the official code; our choices:
- every norm is CIN++ on the noise-level index (as in the RefineNet);
- the stride-1 convs are dilated by the resolution level they run at: 1 at full, 2 at 1/2, 4 at 1/4 resolution
  (the RefineNet's deeper stages use 2 and 4); strided convs stay undilated;
- width factor 4.75 (32 -> 152 base filters) by default: 31,208,947 parameters for CIFAR-10 (10 levels),
  3.6% above the CIFAR CondRefineNetDilated's 30,117,635. The seed's factor 4 gives 22,161,667 (26% below),
  probably because the seed's own RefineNet (one residual block per stage instead of the official two) and
  ResNet differ from these; preset ``cond_resnet_cifar10_seed`` keeps the factor 4.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import torch
import torch.nn as nn

from scorerepro.nets.activations import ELU

from .normalization import ConditionalInstanceNorm2dPlus
from .refinenet import check_labels


class _GroupNorm(nn.GroupNorm):
    """GroupNorm with the (x, y) call of the conditional norms; y is ignored."""

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)


class _Block(nn.Module):
    """conv1-norm1-act-conv2-norm2 (+ identity or resizing shortcut), then act.

    transpose=False: encoder block; resizing halves the size in conv1 (stride 2).
    transpose=True: decoder block of transposed convs; resizing doubles the size in conv2.
    ``dilation`` applies to the stride-1 convs only.
    """

    def __init__(self, in_ch: int, out_ch: int, norm: Callable[[int], nn.Module], act: nn.Module,
                 resize: bool, transpose: bool, dilation: int = 1):
        super().__init__()
        if not resize and in_ch != out_ch:
            raise ValueError(f"a non-resizing block keeps the width, got {in_ch} -> {out_ch}")
        self.act = act
        self.resize = resize
        conv = nn.ConvTranspose2d if transpose else nn.Conv2d
        same = partial(conv, kernel_size=3, stride=1, padding=dilation, dilation=dilation)
        if transpose:
            resizing = partial(nn.ConvTranspose2d, kernel_size=3, stride=2, padding=1, output_padding=1)
        else:
            resizing = partial(nn.Conv2d, kernel_size=3, stride=2, padding=1)
        if resize and not transpose:
            self.conv1, self.conv2 = resizing(in_ch, out_ch), same(out_ch, out_ch)
        elif resize and transpose:
            self.conv1, self.conv2 = same(in_ch, out_ch), resizing(out_ch, out_ch)
        else:
            self.conv1, self.conv2 = same(in_ch, out_ch), same(out_ch, out_ch)
        self.norm1, self.norm2 = norm(out_ch), norm(out_ch)
        if resize:
            self.shortcut = resizing(in_ch, out_ch)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.act(self.norm1(self.conv1(x), y))
        h = self.norm2(self.conv2(h), y)
        return self.act(h + (self.shortcut(x) if self.resize else x))


class _ResNetScoreBase(nn.Module):
    conditional = False

    def __init__(self, channels: int, nf: int, norm: Callable[[int], nn.Module],
                 dilations: Sequence[int] = (1, 1, 1), num_classes: int | None = None):
        super().__init__()
        for name, value in (("channels", channels), ("nf", nf)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        dilations = tuple(dilations)
        if len(dilations) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dilations):
            raise ValueError(f"dilations must be 3 positive ints (full, 1/2, 1/4 resolution), got {dilations!r}")
        self.channels, self.nf, self.num_classes, self.dilations = channels, nf, num_classes, dilations
        self.act = act = ELU()
        d0, d1, d2 = dilations
        enc = partial(_Block, norm=norm, act=act, transpose=False)
        dec = partial(_Block, norm=norm, act=act, transpose=True)
        self.begin_conv = nn.Conv2d(channels, nf, 3, 1, 1)
        self.encoder = nn.ModuleList([
            enc(nf, nf, resize=False, dilation=d0),
            enc(nf, 2 * nf, resize=True, dilation=d1),
            enc(2 * nf, 2 * nf, resize=False, dilation=d1),
            enc(2 * nf, 4 * nf, resize=True, dilation=d2),
            enc(4 * nf, 4 * nf, resize=False, dilation=d2),
        ])
        self.decoder = nn.ModuleList([
            dec(4 * nf, 4 * nf, resize=False, dilation=d2),
            dec(4 * nf, 2 * nf, resize=True, dilation=d2),
            dec(2 * nf, 2 * nf, resize=False, dilation=d1),
            dec(2 * nf, nf, resize=True, dilation=d1),
            dec(nf, nf, resize=False, dilation=d0),
        ])
        self.end_conv = nn.Conv2d(nf, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected images of shape (N, {self.channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"image height and width must be multiples of 4 (two 2x resizings), "
                             f"got {tuple(x.shape[2:])}")
        y = check_labels(labels, x, self.num_classes) if self.conditional else None
        h = self.begin_conv(2.0 * x - 1.0)
        for blk in self.encoder:
            h = blk(h, y)
        for blk in self.decoder:
            h = blk(h, y)
        return self.end_conv(h)


class ResScore(_ResNetScoreBase):
    """Official ResScore (unconditional, GroupNorm(8)). ``net(x, labels=None)``; labels are ignored."""

    conditional = False

    def __init__(self, channels: int = 3, nf: int = 32, groups: int = 8):
        if nf % groups:
            raise ValueError(f"nf ({nf}) must be divisible by the GroupNorm groups ({groups})")
        super().__init__(channels, nf, partial(_GroupNorm, groups), dilations=(1, 1, 1))


class CondResScore(_ResNetScoreBase):
    """Seed 000 section 6.3 network: ResScore with CIN++ and dilations, width ``nf * width_factor``."""

    conditional = True

    def __init__(self, channels: int = 3, nf: int = 32, width_factor: float = 4.75, num_classes: int = 10,
                 dilations: Sequence[int] = (1, 2, 4), norm_init_std: float = 0.02):
        if isinstance(width_factor, bool) or not isinstance(width_factor, (int, float)) or width_factor <= 0:
            raise ValueError(f"width_factor must be a positive number, got {width_factor!r}")
        width = nf * width_factor
        if abs(width - round(width)) > 1e-9:
            raise ValueError(f"nf * width_factor must be a whole number of filters, got {nf} * {width_factor} "
                             f"= {width}; pick a width_factor that makes it an integer")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        norm = partial(ConditionalInstanceNorm2dPlus, num_classes=num_classes, scale_init_std=norm_init_std)
        super().__init__(channels, int(round(width)), norm, dilations=dilations, num_classes=num_classes)
        self.width_factor = width_factor
