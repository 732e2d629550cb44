"""One way to derive seeds: `derive_seed(seed, stream, index)` gives every stream of randomness (data order, noise,
network initialisation, sampling batch j, ...) its own 63-bit seed from params' one `seed`, independent of the order
in which streams are used, so a stage, a shard or a resumed run draws the same numbers as an uninterrupted one."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def derive_seed(seed: int, stream: str, index: int = 0) -> int:
    """A 63-bit seed for (seed, stream, index); independent streams for data, noise and global RNGs."""
    digest = hashlib.sha256(f"scorerepro:{stream}:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def seeded_generator(seed: int, stream: str, index: int = 0, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch Generator on `device` seeded with derive_seed(seed, stream, index)."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, stream, index))


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python `random`, e.g. before building a model."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
