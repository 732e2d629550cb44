"""Model budget: parameter count and forward FLOPs per example.

FLOPs are measured with ``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as 2 FLOPs
and covers matrix products and convolutions (transposed included) only; normalisation, activations,
pooling and interpolation are not counted. They are measured on a small batch and divided by its size.

Tip: build the model under ``with torch.device("meta"):`` to count without allocating weights or computing
anything; the inputs are created on the model's device.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def _device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float32


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def summarize(
    model: nn.Module,
    input_shape: Sequence[int],
    labels: bool | torch.Tensor | None = True,
    batch_size: int = 2,
    per_module: bool = False,
) -> dict[str, Any]:
    """Return ``{"params": int, "flops_per_image": int}`` (+ ``"flops_per_module"`` if ``per_module``).

    input_shape: per-example shape WITHOUT the batch dimension, e.g. (3, 32, 32) or (2,).
    labels: True passes noise-level index 0 for every example (FLOPs do not depend on the level);
        False/None passes ``labels=None`` (unconditional networks); a tensor is passed as given and must
        have ``batch_size`` entries.
    per_module: add FLOPs per example for each top-level child module (name -> int).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be a non-empty per-example shape of positive sizes "
                         f"(no batch dimension), got {tuple(input_shape)!r}")
    device, dtype = _device_dtype(model)
    x = torch.rand((batch_size, *shape), device=device, dtype=dtype)
    if isinstance(labels, torch.Tensor):
        y = labels.to(device)
    elif labels is True:
        y = torch.zeros(batch_size, dtype=torch.long, device=device)
    elif labels is False or labels is None:
        y = None
    else:
        raise ValueError(f"labels must be True, False, None or a LongTensor, got {labels!r}")

    counter = FlopCounterMode(display=False, depth=None)
    with torch.no_grad(), counter:
        model(x, y)
    total = int(counter.get_total_flops())
    result: dict[str, Any] = {"params": count_params(model), "flops_per_image": total // batch_size}
    if total % batch_size:
        # Conv and matmul FLOPs are linear in the batch; a remainder means batch-coupled ops were counted.
        result["flops_per_image"] = round(total / batch_size)
    if per_module:
        counts = {k: int(sum(v.values())) for k, v in counter.get_flop_counts().items()}
        root = type(model).__name__
        result["flops_per_module"] = {
            name: _module_flops(child, f"{root}.{name}", counts) // batch_size
            for name, child in model.named_children()
        }
    return result


def _module_flops(module: nn.Module, key: str, counts: dict[str, int]) -> int:
    """FLOPs recorded under ``key`` ("<RootClass>.<path>"), or the sum over its children when the module
    itself was never called (a ModuleList iterated by its parent)."""
    if key in counts:
        return counts[key]
    return sum(_module_flops(c, f"{key}.{n}", counts) for n, c in module.named_children())
