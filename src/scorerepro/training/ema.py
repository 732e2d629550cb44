"""Exponential moving averages of network weights, one `EMA` per network that asks for one."""

from __future__ import annotations

import copy
from typing import Any, Mapping

import torch
from torch import nn

from .train_errors import CheckpointError


class EMA:
    """Exponential moving average of a model's parameters: shadow <- rate * shadow + (1 - rate) * param.

    Buffers (e.g. normalisation statistics) are copied, not averaged. `state_dict()["state"]` has the model's own
    state_dict keys, so `model.load_state_dict(ema_state["state"])` gives the averaged model.
    """

    def __init__(self, model: nn.Module, rate: float):
        if not 0.0 < rate < 1.0:
            raise ValueError(f"EMA rate {rate!r} must be in (0, 1), e.g. 0.999")
        self.rate = float(rate)
        self.num_updates = 0
        self._pnames = [n for n, _ in model.named_parameters()]
        self._bnames = [n for n, _ in model.named_buffers()]
        self.params = [p.detach().clone() for _, p in model.named_parameters()]
        self.buffers = [b.detach().clone() for _, b in model.named_buffers()]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        params = [p.detach() for p in model.parameters()]
        if len(params) != len(self.params):
            raise ValueError(f"EMA tracks {len(self.params)} parameters, the model has {len(params)}")
        # lerp(shadow, p, 1 - rate) = shadow + (1 - rate)(p - shadow): one fused kernel per group of tensors.
        torch._foreach_lerp_(self.params, params, 1.0 - self.rate)
        for s, b in zip(self.buffers, model.buffers()):
            s.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict:
        state = {n: t.detach().cpu().contiguous().clone() for n, t in zip(self._pnames, self.params)}
        state.update({n: t.detach().cpu().contiguous().clone() for n, t in zip(self._bnames, self.buffers)})
        return {"rate": self.rate, "num_updates": self.num_updates, "state": state}

    @torch.no_grad()
    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        state = sd["state"]
        names = self._pnames + self._bnames
        missing = [n for n in names if n not in state]
        extra = [n for n in state if n not in set(names)]
        if missing or extra:
            raise CheckpointError(f"EMA state does not fit the model: missing {missing[:5]}, unexpected "
                                  f"{extra[:5]}")
        for n, t in zip(names, self.params + self.buffers):
            t.copy_(state[n])
        self.rate = float(sd["rate"])
        self.num_updates = int(sd["num_updates"])

    def copy_to(self, model: nn.Module) -> None:
        """Overwrite `model`'s parameters and buffers with the averaged ones."""
        model.load_state_dict(self.state_dict()["state"])

    def averaged_model(self, model: nn.Module) -> nn.Module:
        """A copy of `model` (pass the plain, uncompiled module) holding the averaged weights, in eval mode."""
        m = copy.deepcopy(model)
        self.copy_to(m)
        return m.eval()
