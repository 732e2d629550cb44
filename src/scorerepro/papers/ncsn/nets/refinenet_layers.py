"""Building blocks of the NCSN RefineNet (ermongroup/ncsn, models/cond_refinenet_dilated.py), re-implemented.

Every block takes ``forward(x, y)``; ``y`` (noise-level indices) is handed to the normalisation layers,
which the caller supplies as a factory ``norm(num_features) -> module``. That one factory switch turns the
conditional network into the unconditional baseline, exactly as the two official files differ.

Attribute names follow the official modules (``conv1``, ``normalize1``, ``1_1_norm``, ``adapt_convs`` ...)
so that state dicts of the official checkpoints load by name (after stripping a DataParallel ``module.``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

NormFactory = Callable[[int], nn.Module]


def conv3x3(in_ch: int, out_ch: int, bias: bool, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution that keeps the spatial size (padding = dilation)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=dilation, dilation=dilation, bias=bias)


def mean_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """Average of the four stride-2 phases, the order of summation of the official ConvMeanPool."""
    return (x[:, :, ::2, ::2] + x[:, :, 1::2, ::2] + x[:, :, ::2, 1::2] + x[:, :, 1::2, 1::2]) / 4.0


class ConvMeanPool(nn.Module):
    """Convolution followed by 2x2 mean pooling (halves the spatial size).

    ``adjust_padding`` pads one row/column on the top/left first (the official option meant for 28x28
    inputs). In CondRefineNetDilated it is requested only for a dilated block, which never builds a
    ConvMeanPool, so it has no effect there; it is kept so the option exists as in the official layer.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, adjust_padding: bool = False):
        super().__init__()
        conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=1, padding=kernel_size // 2, bias=True)
        self.conv = nn.Sequential(nn.ZeroPad2d((1, 0, 1, 0)), conv) if adjust_padding else conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mean_pool_2x2(self.conv(x))


