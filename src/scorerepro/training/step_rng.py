"""Randomness of one update (`StepRNG`) and the process-wide RNG states a checkpoint saves and a resume restores.

Every update draws its batch from a fresh CPU generator and its noise from a fresh generator on the training
device, both seeded from (seed, update index) by `derive_seed` (SEED_SCHEME), so a batch depends only on the seed
and the step, never on history. The global RNGs (torch CPU/CUDA, numpy, python `random`; used e.g. by dropout)
are seeded at a fresh start and saved per rank in every checkpoint.
"""

from __future__ import annotations

import random
import warnings
from typing import Any, Mapping

import numpy as np
import torch

from scorerepro.core.seeding import derive_seed, seed_everything

__all__ = ["SEED_SCHEME", "StepRNG", "capture_rng_state", "derive_seed", "restore_rng_state", "seed_everything"]

SEED_SCHEME = "sha256('scorerepro:{stream}:{seed}:{index}')[:8] & (2**63 - 1)"


class StepRNG:
    """Randomness for one update, shaped per sample and sliced to this rank's rows of the global batch.

    Every draw is made for the whole global batch from the step's generator (identical on all ranks), then rows
    [start, stop) are kept, so the noise for sample j does not depend on how many processes share the batch.
    `generator` is exposed for draws that should be the same for the whole batch.
    """

    def __init__(self, generator: torch.Generator, start: int, stop: int, global_batch: int):
        if not 0 <= start < stop <= global_batch:
            raise ValueError(f"rows [{start}, {stop}) are not a slice of a global batch of {global_batch}")
        self.generator = generator
        self.start, self.stop, self.global_batch = start, stop, global_batch
        self.device = generator.device

    @property
    def local_batch(self) -> int:
        return self.stop - self.start

    def _shape(self, sample_shape: tuple) -> tuple:
        if len(sample_shape) == 1 and isinstance(sample_shape[0], (tuple, list, torch.Size)):
            sample_shape = tuple(sample_shape[0])
        return (self.global_batch, *sample_shape)

    def randn(self, *sample_shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Standard normal, shape (local_batch, *sample_shape)."""
        full = torch.randn(self._shape(sample_shape), generator=self.generator, device=self.device, dtype=dtype)
        return full[self.start:self.stop]

    def rand(self, *sample_shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Uniform on [0, 1), shape (local_batch, *sample_shape)."""
        full = torch.rand(self._shape(sample_shape), generator=self.generator, device=self.device, dtype=dtype)
        return full[self.start:self.stop]

    def randint(self, low: int, high: int | None = None, sample_shape: tuple = ()) -> torch.Tensor:
        """Integers in [low, high) (or [0, low) with one argument), int64, shape (local_batch, *sample_shape)."""
        if high is None:
            low, high = 0, low
        full = torch.randint(low, high, self._shape(tuple(sample_shape)), generator=self.generator,
                             device=self.device)
        return full[self.start:self.stop]

    def _check_like(self, x: torch.Tensor) -> None:
        if x.shape[0] != self.local_batch:
            raise ValueError(f"tensor with {x.shape[0]} rows given to StepRNG for {self.local_batch} rows "
                             f"(rows {self.start}..{self.stop - 1} of {self.global_batch}); draw per-sample "
                             f"noise for the batch the loss function received")

    def randn_like(self, x: torch.Tensor) -> torch.Tensor:
        self._check_like(x)
        return self.randn(*x.shape[1:], dtype=x.dtype).to(x.device)

    def rand_like(self, x: torch.Tensor) -> torch.Tensor:
        self._check_like(x)
        return self.rand(*x.shape[1:], dtype=x.dtype).to(x.device)


def _np_state() -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    # Stored as a tensor and plain numbers so the checkpoint loads with torch.load(weights_only=True).
    return {"bit_generator": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _set_np_state(s: dict) -> None:
    np.random.set_state((s["bit_generator"], s["keys"].numpy().astype(np.uint32), s["pos"], s["has_gauss"],
                         s["cached_gaussian"]))


def capture_rng_state() -> dict:
    """This process's global RNG states (torch CPU, CUDA if in use, numpy, python)."""
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = [t.clone() for t in torch.cuda.get_rng_state_all()]
    return {"torch_cpu": torch.get_rng_state().clone(), "torch_cuda": cuda, "numpy": _np_state(),
            "python": random.getstate()}


def restore_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch_cpu"].cpu())
    cuda = state.get("torch_cuda")
    if cuda is not None and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        if n != len(cuda):
            warnings.warn(f"checkpoint has CUDA RNG states for {len(cuda)} devices, this machine has "
                          f"{torch.cuda.device_count()}; restoring the first {n}")
        for i in range(n):
            torch.cuda.set_rng_state(cuda[i].cpu(), i)
    _set_np_state(state["numpy"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))

