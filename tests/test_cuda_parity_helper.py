"""tests/cuda_parity.py, the papers' CUDA parity tests' helper, checked on the CPU: inside `same_draws` every
sampler follows the one seed whatever generator the code passes, draws land on the device asked for, a generator
on another device than the draw still fails as torch fails, and torch's functions are restored afterwards."""

from __future__ import annotations

import pytest
import torch

from cuda_parity import assert_parity, same_draws


def _draws(generator_seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(generator_seed)
    x = torch.zeros(2, 3)
    return [torch.randn(4, generator=g), torch.rand(2, 2, device="cpu"), torch.randint(0, 9, (5,), generator=g),
            torch.randperm(6), torch.randn_like(x), torch.rand_like(x), torch.randint_like(x, 3, 7)]


def test_draws_follow_the_seed_not_the_generator():
    originals = torch.randn, torch.randint_like
    with same_draws(5):
        a = _draws(1)
    with same_draws(5):
        b = _draws(2)
    with same_draws(6):
        c = _draws(1)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not all(torch.equal(u, v) for u, v in zip(a, c))
    assert (torch.randn, torch.randint_like) == originals
    assert a[-1].min() >= 3 and a[-1].max() < 7 and a[-1].dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_generator_for_a_cpu_draw_still_fails():
    with same_draws(0), pytest.raises(RuntimeError):
        torch.randn(3, generator=torch.Generator(device="cuda"))


def test_assert_parity_catches_a_difference():
    assert_parity(lambda d: {"x": torch.randn(3, device=d)}, rtol=0, atol=0, device=torch.device("cpu"))
    calls = iter([0.0, 1e-2])
    with pytest.raises(AssertionError, match="x"):
        assert_parity(lambda d: {"x": torch.ones(3) + next(calls)}, rtol=1e-3, atol=1e-3, device=torch.device("cpu"))
