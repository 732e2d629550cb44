"""score_repr on CUDA: three Adam steps of the code-conditioned denoising score matching loss (encoder + U-Net,
the paper's sigma(t) and L1 code regulariser) and a few predictor-corrector sampler steps agree with the CPU run
at the same seed and random numbers (tests/cuda_parity.py); bf16 autocast + torch.compile train and sample to
finite values.

Tolerance rtol/atol 1e-3: float32 on both sides (TF32 off), group norm's and the convolutions' sums in another
order, three Adam updates and four sampler steps on (sigma_max 50: samples of size ~1, compared absolutely)."""

from __future__ import annotations

import pytest
import torch

from cuda_parity import assert_fast_path_close, assert_parity, needs_cuda, needs_parity_device, parity_device
from scorerepro.papers.score_repr.losses import dsm_per_example, encode
from scorerepro.papers.score_repr.nets import Encoder, ScoreUNet
from scorerepro.papers.score_repr.sampling import pc_sample
from scorerepro.papers.score_repr.sde import VESDE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _steps(device: torch.device, *, fast: bool = False) -> dict[str, torch.Tensor]:
    sde = VESDE(0.01, 50.0)
    enc = Encoder(1, [8, 16], 1, 2, probabilistic=False).to(device)
    net = ScoreUNet(1, [8, 16], 1, 2).to(device)
    score = torch.compile(net) if fast else net
    opt = torch.optim.Adam([*enc.parameters(), *net.parameters()], lr=2e-3)
    x0 = torch.rand(16, 1, 14, 14, device=device)
    losses = []
    for _ in range(3):
        t = torch.rand(16, device=device) * (1 - 1e-5) + 1e-5
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            z, reg = encode(enc, x0)
            loss = (dsm_per_example(score, sde, x0, t, torch.randn(x0.shape, device=device), z).float()
                    + 1e-5 * reg.float()).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    with torch.no_grad():
        code = encode(enc, x0[:4])[0]

    def conditioned(x, sigma):  # the sampler keeps its state on the CPU; the network runs on `device`
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            return score(x.to(device), sigma.to(device), code).float().cpu()

    with torch.no_grad():
        samples = pc_sample(conditioned, sde, (4, 1, 14, 14), 4, 0.16, 1e-5, torch.Generator())
    return {"loss": torch.stack(losses), "samples": samples}


@needs_parity_device
def test_cuda_parity_train_and_sample():
    assert_parity(_steps, rtol=1e-3, atol=1e-3, device=parity_device())


def test_parity_steps_cpu_against_cpu():
    ref = assert_parity(_steps, rtol=1e-3, atol=1e-3, device=torch.device("cpu"))
    assert ref["samples"].shape == (4, 1, 14, 14)


@needs_cuda
def test_cuda_amp_compile_smoke():
    assert_fast_path_close(_steps, "loss", rtol=5e-2)
