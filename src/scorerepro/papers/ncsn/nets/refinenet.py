"""NCSN score networks: CondRefineNetDilated and the single-noise baseline RefineNetDilated.

Re-implementation of ermongroup/ncsn models/cond_refinenet_dilated.py and
models/refinenet_dilated_baseline.py, layer for layer and parameter for parameter.

Architecture (ngf = 64 for MNIST, 128 for CIFAR-10/CelebA; H x W the input size):
    x -> 2x - 1 (official configs all have logit_transform: false) -> 3x3 conv (C -> ngf)
    res1: 2 residual blocks ngf,   H      dilation 1
    res2: 2 residual blocks 2ngf,  H/2    first block: conv + 2x2 mean pool, 1x1 conv+pool shortcut
    res3: 2 residual blocks 2ngf,  H/2    dilation 2 (first block "down" but not downsampling)
    res4: 2 residual blocks 2ngf,  H/2    dilation 4 (idem)
    refine1([res4]) 2ngf, refine2([res3, ref1]) 2ngf, refine3([res2, ref2]) ngf, refine4([res1, ref3]) ngf
    -> norm++ -> ELU -> 3x3 conv (ngf -> C)
Every norm is conditional instance norm++ on the noise-level index (CondRefineNetDilated) or the
unconditional instance norm++ (RefineNetDilated, the baseline). The activation is ELU throughout.

Where seed 000 (the reproducibility report) and the official code disagree, we follow the code:
- Dilations: the seed reads them as 1, 2, 2, 4 per cascade; the code dilates only res3 (2) and res4 (4).
  res1 and res2 are undilated (res2 downsamples by mean pooling instead).
- Residual blocks per stage: the code has 2 in each of res1..res4; the seed used 1 per cascade.
- Downsampling happens once (res2). The seed's "double the filters with 1x1 convs" is the 1x1 ConvMeanPool
  shortcut of res2[0]; res3[0] and res4[0] have 3x3 dilated conv shortcuts (with bias) although their
  channel counts are equal, because the code gives every "down" block a shortcut conv.
- CIN++ init: the code draws gamma and alpha from N(1, 0.02) and zeros beta; the seed used exactly 1.
  ``norm_init_std`` selects (0.02 official, 0.0 seed).
- 28x28 (MNIST): the code passes adjust_padding=True to res4[0], but that block is dilated, and dilated
  blocks never build the padded ConvMeanPool, so MNIST and 32x32 inputs build identical layers. MNIST runs at
  28 -> 14 -> 14 -> 14. We reproduce the (inert) flag and document it.
- The code's CRP pool is named ``maxpool`` but is an AvgPool2d(5, 1, 2); the average pool is what runs.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn

from scorerepro.nets.activations import ELU

from .normalization import ConditionalInstanceNorm2dPlus, InstanceNorm2dPlus
from .refinenet_layers import RefineBlock, ResidualBlock


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_labels(labels, x: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Validate noise-level indices for a conditional network and return them as a 1-D tensor.

    The range check runs only on CPU tensors: on an accelerator it would force a host sync every forward
    pass, and the embedding lookup itself raises a device-side error on an out-of-range index there. Nor does it
    run inside torch.compile (same reason).
    """
    if labels is None:
        raise ValueError(
            "this network is conditioned on the noise level: call net(x, labels) with labels a LongTensor "
            f"of noise-level indices in [0, {num_classes}) of shape ({x.shape[0]},)"
        )
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"labels must be a torch.Tensor of noise-level indices, got {type(labels).__name__}")
    if labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be integer indices (torch.long), got dtype {labels.dtype}")
    if labels.dim() == 0:
        labels = labels.expand(x.shape[0])
    if labels.dim() != 1 or labels.shape[0] != x.shape[0]:
        raise ValueError(
            f"labels must have shape ({x.shape[0]},) to match the batch, got {tuple(labels.shape)}"
        )
    # Under torch.compile the int() reads would break the graph and recompile for every noise level.
    if labels.device.type == "cpu" and labels.numel() > 0 and not torch.compiler.is_compiling():
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}), got values in [{lo}, {hi}]")
    return labels


