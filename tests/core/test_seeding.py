"""scorerepro.core.seeding: one seed per (seed, stream, index), independent of the order streams are used in."""

from __future__ import annotations

import random

import numpy as np
import torch

from scorerepro.core.seeding import derive_seed, seed_everything, seeded_generator


def test_derived_seeds_are_fixed_63_bit_numbers():
    # Pinned: every committed result, resumed run and sample shard was drawn from these numbers.
    assert derive_seed(0, "data", 0) == 894370545835254558
    assert all(0 <= derive_seed(s, "noise", i) < 2**63 for s in range(5) for i in range(5))


def test_each_seed_stream_and_index_gets_its_own_seed():
    seeds = {derive_seed(s, stream, i) for s in (0, 1) for stream in ("data", "noise", "global") for i in range(50)}
    assert len(seeds) == 2 * 3 * 50


def test_seeded_generators_repeat_their_numbers():
    a = torch.rand(4, generator=seeded_generator(7, "sample", 3))
    b = torch.rand(4, generator=seeded_generator(7, "sample", 3))
    c = torch.rand(4, generator=seeded_generator(7, "sample", 4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_seed_everything_seeds_python_numpy_and_torch():
    seed_everything(11)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(11)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
