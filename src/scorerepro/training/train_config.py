"""Settings of a training run: the loop's (`LoopConfig`), each optimiser's (`OptimizerSpec`), and the
single-network `TrainConfig` that combines both for score-network training.

Which settings restart a run. A run resumes from its newest checkpoint only when nothing that shapes the
trajectory has changed; otherwise it starts afresh (see `train_loop`'s `on_mismatch`). The settings that MAY change
between a run and its resumption are exactly `RESUMABLE_SETTINGS`:

    n_iters, snapshot_freq, log_freq, progress      how long to train and how often to save / log / show
    device, channels_last, compile, fused_adam      where and how fast the same arithmetic runs

Every other setting restarts the run: batch_size, seed, amp_dtype (bf16 changes the numbers), every optimiser
field (kind, params_of, lr, betas, eps, weight_decay, amsgrad, momentum; for TrainConfig lr, beta1, beta2, eps,
weight_decay, amsgrad), the EMA rates (ema_rate), the set of network names, and any key of the experiment's
config_record not listed in `ignore_record_keys`. Unknown keys restart too: a new setting is assumed to matter
until it is added to RESUMABLE_SETTINGS.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch

AMP_DTYPES = {"bfloat16": torch.bfloat16}
OPTIMIZER_KINDS = ("adam", "sgd")

RESUMABLE_SETTINGS = frozenset({"n_iters", "snapshot_freq", "log_freq", "progress", "device", "channels_last",
                                "compile", "fused_adam"})


def _bad(owner: str, name: str, value: Any, want: str) -> None:
    raise ValueError(f"{owner}.{name}={value!r} is invalid: {want}")


def _check_loop_fields(obj: Any) -> None:
    """Validation shared by LoopConfig and TrainConfig; errors name the class and the field."""
    owner = type(obj).__name__

    def bad(name: str, want: str) -> None:
        _bad(owner, name, getattr(obj, name), want)

    for name in ("n_iters", "batch_size", "snapshot_freq", "log_freq"):
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            bad(name, "expected an integer >= 1")
    if isinstance(obj.seed, bool) or not isinstance(obj.seed, int) or obj.seed < 0:
        bad("seed", "expected an integer >= 0")
    if obj.amp_dtype is not None and obj.amp_dtype not in AMP_DTYPES:
        bad("amp_dtype", f"expected None or one of {sorted(AMP_DTYPES)}")
    for name in ("channels_last", "compile", "fused_adam", "progress"):
        if not isinstance(getattr(obj, name), bool):
            bad(name, "expected true or false")
    if not isinstance(obj.device, str) or not obj.device:
        bad("device", "expected 'auto', 'cpu', 'cuda' or 'cuda:N'")


def _check_positive(owner: str, name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < float(v) < math.inf:
        _bad(owner, name, v, "expected a positive finite number")


def _check_unit(owner: str, name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) < 1.0:
        _bad(owner, name, v, "expected a number in [0, 1)")


def _check_decay(owner: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) < math.inf:
        _bad(owner, "weight_decay", v, "expected a finite number >= 0")


def check_ema_rate(owner: str, name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0:
        _bad(owner, name, v, "expected None (EMA off) or a number in (0, 1), e.g. 0.999")


class _DictMixin:
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        """Build from a mapping (e.g. a params.yaml section); unknown keys are an error, not silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training setting(s) {unknown}; known settings: {sorted(known)}")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LoopConfig(_DictMixin):
    """Settings of the loop itself, whatever networks and optimisers it drives (those are `OptimizerSpec`s)."""

    n_iters: int
    batch_size: int
    snapshot_freq: int = 5000
    log_freq: int = 100
    seed: int = 0
    device: str = "auto"
    amp_dtype: str | None = None
    channels_last: bool = False
    compile: bool = False
    fused_adam: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        _check_loop_fields(self)


