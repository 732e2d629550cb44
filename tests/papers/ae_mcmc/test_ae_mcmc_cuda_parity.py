"""ae_mcmc on CUDA: three Adam steps of the VAE loss (BCE + KL through the reparameterised encoder) and three
decode -> corrupt -> encode chain steps agree with the CPU run at the same seed and random numbers
(tests/cuda_parity.py); bf16 autocast + channels_last + torch.compile train and sample to finite values.

Tolerance rtol/atol 1e-3: float32 on both sides (TF32 off), the convolutions' sums in another order, three Adam
updates and three chain steps on (the batch-norm statistics of the chain's train mode included)."""

from __future__ import annotations

import pytest
import torch

from cuda_parity import assert_fast_path_close, assert_parity, needs_cuda, needs_parity_device, parity_device
from scorerepro.papers.ae_mcmc.autoencoders import (build_networks, corrupt, encode, kl_to_standard_normal,
                                                     reconstruction_bce, split_gaussian)
from scorerepro.papers.ae_mcmc.chain import run_chain

pytestmark = pytest.mark.usefixtures("one_torch_thread")
EXP = {"kind": "vae", "model": {"latent_dim": 4, "nf": 8, "adversary_hidden": 8, "adversary_dropout": 0.0}}


def _steps(device: torch.device, *, fast: bool = False) -> dict[str, torch.Tensor]:
    nets = {k: v.to(device) for k, v in build_networks(EXP, (1, 28, 28)).items()}
    enc, dec = nets["encoder"], nets["decoder"]
    x = torch.rand(16, 1, 28, 28, device=device)
    if fast:
        x = x.contiguous(memory_format=torch.channels_last)
        enc, dec = (torch.compile(n.to(memory_format=torch.channels_last)) for n in (enc, dec))
    params = [p for n in nets.values() for p in n.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.5, 0.999))
    losses = []
    for _ in range(3):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            mu, logvar = split_gaussian(enc(x))
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, device=device)
            logits = dec.logits(z) if not fast else nets["decoder"].logits(z)
            loss = (reconstruction_bce(logits.float(), x) + kl_to_standard_normal(mu.float(), logvar.float())).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
        chain = run_chain(torch.randn(8, 4, device=device), dec, lambda v: encode("vae", enc, v, None), 3, [3],
                          corrupt=lambda v: corrupt(v, 0.25, None))
    z3, x3 = chain[3]
    return {"loss": torch.stack(losses), "z3": z3.float(), "x3": x3.float()}


@needs_parity_device
def test_cuda_parity_train_and_sample():
    assert_parity(_steps, rtol=1e-3, atol=1e-3, device=parity_device())


def test_parity_steps_cpu_against_cpu():
    ref = assert_parity(_steps, rtol=1e-3, atol=1e-3, device=torch.device("cpu"))
    assert ref["x3"].shape == (8, 1, 28, 28)


@needs_cuda
def test_cuda_amp_compile_smoke():
    assert_fast_path_close(_steps, "loss", rtol=5e-2)
