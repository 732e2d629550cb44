"""wmvl on CUDA. Its stages pin the CPU (wmvl/stages/train.py: device "cpu"; small MLPs, and the autoencoders and
AIS draw their noise on the CPU), so what can meet a GPU is the estimators: three Adam steps of an energy network
under the MVL objective with the control variate, and under CD-1 (a Langevin step from the data: the sampling
side), agree with the CPU run at the same seed and random numbers (tests/cuda_parity.py); under bf16 autocast
they train to finite values, and the compiled energy evaluates them (compile covers the forward pass only: the
objectives need the gradient's gradient, which torch.compile does not support).

Tolerance rtol/atol 1e-3: float32 on both sides (TF32 off); the MVL objective divides an energy difference by eps
(1e-3), which multiplies float32's rounding of the energies by 1e3, hence not tighter."""

from __future__ import annotations

import pytest
import torch

from cuda_parity import assert_parity, needs_cuda, needs_parity_device, parity_device, run_on
from scorerepro.papers.wmvl.energies import mlp
from scorerepro.papers.wmvl.estimators import cd1, mvl_langevin

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _steps(device: torch.device, *, fast: bool = False) -> dict[str, torch.Tensor]:
    out = {}
    for name, objective in (("mvl", lambda e, x: mvl_langevin(e, x, 1e-3)), ("cd1", lambda e, x: cd1(e, x, 1e-2))):
        net = mlp(2, 32, 2, 1, "swish").to(device)

        def energy(x, m=net):
            return m(x).squeeze(-1)
        opt = torch.optim.Adam(net.parameters(), lr=4e-3)
        x = torch.randn(64, 2, device=device)
        losses = []
        for _ in range(3):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
                loss = objective(energy, x).float().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        out[name] = torch.stack(losses)
        # compiled for the forward pass only: both objectives differentiate the energy's gradient (double
        # backward), which torch.compile does not support
        final = torch.compile(net) if fast else net
        with torch.no_grad():
            out[f"{name}_energy"] = final(x).squeeze(-1).float()
    return out


@needs_parity_device
def test_cuda_parity_train_and_sample():
    assert_parity(_steps, rtol=1e-3, atol=1e-3, device=parity_device())


def test_parity_steps_cpu_against_cpu():
    ref = assert_parity(_steps, rtol=1e-3, atol=1e-3, device=torch.device("cpu"))
    assert ref["mvl"].shape == ref["cd1"].shape == (3,)


@needs_cuda
def test_cuda_amp_compile_smoke():
    fast = run_on(torch.device("cuda"), lambda d: _steps(d, fast=True))
    assert all(torch.isfinite(v).all() for v in fast.values())