class _RefineNetDilatedBase(nn.Module):
    conditional: bool = True

    def __init__(
        self,
        channels: int,
        ngf: int,
        num_classes: int,
        image_size: int,
        norm_init_std: float = 0.02,
    ):
        super().__init__()
        for name, value in (("channels", channels), ("ngf", ngf), ("num_classes", num_classes),
                            ("image_size", image_size)):
            _check_positive_int(name, value)
        if image_size % 2:
            raise ValueError(f"image_size must be even (one 2x2 mean-pool downsampling), got {image_size}")
        self.channels, self.ngf, self.num_classes, self.image_size = channels, ngf, num_classes, image_size
        if self.conditional:
            norm = partial(ConditionalInstanceNorm2dPlus, num_classes=num_classes, scale_init_std=norm_init_std)
        else:
            norm = partial(InstanceNorm2dPlus, scale_init_std=norm_init_std)
        self.act = act = ELU()
        f, f2 = ngf, 2 * ngf

        self.begin_conv = nn.Conv2d(channels, f, 3, stride=1, padding=1)
        self.normalizer = norm(f)
        self.end_conv = nn.Conv2d(f, channels, 3, stride=1, padding=1)

        block = partial(ResidualBlock, norm=norm, act=act)
        self.res1 = nn.ModuleList([block(f, f), block(f, f)])
        self.res2 = nn.ModuleList([block(f, f2, resample="down"), block(f2, f2)])
        self.res3 = nn.ModuleList([block(f2, f2, resample="down", dilation=2), block(f2, f2, dilation=2)])
        # Official special case for 28x28; inert because the block is dilated (see module docstring).
        self.res4 = nn.ModuleList([
            block(f2, f2, resample="down", dilation=4, adjust_padding=(image_size == 28)),
            block(f2, f2, dilation=4),
        ])

        refine = partial(RefineBlock, norm=norm, act=act)
        self.refine1 = refine([f2], f2, start=True)
        self.refine2 = refine([f2, f2], f2)
        self.refine3 = refine([f2, f2], f)
        self.refine4 = refine([f, f], f, end=True)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"expected images of shape (N, {self.channels}, H, W), got {tuple(x.shape)}"
            )
        if x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"image height and width must be even, got {tuple(x.shape[2:])}")

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self._check_input(x)
        y = check_labels(labels, x, self.num_classes) if self.conditional else None
        # Images are in [0, 1]; the official network works on [-1, 1].
        h = self.begin_conv(2.0 * x - 1.0)
        skips = []
        for stage in (self.res1, self.res2, self.res3, self.res4):
            for blk in stage:
                h = blk(h, y)
            skips.append(h)
        l1, l2, l3, l4 = skips
        r = self.refine1([l4], y, l4.shape[2:])
        r = self.refine2([l3, r], y, l3.shape[2:])
        r = self.refine3([l2, r], y, l2.shape[2:])
        r = self.refine4([l1, r], y, l1.shape[2:])
        return self.end_conv(self.act(self.normalizer(r, y)))


class CondRefineNetDilated(_RefineNetDilatedBase):
    """NCSN score network s(x, i) conditioned on the noise-level index i by CIN++. Call ``net(x, labels)``."""

    conditional = True


class RefineNetDilated(_RefineNetDilatedBase):
    """Single-noise baseline (unconditional instance norm++). ``net(x, labels=None)``; labels are ignored.

    ``num_classes`` is accepted for symmetry with the official constructor and does not change the network.
    """

    conditional = False

    def __init__(self, channels: int, ngf: int, image_size: int, num_classes: int = 1,
                 norm_init_std: float = 0.02):
        super().__init__(channels, ngf, num_classes, image_size, norm_init_std)
