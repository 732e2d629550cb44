"""infusion on CUDA: the paper's training entry point (papers/infusion/training.train_model: the shared training
loop, three updates of the denoising infusion loss) and five steps of its sampling chain agree with the CPU run
at the same seed and random numbers (tests/cuda_parity.py); bf16 autocast + torch.compile run the same
chain to finite values.

Tolerance rtol/atol 1e-3: float32 on both sides (TF32 off), batch norm's reductions in another order, three
Adam updates and five chain steps on."""

from __future__ import annotations

import pytest
import torch

from cuda_parity import assert_parity, needs_cuda, needs_parity_device, parity_device, run_on
from scorerepro.papers.infusion.model import sample_chain
from scorerepro.papers.infusion.training import train_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")
BLOCK = {"hidden": 32, "layers": 2, "n_steps": 5, "schedule": "increasing", "alpha0": 0.0, "omega": 0.1,
         "beta": 0.1, "eps": 1e-4, "infusion_var": 1e-4, "objective": "denoising",
         "training": {"n_iters": 3, "batch_size": 16, "lr": 1e-3, "snapshot_freq": 3}}


def _steps(device: torch.device, tmp, *, fast: bool = False) -> dict[str, torch.Tensor]:
    images = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8)
    model = train_model(BLOCK, images, 0, str(device), tmp / f"{device.type}{'-fast' if fast else ''}", "parity",
                        progress=False).to(device).eval()
    net = torch.compile(model.net) if fast else model.net
    model.net = net
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
        means = sample_chain(model, 8, 5, None)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    return {"weights": weights, "means": means.float()}


@needs_parity_device
def test_cuda_parity_train_and_sample(tmp_path):
    runs = iter([tmp_path / "a", tmp_path / "b"])  # a run directory each: a finished run is not trained again
    assert_parity(lambda d: _steps(d, next(runs)), rtol=1e-3, atol=1e-3, device=parity_device())


def test_parity_steps_cpu_against_cpu(tmp_path):
    runs = iter([tmp_path / "a", tmp_path / "b"])
    ref = assert_parity(lambda d: _steps(d, next(runs)), rtol=1e-3, atol=1e-3, device=torch.device("cpu"))
    assert ref["means"].shape == (6, 8, 64)


@needs_cuda
def test_cuda_amp_compile_smoke(tmp_path):
    plain = run_on(torch.device("cuda"), lambda d: _steps(d, tmp_path / "plain"))
    fast = run_on(torch.device("cuda"), lambda d: _steps(d, tmp_path / "fast", fast=True))
    assert all(torch.isfinite(v).all() for v in fast.values())
    torch.testing.assert_close(fast["means"][1], plain["means"][1], rtol=5e-2, atol=5e-2)