class ResidualBlock(nn.Module):
    """Pre-activation residual block: norm-act-conv-norm-act-conv plus a shortcut.

    ``resample='down'`` without dilation halves the resolution (conv then mean pool, 1x1 conv+pool on the
    shortcut). With a dilation, 'down' does NOT downsample: the official code then uses dilated 3x3 convs
    (shortcut included) at the same resolution, so the deeper stages of the RefineNet widen the receptive
    field by dilation instead of pooling.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        norm: NormFactory,
        act: nn.Module,
        resample: str | None = None,
        dilation: int | None = None,
        adjust_padding: bool = False,
    ):
        super().__init__()
        if resample not in (None, "down"):
            raise ValueError(f"resample must be None or 'down', got {resample!r}")
        self.act = act
        self.in_ch, self.out_ch, self.resample = in_ch, out_ch, resample
        d = 1 if dilation is None else dilation
        # Official layer: every conv in this block has a bias.
        if resample == "down":
            self.conv1 = conv3x3(in_ch, in_ch, bias=True, dilation=d)
            self.normalize2 = norm(in_ch)
            if dilation is not None:
                self.conv2 = conv3x3(in_ch, out_ch, bias=True, dilation=d)
                self.shortcut = conv3x3(in_ch, out_ch, bias=True, dilation=d)
            else:
                self.conv2 = ConvMeanPool(in_ch, out_ch, 3, adjust_padding=adjust_padding)
                self.shortcut = ConvMeanPool(in_ch, out_ch, 1, adjust_padding=adjust_padding)
        else:
            self.conv1 = conv3x3(in_ch, out_ch, bias=True, dilation=d)
            self.normalize2 = norm(out_ch)
            self.conv2 = conv3x3(out_ch, out_ch, bias=True, dilation=d)
            if in_ch != out_ch:
                # Never reached by the NCSN networks; a dilated 3x3 is what the official code would build
                # when dilated (its undilated branch would fail), so use it in both cases.
                self.shortcut = conv3x3(in_ch, out_ch, bias=True, dilation=d)
        self.normalize1 = norm(in_ch)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.conv1(self.act(self.normalize1(x, y)))
        h = self.conv2(self.act(self.normalize2(h, y)))
        skip = x if (self.in_ch == self.out_ch and self.resample is None) else self.shortcut(x)
        return skip + h


class RCUBlock(nn.Module):
    """Residual conv units: ``n_blocks`` residual units of ``n_stages`` (norm, act, bias-free 3x3 conv)."""

    def __init__(self, features: int, n_blocks: int, n_stages: int, norm: NormFactory, act: nn.Module):
        super().__init__()
        self.n_blocks, self.n_stages, self.act = n_blocks, n_stages, act
        for i in range(1, n_blocks + 1):
            for j in range(1, n_stages + 1):
                self.add_module(f"{i}_{j}_norm", norm(features))
                self.add_module(f"{i}_{j}_conv", conv3x3(features, features, bias=False))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        for i in range(1, self.n_blocks + 1):
            residual = x
            for j in range(1, self.n_stages + 1):
                x = getattr(self, f"{i}_{j}_norm")(x, y)
                x = getattr(self, f"{i}_{j}_conv")(self.act(x))
            x = x + residual
        return x


class CRPBlock(nn.Module):
    """Chained residual pooling: act, then ``n_stages`` times (norm, 5x5 mean pool, conv) accumulated.

    The official conditional block names its pool ``maxpool`` but builds an AvgPool2d (5x5, stride 1,
    padding 2, padded zeros counted); the average pool is what runs, so that is what is used here.
    """

    def __init__(self, features: int, n_stages: int, norm: NormFactory, act: nn.Module):
        super().__init__()
        self.act = act
        self.norms = nn.ModuleList([norm(features) for _ in range(n_stages)])
        self.convs = nn.ModuleList([conv3x3(features, features, bias=False) for _ in range(n_stages)])

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        x = self.act(x)
        path = x
        for norm, conv in zip(self.norms, self.convs):
            path = conv(F.avg_pool2d(norm(path, y), kernel_size=5, stride=1, padding=2))
            x = path + x
        return x


class MSFBlock(nn.Module):
    """Multi-resolution fusion: per input norm and 3x3 conv (with bias), bilinear resize, sum."""

    def __init__(self, in_planes: Sequence[int], features: int, norm: NormFactory):
        super().__init__()
        self.norms = nn.ModuleList([norm(c) for c in in_planes])
        self.convs = nn.ModuleList([conv3x3(c, features, bias=True) for c in in_planes])

    def forward(self, xs: Sequence[torch.Tensor], y: torch.Tensor | None, shape: Sequence[int]) -> torch.Tensor:
        total = None
        for x, norm, conv in zip(xs, self.norms, self.convs):
            h = F.interpolate(conv(norm(x, y)), size=tuple(shape), mode="bilinear", align_corners=True)
            total = h if total is None else total + h
        return total


class RefineBlock(nn.Module):
    """RefineNet block: RCU (2 units) per input, fusion (unless single input), CRP, output RCU.

    The output RCU has 3 units in the last block (``end``) and 1 otherwise, as in the official code.
    """

    def __init__(
        self,
        in_planes: Sequence[int],
        features: int,
        norm: NormFactory,
        act: nn.Module,
        start: bool = False,
        end: bool = False,
    ):
        super().__init__()
        in_planes = list(in_planes)
        self.n_inputs = len(in_planes)
        self.adapt_convs = nn.ModuleList([RCUBlock(c, 2, 2, norm, act) for c in in_planes])
        self.output_convs = RCUBlock(features, 3 if end else 1, 2, norm, act)
        if not start:
            self.msf = MSFBlock(in_planes, features, norm)
        self.crp = CRPBlock(features, 2, norm, act)

    def forward(self, xs: Sequence[torch.Tensor], y: torch.Tensor | None, output_shape: Sequence[int]) -> torch.Tensor:
        if len(xs) != self.n_inputs:
            raise ValueError(f"RefineBlock built for {self.n_inputs} inputs got {len(xs)}")
        hs = [rcu(x, y) for rcu, x in zip(self.adapt_convs, xs)]
        h = self.msf(hs, y, output_shape) if self.n_inputs > 1 else hs[0]
        return self.output_convs(self.crp(h, y), y)
