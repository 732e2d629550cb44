"""Shared by the papers' CUDA parity tests (tests/papers/<paper>/test_<paper>_cuda_parity.py): run the same few training and
sampling steps on the CPU and on another device and compare what they return.

The two runs see the same random numbers: inside `same_draws`, torch's samplers (randn, rand, randint, their
*_like forms, randperm) draw from one CPU generator and move the result to the device asked for, whatever
generator the code passes. CUDA's own generator gives other numbers for the same seed, so without this the runs
could not be compared at all. TF32 is switched off for the comparison, so both sides do float32 arithmetic.

The device compared against the CPU is CUDA, or the CPU itself where SCOREREPRO_PARITY_DEVICE=cpu (how the
comparison's own code is checked on a machine without a GPU: the two CPU runs must then agree exactly)."""

from __future__ import annotations

import contextlib
import functools
import os
from typing import Callable

import pytest
import torch

NO_CUDA = "needs a CUDA device (on a GPU machine: python -m pytest -k cuda)"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)


def parity_device() -> torch.device:
    """The device compared against the CPU: CUDA, unless SCOREREPRO_PARITY_DEVICE names another."""
    return torch.device(os.environ.get("SCOREREPRO_PARITY_DEVICE", "cuda"))


def parity_available() -> bool:
    device = parity_device()
    return device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_available())


needs_parity_device = pytest.mark.skipif(not parity_available(), reason=NO_CUDA)

_SAMPLERS = ("randn", "rand", "randint", "randperm")
_LIKE = ("randn_like", "rand_like", "randint_like")


@contextlib.contextmanager
def same_draws(seed: int):
    """Every draw of torch's samplers from one CPU generator seeded with `seed`, then moved to its device."""
    cpu = torch.Generator().manual_seed(seed)
    originals = {name: getattr(torch, name) for name in _SAMPLERS + _LIKE}

    def sampler(name):
        fn = originals[name]

        @functools.wraps(fn)
        def draw(*args, device=None, generator=None, **kwargs):
            target = torch.device(device) if device is not None else torch.device("cpu")
            if generator is not None and generator.device.type != target.type:
                return fn(*args, generator=generator, device=device, **kwargs)  # torch's own error, not hidden
            out = fn(*args, generator=cpu, **kwargs)
            return out.to(device) if device is not None else out
        return draw

    def like(name):
        base = {"randn_like": "randn", "rand_like": "rand", "randint_like": "randint"}[name]

        @functools.wraps(originals[name])
        def draw(t, *args, dtype=None, device=None, **kwargs):
            dtype = dtype or t.dtype
            device = device or t.device
            if base == "randint":
                high = args[-1]
                low = args[0] if len(args) == 2 else 0
                out = originals["randint"](low, high, t.shape, generator=cpu, dtype=dtype)
            else:
                out = originals[base](t.shape, generator=cpu, dtype=dtype)
            return out.to(device)
        return draw

    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        for name in _SAMPLERS:
            setattr(torch, name, sampler(name))
        for name in _LIKE:
            setattr(torch, name, like(name))
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        yield cpu
    finally:
        for name, fn in originals.items():
            setattr(torch, name, fn)
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32


def run_on(device: torch.device, steps: Callable[[torch.device], dict[str, torch.Tensor]], seed: int = 0
           ) -> dict[str, torch.Tensor]:
    """`steps(device)` under `same_draws(seed)`, with its networks built from torch's global seed; the returned
    tensors are copied to the CPU in float64."""
    torch.manual_seed(seed)
    with same_draws(seed):
        out = steps(device)
    return {k: v.detach().to("cpu", torch.float64) for k, v in out.items()}


def assert_parity(steps: Callable[[torch.device], dict[str, torch.Tensor]], *, rtol: float, atol: float,
                  seed: int = 0, device: torch.device | None = None) -> dict[str, torch.Tensor]:
    """The CPU run and the `device` run of `steps` agree within rtol/atol, every tensor finite; exactly when both
    are the CPU. Returns the CPU run."""
    device = device or parity_device()
    ref = run_on(torch.device("cpu"), steps, seed)
    got = run_on(device, steps, seed)
    assert ref.keys() == got.keys()
    for key in ref:
        assert torch.isfinite(ref[key]).all(), f"{key}: not finite on the CPU"
        tol = (0.0, 0.0) if device.type == "cpu" else (rtol, atol)
        torch.testing.assert_close(got[key], ref[key], rtol=tol[0], atol=tol[1], msg=lambda m: f"{key}: {m}")
    return ref


def assert_fast_path_close(steps: Callable[..., dict[str, torch.Tensor]], key: str, *, rtol: float,
                           atol: float = 0.0) -> None:
    """On CUDA, `steps(device, fast=True)` (bf16 autocast, compile) gives finite tensors, and its `key` is within
    rtol/atol of the plain float32 run's: bf16 keeps 8 bits of mantissa, so a loss stays within a few percent."""
    cuda = torch.device("cuda")
    plain = run_on(cuda, steps)
    fast = run_on(cuda, lambda d: steps(d, fast=True))
    assert all(torch.isfinite(v).all() for v in fast.values())
    torch.testing.assert_close(fast[key], plain[key], rtol=rtol, atol=atol)
