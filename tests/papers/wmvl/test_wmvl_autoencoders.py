"""The hyperspherical posterior's draws are a function of the generator they are given: evaluation seeds one per
quantity, so the ELBO bound must not depend on what else the process drew from torch's global RNG before."""

from __future__ import annotations

import torch

from scorerepro.papers.wmvl.autoencoders import PowerSpherical


def _posterior() -> PowerSpherical:
    mu = torch.nn.functional.normalize(torch.randn(64, 8, generator=torch.Generator().manual_seed(1)), dim=-1)
    return PowerSpherical(mu, torch.full((64,), 5.0))


def test_draws_with_a_generator_ignore_the_global_rng():
    torch.manual_seed(0)
    a = _posterior().rsample(torch.Generator().manual_seed(7))
    torch.manual_seed(12345)
    torch.rand(1000)
    b = _posterior().rsample(torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert torch.allclose(a.norm(dim=-1), torch.ones(64), atol=1e-5)


def test_draws_without_a_generator_follow_the_seeded_global_rng_and_leave_it_as_torch_would():
    torch.manual_seed(3)
    a = _posterior().rsample()
    after_a = torch.rand(1)
    torch.manual_seed(3)
    b = _posterior().rsample()
    assert torch.equal(a, b) and torch.equal(after_a, torch.rand(1))
    c = _posterior().rsample(torch.Generator().manual_seed(7))
    assert not torch.equal(a, c)
