"""The compute device a stage runs on, from params' `device` key (auto | cpu | cuda | cuda:N)."""

from __future__ import annotations

import torch


def resolve_device(want: str = "auto", local_rank: int = 0) -> torch.device:
    """`auto`: CUDA (this process's local rank under torchrun) when visible, else the CPU. An explicit `cuda` on a
    machine without one is refused, with what to set instead."""
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {want} in params.yaml, but no CUDA device is visible; set device: auto or cpu")
    if want == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if want == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(want)
