"""Noise-level schedules {sigma_i}, largest first, as float32 1-D tensors.

The official NCSN code builds its levels as ``exp(linspace(log sigma_begin, log sigma_end, L))`` in float64
(numpy) and then casts to float32; :func:`geometric_sigmas` does the same so the levels agree to the last
float32 bit. Seed 000 (section 6.2) also tries a linear schedule, :func:`linear_sigmas`.

One noise level (the paper's single-sigma baseline, sigma = 0.01) is written ``num_levels=1`` with
``sigma_begin == sigma_end``; any other ``sigma_end`` is refused rather than silently dropped, because a
config that says 1 -> 0.01 with one level is almost surely a mistake.
"""

from __future__ import annotations

import math
import operator

import torch

__all__ = ["SCHEDULES", "geometric_sigmas", "linear_sigmas", "make_sigmas"]

SCHEDULES = ("geometric", "linear")


def _check(sigma_begin, sigma_end, num_levels) -> tuple[float, float, int]:
    try:
        n = operator.index(num_levels)
    except TypeError:
        raise ValueError(
            f"num_levels must be an integer, got {num_levels!r} ({type(num_levels).__name__})"
        ) from None
    if n < 1:
        raise ValueError(f"num_levels must be >= 1, got {n}")
    values = []
    for name, value in (("sigma_begin", sigma_begin), ("sigma_end", sigma_end)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a positive number, got {value!r}") from None
        if not math.isfinite(v) or v <= 0.0:
            raise ValueError(f"{name} must be a finite positive number, got {value!r}")
        values.append(v)
    s1, sl = values
    if n == 1:
        if s1 != sl:
            raise ValueError(
                f"num_levels=1 needs sigma_begin == sigma_end (the single noise level), got "
                f"sigma_begin={s1!r}, sigma_end={sl!r}; set both to the one sigma you want"
            )
    elif s1 <= sl:
        raise ValueError(
            f"sigma_begin must be larger than sigma_end (levels run largest first), got "
            f"sigma_begin={s1!r}, sigma_end={sl!r}"
        )
    return s1, sl, n


def geometric_sigmas(sigma_begin: float, sigma_end: float, num_levels: int) -> torch.Tensor:
    """``exp(linspace(log sigma_begin, log sigma_end, num_levels))`` as float32, largest first.

    Computed in float64 and cast once, as the official code does (numpy, then ``.float()``).
    ``num_levels=1`` requires ``sigma_begin == sigma_end`` and returns ``[sigma_begin]``.
    """
    s1, sl, n = _check(sigma_begin, sigma_end, num_levels)
    if n == 1:
        return torch.tensor([s1], dtype=torch.float32)
    logs = torch.linspace(math.log(s1), math.log(sl), n, dtype=torch.float64)
    return torch.exp(logs).to(torch.float32)


def linear_sigmas(sigma_begin: float, sigma_end: float, num_levels: int) -> torch.Tensor:
    """``linspace(sigma_begin, sigma_end, num_levels)`` as float32, largest first (seed 000, section 6.2).

    ``num_levels=1`` requires ``sigma_begin == sigma_end`` and returns ``[sigma_begin]``.
    """
    s1, sl, n = _check(sigma_begin, sigma_end, num_levels)
    if n == 1:
        return torch.tensor([s1], dtype=torch.float32)
    return torch.linspace(s1, sl, n, dtype=torch.float64).to(torch.float32)


def make_sigmas(schedule: str, sigma_begin: float, sigma_end: float, num_levels: int) -> torch.Tensor:
    """Dispatch on ``schedule`` ("geometric" or "linear"); see the two builders for the rules."""
    if schedule == "geometric":
        return geometric_sigmas(sigma_begin, sigma_end, num_levels)
    if schedule == "linear":
        return linear_sigmas(sigma_begin, sigma_end, num_levels)
    raise ValueError(f"unknown noise schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
