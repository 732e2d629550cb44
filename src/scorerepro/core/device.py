"""The compute device a stage or a training run uses, from a `device` setting (auto | cpu | cuda | cuda:N)."""

from __future__ import annotations

import torch


def resolve_device(want: str = "auto", local_rank: int = 0) -> torch.device:
    """`auto`: CUDA when visible, else the CPU. A bare `cuda` means this process's GPU (`local_rank` under torchrun).
    A CUDA device on a machine without one, or a name torch does not know, is refused with what to set instead."""
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(want)
    except RuntimeError as e:
        raise ValueError(f"device {want!r} is not a torch device ({e}); use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {want!r} is set, but no CUDA device is visible here; set device: auto or cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device
