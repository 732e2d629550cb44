"""The CPU ELU against torch's own ELU (the independent answer) and against the closed form."""

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from scorerepro.nets import activations
from scorerepro.nets.activations import ELU, elu


def test_values_match_torch_elu_and_the_closed_form():
    x64 = torch.linspace(-20, 20, 40001, dtype=torch.float64)
    # float64: exp(x) - 1 and expm1 agree to ~1e-16 in absolute terms.
    assert torch.allclose(elu(x64), F.elu(x64), rtol=0, atol=1e-15)
    assert elu(torch.tensor([-1.0, 0.0, 2.5], dtype=torch.float64)).tolist() == pytest.approx(
        [math.exp(-1.0) - 1.0, 0.0, 2.5], abs=1e-15)
    # float32: within one ulp of 1 of the float64 truth (the documented cost of exp(x) - 1 over expm1).
    x32 = torch.randn(200_000, generator=torch.Generator().manual_seed(0)) * 4
    err = (elu(x32).double() - F.elu(x32.double())).abs().max().item()
    assert err <= 2 ** -23
    assert torch.equal(elu(x32)[x32 > 0], x32[x32 > 0])  # the positive side is x itself, bit for bit


def test_gradient_matches_torch_elu_and_gradcheck():
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3
    x[0, 0, 0, :3] = torch.tensor([0.0, -1e-12, 1e-12], dtype=torch.float64)  # both sides of the kink
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    g = torch.randn_like(x)
    elu(a).backward(g)
    F.elu(b).backward(g)
    assert torch.allclose(a.grad, b.grad, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(elu, (torch.randn(40, dtype=torch.float64, requires_grad=True) * 2,))


def test_second_derivative_for_sliced_score_matching():
    # SSM (the Fig. 1 toy) differentiates the score's input-Jacobian again: ELU'' is exp(x) below 0 and 0 above.
    x = (torch.randn(40, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 2).requires_grad_()
    assert torch.autograd.gradgradcheck(elu, (x,))
    (d1,) = torch.autograd.grad(elu(x).sum(), x, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    x0 = x.detach()
    assert torch.allclose(d2, torch.where(x0 > 0, torch.zeros_like(x0), torch.exp(x0)), rtol=0, atol=1e-12)


def test_module_is_a_drop_in_for_nn_elu():
    x = torch.randn(2, 8, 6, 6, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(ELU()(x), torch.nn.ELU()(x), rtol=0, atol=2 ** -23)
    assert ELU().state_dict() == {}  # checkpoints written with nn.ELU load unchanged
    x_before = x.clone()
    ELU()(x)
    assert torch.equal(x, x_before)  # not in place


def _route_spies(monkeypatch) -> list[str]:
    """Record which implementation elu dispatches to: torch's F.elu or the CPU formula."""
    calls: list[str] = []

    def torch_elu(x):
        calls.append("torch")
        return x

    class CpuFormula:
        @staticmethod
        def apply(x):
            calls.append("cpu formula")
            return x

    monkeypatch.setattr(activations, "F", SimpleNamespace(elu=torch_elu))
    monkeypatch.setattr(activations, "_ExpMinusOneELU", CpuFormula)
    return calls


def test_non_cpu_tensors_and_compiled_graphs_take_torch_elu(monkeypatch):
    calls = _route_spies(monkeypatch)
    elu(torch.empty(2, 3, device="meta"))
    assert calls == ["torch"]
    elu(torch.zeros(2, 3))
    assert calls == ["torch", "cpu formula"]
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    elu(torch.zeros(2, 3))
    assert calls == ["torch", "cpu formula", "torch"]


def test_refinenet_score_matches_one_built_with_torch_elu():
    from scorerepro.papers.ncsn.nets.refinenet import CondRefineNetDilated

    torch.manual_seed(0)
    net = CondRefineNetDilated(channels=1, ngf=4, num_classes=3, image_size=28).double()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    y = torch.tensor([0, 2])
    ours = net(x, y)
    reference = torch.nn.ELU()
    for module in net.modules():
        if hasattr(module, "act") and isinstance(module.act, ELU):
            module.act = reference
    assert not any(isinstance(m, ELU) for m in net.modules())
    assert torch.allclose(ours, net(x, y), rtol=0, atol=1e-12)