@dataclass(frozen=True)
class OptimizerSpec(_DictMixin):
    """One optimiser over the parameters of the networks named in `params_of` (in that order, one group).

    kind 'adam' uses lr, betas, eps, weight_decay, amsgrad (torch.optim.Adam; fused on CUDA when the loop's
    fused_adam is set); kind 'sgd' uses lr, momentum, weight_decay (torch.optim.SGD). A network may appear in
    several specs (an adversarial autoencoder updates its encoder for reconstruction and again as a generator).
    """

    params_of: tuple[str, ...]
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    kind: str = "adam"
    momentum: float = 0.0

    def __post_init__(self) -> None:
        owner = "OptimizerSpec"
        names = (self.params_of,) if isinstance(self.params_of, str) else self.params_of
        try:
            names = tuple(names)
        except TypeError:
            _bad(owner, "params_of", self.params_of, "expected a list of network names")
        if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            _bad(owner, "params_of", self.params_of, "expected a non-empty list of distinct network names")
        object.__setattr__(self, "params_of", names)
        betas = self.betas
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            _bad(owner, "betas", betas, "expected two numbers in [0, 1), e.g. (0.9, 0.999)")
        object.__setattr__(self, "betas", tuple(betas))
        if self.kind not in OPTIMIZER_KINDS:
            _bad(owner, "kind", self.kind, f"expected one of {list(OPTIMIZER_KINDS)}")
        _check_positive(owner, "lr", self.lr)
        _check_positive(owner, "eps", self.eps)
        for i, b in enumerate(self.betas):
            _check_unit(owner, f"betas[{i}]", b)
        _check_unit(owner, "momentum", self.momentum)
        _check_decay(owner, self.weight_decay)
        if not isinstance(self.amsgrad, bool):
            _bad(owner, "amsgrad", self.amsgrad, "expected true or false")
        # A setting the chosen optimiser ignores would silently do nothing; refuse it instead.
        if self.kind == "adam" and self.momentum != 0.0:
            _bad(owner, "momentum", self.momentum, "Adam has no momentum setting (use betas), or set kind='sgd'")
        if self.kind == "sgd" and self.amsgrad:
            _bad(owner, "amsgrad", self.amsgrad, "SGD has no amsgrad; use kind='adam'")

    def build(self, params: list[torch.nn.Parameter], fused_adam: bool = False) -> torch.optim.Optimizer:
        if self.kind == "sgd":
            return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        kwargs: dict[str, Any] = dict(lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay,
                                      amsgrad=self.amsgrad)
        if fused_adam:
            kwargs["fused"] = True
        return torch.optim.Adam(params, **kwargs)


@dataclass(frozen=True)
class TrainConfig(_DictMixin):
    """Training settings of one score network. Optimiser defaults are the official NCSN ones (ermongroup/ncsn
    configs/anneal.yml, runners/anneal_runner.py: Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8 (torch default), no
    weight decay, no amsgrad; batch 128, 200,001 iterations, a snapshot every 5,000). Speed options default to off.
    `loop_config()` and `optimizer_spec()` split it into what `train_loop` takes."""

    n_iters: int
    batch_size: int
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    snapshot_freq: int = 5000
    log_freq: int = 100
    ema_rate: float | None = None
    seed: int = 0
    device: str = "auto"
    amp_dtype: str | None = None
    channels_last: bool = False
    compile: bool = False
    fused_adam: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        _check_loop_fields(self)
        owner = type(self).__name__
        _check_positive(owner, "lr", self.lr)
        _check_positive(owner, "eps", self.eps)
        _check_unit(owner, "beta1", self.beta1)
        _check_unit(owner, "beta2", self.beta2)
        _check_decay(owner, self.weight_decay)
        if self.ema_rate is not None:
            check_ema_rate(owner, "ema_rate", self.ema_rate)
        if not isinstance(self.amsgrad, bool):
            _bad(owner, "amsgrad", self.amsgrad, "expected true or false")

    def loop_config(self) -> LoopConfig:
        return LoopConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(LoopConfig)})

    def optimizer_spec(self, params_of: tuple[str, ...] = ("model",)) -> OptimizerSpec:
        return OptimizerSpec(params_of=params_of, lr=self.lr, betas=(self.beta1, self.beta2), eps=self.eps,
                             weight_decay=self.weight_decay, amsgrad=self.amsgrad)


# TrainConfig fields that restart a run (kept for callers of the single-network API; derived, not a second list).
TRAJECTORY_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in RESUMABLE_SETTINGS)
