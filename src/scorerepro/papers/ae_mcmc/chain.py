"""The MCMC chain of Creswell et al. (Algorithm 1 / section 3): z_0 ~ P(Z); x_t = d(z_t); for the denoising models
x~ ~ C(x~|x_t); z_{t+1} ~ Q(Z|x~). Every step feeds the PREVIOUS step's output into the next (the public example
code re-encodes the first decoded image at every step, so its "step 10" is a one-step reconstruction of x_0: see
tests/papers/ae_mcmc/test_ae_mcmc_chain.py). Also spherical interpolation (slerp) and the batch-norm modes.

Batch norm. The paper samples with batch norm in training mode (batch statistics, which "partially compensate for
poor initial inputs"): outputs then depend on which samples share a batch, so chains run in fixed batches of
`batch_size` rows, each batch with its own seeded generator. `bn_mode="eval"` uses the running statistics instead.
Networks are copied before being switched to training mode, so sampling never changes the trained running stats.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Callable, Iterable

import torch
from torch import nn

BN_MODES = ("train", "eval")


@contextmanager
def sampling_mode(nets: dict[str, nn.Module], bn_mode: str):
    """Copies of `nets` for sampling: batch norm in `bn_mode`, dropout off, running statistics left untouched."""
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
    copies = {k: copy.deepcopy(v).eval() for k, v in nets.items()}
    if bn_mode == "train":
        for net in copies.values():
            for m in net.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.train()
                    m.momentum = 0.0  # the copy's running stats stay as trained (they are not used in train mode)
    with torch.no_grad():
        yield copies


def run_chain(z0: torch.Tensor, decode: Callable[[torch.Tensor], torch.Tensor],
              encode: Callable[[torch.Tensor], torch.Tensor], n_steps: int, record: Iterable[int],
              corrupt: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Run the chain n_steps transitions from z0; {t: (z_t, x_t)} for each t in `record` (t = 0: the prior's z and
    its decoding). One transition: x~ = corrupt(x_t) (identity without corruption), z_{t+1} = encode(x~),
    x_{t+1} = decode(z_{t+1})."""
    record = set(record)
    if any(t < 0 or t > n_steps for t in record):
        raise ValueError(f"record steps {sorted(record)} must lie in [0, {n_steps}]")
    z = z0
    x = decode(z)
    out = {0: (z, x)} if 0 in record else {}
    for t in range(1, n_steps + 1):
        x_in = corrupt(x) if corrupt is not None else x
        z = encode(x_in)
        x = decode(z)
        if t in record:
            out[t] = (z, x)
    return out


def slerp(z_a: torch.Tensor, z_b: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016) between rows of z_a and z_b: [n_pairs, len(fractions), dim].
    slerp(p) = sin((1-p) w)/sin(w) a + sin(p w)/sin(w) b, w the angle between a and b; linear where w ~ 0."""
    a, b = z_a[:, None, :], z_b[:, None, :]
    p = fractions.to(z_a)[None, :, None]
    cos = (torch.nn.functional.normalize(z_a, dim=1) * torch.nn.functional.normalize(z_b, dim=1)).sum(1)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None, None]
    so = torch.sin(omega)
    small = so.abs() < 1e-6
    safe = torch.where(small, torch.ones_like(so), so)
    spherical = torch.sin((1 - p) * omega) / safe * a + torch.sin(p * omega) / safe * b
    return torch.where(small, (1 - p) * a + p * b, spherical)
