"""Toy score MLP (seed 000 section 3.2, Fig. 2c): three linear layers, softplus, 128 hidden units.

Matches the official toy runner (ermongroup/ncsn runners/toy_runner.py): Linear(2, 128), Softplus,
Linear(128, 128), Softplus, Linear(128, 2); "three-layer" counts the linear layers. The output is left
unbounded (no final activation), as the seed notes, since scores are unnormalised.

Optional noise-level conditioning (not in the official toy, which is unconditional): with
``num_classes`` set, the one-hot code of the level index is concatenated to the input, i.e. each level gets
its own learned bias in the first layer. We chose this over concatenating log sigma because the network
interface carries level indices only (``net(x, labels)``), and it keeps the unconditional network as the
special case with the one-hot columns removed.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .refinenet import check_labels


class ToyMLP(nn.Module):
    def __init__(self, input_dim: int = 2, hidden: int = 128, num_classes: int | None = None):
        super().__init__()
        for name, value in (("input_dim", input_dim), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or num_classes < 1):
            raise ValueError(f"num_classes must be None (unconditional) or a positive int, got {num_classes!r}")
        self.input_dim, self.hidden, self.num_classes = input_dim, hidden, num_classes
        extra = num_classes or 0
        self.main = nn.Sequential(
            nn.Linear(input_dim + extra, hidden),
            nn.Softplus(),
            nn.Linear(hidden, hidden),
            nn.Softplus(),
            nn.Linear(hidden, input_dim),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"expected points of shape (N, {self.input_dim}), got {tuple(x.shape)}")
        if self.num_classes is not None:
            y = check_labels(labels, x, self.num_classes)
            x = torch.cat([x, F.one_hot(y.long(), self.num_classes).to(x.dtype)], dim=1)
        return self.main(x)
