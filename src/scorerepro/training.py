"""Training loop: Adam, self-describing checkpoints, exact resume, EMA, loss log, DDP.

The library knows nothing of params.yaml: a pipeline stage builds a `TrainConfig`, a model, a loss function and a
batch source, and calls `train`. Layout of `out_dir`:

    checkpoints/checkpoint_{step}.pt   every snapshot_freq updates, and at the last update
    checkpoints/latest.pt              hard link to (or copy of) the newest checkpoint
    loss.csv                           step,loss,lr  one row per update (DVC plots: x=step, y=loss)
    final.pt                           hard link to (or copy of) checkpoint_{n_iters}.pt, written at the end
    completed.json                     written last; its presence means the run finished

`step` everywhere means "number of optimiser updates done": checkpoint_5000.pt holds the weights after 5,000
updates (as in ermongroup/ncsn, whose loop increments the counter before updating and saves when it divides
snapshot_freq). The update that produces step k uses batch index k-1: `data.batch_for_step(k - 1, generator)`.

Randomness. Every update draws its batch from a fresh CPU generator and its noise from a fresh generator on the
training device, both seeded from (cfg.seed, update index) by hashing. So a batch depends only on the seed and the
step, not on history, and a resumed run sees exactly the batches an uninterrupted run would. The global RNGs
(torch CPU/CUDA, numpy, python `random`; used e.g. by dropout) are seeded at a fresh start and saved in every
checkpoint, per rank, and restored on resume. Exact resume is bitwise on the CPU; CUDA kernels (atomics in
convolution backward) are not bitwise deterministic, so on a GPU resume is exact up to that.

Data parallelism. The batch source returns the GLOBAL batch (cfg.batch_size rows, identical on every rank); each
rank trains on its contiguous slice. The loss function gets a `StepRNG`, whose draws are made for the whole
global batch and then sliced, so rank r's per-sample noise is exactly what a single process would have drawn for
those rows. With DDP's gradient averaging over equal slices, a 2-process step equals a 1-process step on the same
global batch (up to floating-point summation order).

Non-finite losses. To avoid a host sync per step, losses stay on the device and are checked (one transfer) every
log_freq updates and before every checkpoint; the error names the exact first bad step. Up to log_freq - 1
further updates may have run on the bad weights, but they are never saved: nothing is written after the error.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import os
import random
import re
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import distributed as D
from .fileio import atomic_path, save_torch, sha256_file, write_json, write_text

FORMAT_NAME = "scorerepro.training.checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
LATEST_NAME = "latest.pt"
FINAL_NAME = "final.pt"
COMPLETED_NAME = "completed.json"
LOSS_LOG_NAME = "loss.csv"
LOSS_LOG_HEADER = "step,loss,lr"
SEED_SCHEME = "sha256('scorerepro:{stream}:{seed}:{index}')[:8] & (2**63 - 1)"

_CKPT_RE = re.compile(r"^checkpoint_(\d+)\.pt$")
_REQUIRED_KEYS = ("format", "format_version", "step", "config_record", "train_config", "model", "optimizer",
                  "ema", "rng", "torch_version")
# TrainConfig fields that change the optimisation trajectory: a resume must not mix values of these. The rest
# (n_iters, frequencies, device and speed flags) may change between a run and its resumption.
TRAJECTORY_FIELDS = ("batch_size", "lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "ema_rate", "seed",
                     "amp_dtype")
_AMP_DTYPES = {"bfloat16": torch.bfloat16}


class TrainingError(RuntimeError):
    """Base class for errors raised by the training loop."""


class CheckpointError(TrainingError):
    """A checkpoint file is missing, unreadable, foreign or of an unknown format version."""


class ConfigMismatchError(TrainingError):
    """The checkpoint in out_dir was made with a different configuration than the current run."""


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; `step` is the first update whose loss was not finite."""

    def __init__(self, step: int, loss: float, message: str):
        super().__init__(message)
        self.step = step
        self.loss = loss


# ----------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. Optimiser defaults are the official NCSN ones (ermongroup/ncsn configs/anneal.yml,
    runners/anneal_runner.py: Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8 (torch default), no weight decay, no
    amsgrad; batch 128, 200,001 iterations, a snapshot every 5,000). Speed options default to off."""

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
        def bad(name: str, want: str) -> None:
            raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is invalid: {want}")

        for name in ("n_iters", "batch_size", "snapshot_freq", "log_freq"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                bad(name, "expected an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            bad("seed", "expected an integer >= 0")
        for name, lo, hi in (("lr", 0.0, math.inf), ("eps", 0.0, math.inf)):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not lo < float(v) < hi:
                bad(name, "expected a positive finite number")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 <= float(v) < 1.0:
                bad(name, "expected a number in [0, 1)")
        if not isinstance(self.weight_decay, (int, float)) or not 0.0 <= float(self.weight_decay) < math.inf:
            bad("weight_decay", "expected a finite number >= 0")
        if self.ema_rate is not None and (not isinstance(self.ema_rate, (int, float))
                                          or not 0.0 < float(self.ema_rate) < 1.0):
            bad("ema_rate", "expected None (EMA off) or a number in (0, 1), e.g. 0.999")
        if self.amp_dtype is not None and self.amp_dtype not in _AMP_DTYPES:
            bad("amp_dtype", f"expected None or one of {sorted(_AMP_DTYPES)}")
        for name in ("amsgrad", "channels_last", "compile", "fused_adam", "progress"):
            if not isinstance(getattr(self, name), bool):
                bad(name, "expected true or false")
        if not isinstance(self.device, str) or not self.device:
            bad("device", "expected 'auto', 'cpu', 'cuda' or 'cuda:N'")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """Build from a mapping (e.g. a params.yaml section); unknown keys are an error, not silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training setting(s) {unknown}; known settings: {sorted(known)}")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------- randomness


def derive_seed(seed: int, stream: str, index: int) -> int:
    """A 63-bit seed for (seed, stream, index); independent streams for data, noise and global RNGs."""
    digest = hashlib.sha256(f"scorerepro:{stream}:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python `random`, e.g. before building a model."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class StepRNG:
    """Randomness for one update, shaped per sample and sliced to this rank's rows of the global batch.

    Every draw is made for the whole global batch from the step's generator (identical on all ranks), then rows
    [start, stop) are kept, so the noise for sample j does not depend on how many processes share the batch.
    `generator` is exposed for draws that should be the same for the whole batch.
    """

    def __init__(self, generator: torch.Generator, start: int, stop: int, global_batch: int):
        if not 0 <= start < stop <= global_batch:
            raise ValueError(f"rows [{start}, {stop}) are not a slice of a global batch of {global_batch}")
        self.generator = generator
        self.start, self.stop, self.global_batch = start, stop, global_batch
        self.device = generator.device

    @property
    def local_batch(self) -> int:
        return self.stop - self.start

    def _shape(self, sample_shape: tuple) -> tuple:
        if len(sample_shape) == 1 and isinstance(sample_shape[0], (tuple, list, torch.Size)):
            sample_shape = tuple(sample_shape[0])
        return (self.global_batch, *sample_shape)

    def randn(self, *sample_shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Standard normal, shape (local_batch, *sample_shape)."""
        full = torch.randn(self._shape(sample_shape), generator=self.generator, device=self.device, dtype=dtype)
        return full[self.start:self.stop]

    def rand(self, *sample_shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Uniform on [0, 1), shape (local_batch, *sample_shape)."""
        full = torch.rand(self._shape(sample_shape), generator=self.generator, device=self.device, dtype=dtype)
        return full[self.start:self.stop]

    def randint(self, low: int, high: int | None = None, sample_shape: tuple = ()) -> torch.Tensor:
        """Integers in [low, high) (or [0, low) with one argument), int64, shape (local_batch, *sample_shape)."""
        if high is None:
            low, high = 0, low
        full = torch.randint(low, high, self._shape(tuple(sample_shape)), generator=self.generator,
                             device=self.device)
        return full[self.start:self.stop]

    def _check_like(self, x: torch.Tensor) -> None:
        if x.shape[0] != self.local_batch:
            raise ValueError(f"tensor with {x.shape[0]} rows given to StepRNG for {self.local_batch} rows "
                             f"(rows {self.start}..{self.stop - 1} of {self.global_batch}); draw per-sample "
                             f"noise for the batch the loss function received")

    def randn_like(self, x: torch.Tensor) -> torch.Tensor:
        self._check_like(x)
        return self.randn(*x.shape[1:], dtype=x.dtype).to(x.device)

    def rand_like(self, x: torch.Tensor) -> torch.Tensor:
        self._check_like(x)
        return self.rand(*x.shape[1:], dtype=x.dtype).to(x.device)


def _np_state() -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    # Stored as a tensor and plain numbers so the checkpoint loads with torch.load(weights_only=True).
    return {"bit_generator": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _set_np_state(s: dict) -> None:
    np.random.set_state((s["bit_generator"], s["keys"].numpy().astype(np.uint32), s["pos"], s["has_gauss"],
                         s["cached_gaussian"]))


def capture_rng_state() -> dict:
    """This process's global RNG states (torch CPU, CUDA if in use, numpy, python)."""
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = [t.clone() for t in torch.cuda.get_rng_state_all()]
    return {"torch_cpu": torch.get_rng_state().clone(), "torch_cuda": cuda, "numpy": _np_state(),
            "python": random.getstate()}


def restore_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch_cpu"].cpu())
    cuda = state.get("torch_cuda")
    if cuda is not None and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        if n != len(cuda):
            warnings.warn(f"checkpoint has CUDA RNG states for {len(cuda)} devices, this machine has "
                          f"{torch.cuda.device_count()}; restoring the first {n}")
        for i in range(n):
            torch.cuda.set_rng_state(cuda[i].cpu(), i)
    _set_np_state(state["numpy"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


# ----------------------------------------------------------------------------------------------- EMA


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


# ----------------------------------------------------------------------------------------------- checkpoints


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().contiguous().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_to_cpu(v) for v in obj)
    return obj


def _normalise_record(record: Mapping[str, Any]) -> dict:
    if not isinstance(record, Mapping):
        raise TypeError(f"config_record must be a dict (the experiment's configuration), got {type(record)}")
    try:
        # A JSON round trip turns tuples into lists etc., so saved and current records compare equal.
        return json.loads(json.dumps(record, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(f"config_record must be JSON-serialisable (str, numbers, bools, None, lists, dicts): "
                        f"{e}") from e


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load and validate a training checkpoint; CheckpointError names the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        # weights_only: a checkpoint is plain data; refusing arbitrary pickles also rejects foreign files safely.
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure here means the file is unusable
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        # torch's weights_only errors bury the cause ("Unsupported global ...") under advice; show the cause.
        msg = next((ln for ln in lines if "error:" in ln.lower()), lines[0] if lines else "")[:300]
        raise CheckpointError(f"{path} could not be read as a checkpoint ({type(e).__name__}: {msg}); the file is "
                              f"corrupted or not a scorerepro checkpoint. Delete it to resume from an earlier "
                              f"checkpoint, or restore it (e.g. `dvc checkout`).") from e
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path} is not a scorerepro training checkpoint (format {found!r}, expected "
                              f"{FORMAT_NAME!r})")
    if obj.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {obj.get('format_version')!r}; this code "
                              f"reads version {FORMAT_VERSION}. Use the scorerepro version that wrote it.")
    missing = [k for k in _REQUIRED_KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"{path} lacks checkpoint fields {missing}; the file is damaged")
    return obj


def list_checkpoints(out_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of every out_dir/checkpoints/checkpoint_{step}.pt, by step."""
    d = Path(out_dir) / CHECKPOINT_DIR
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = _CKPT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    ckpts = list_checkpoints(out_dir)
    return ckpts[-1][1] if ckpts else None


def is_complete(out_dir: str | os.PathLike) -> bool:
    """True when a run in out_dir finished (completed.json and final.pt both present)."""
    out_dir = Path(out_dir)
    return (out_dir / COMPLETED_NAME).is_file() and (out_dir / FINAL_NAME).is_file()


def load_model_weights(model: nn.Module, checkpoint: Mapping[str, Any] | str | os.PathLike,
                       which: str = "auto") -> nn.Module:
    """Load a checkpoint's weights into `model`. which: 'ema', 'model', or 'auto' (EMA when it was kept)."""
    ckpt = load_checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    if which not in ("auto", "ema", "model"):
        raise ValueError(f"which={which!r}: expected 'auto', 'ema' or 'model'")
    if which == "ema" and ckpt["ema"] is None:
        raise CheckpointError("the checkpoint has no EMA weights (trained with ema_rate=None); use which='model'")
    use_ema = ckpt["ema"] is not None and which in ("auto", "ema")
    model.load_state_dict(ckpt["ema"]["state"] if use_ema else ckpt["model"])
    return model


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: d}


def config_differences(saved_record: Mapping, record: Mapping, saved_train: Mapping,
                       cfg: TrainConfig) -> list[str]:
    """Human-readable differences 'key: checkpoint=..., now=...' between a checkpoint and the current run."""
    a, b = _flatten(_normalise_record(saved_record)), _flatten(_normalise_record(record))
    diffs = [f"config_record.{k}: checkpoint={a.get(k, '<absent>')!r}, now={b.get(k, '<absent>')!r}"
             for k in sorted(set(a) | set(b)) if a.get(k, "<absent>") != b.get(k, "<absent>")]
    now = cfg.to_dict()
    for k in TRAJECTORY_FIELDS:
        if saved_train.get(k, "<absent>") != now[k]:
            diffs.append(f"train.{k}: checkpoint={saved_train.get(k, '<absent>')!r}, now={now[k]!r}")
    return diffs


def _link_or_copy(src: Path, dst: Path) -> None:
    """Make dst the same file as src atomically: a hard link (no extra disk), or a copy where links fail."""
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


# ----------------------------------------------------------------------------------------------- loss log


class _LossLog:
    """step,loss,lr rows; appended and flushed so a killed run keeps its log. On open, rows after `keep_until`
    (steps a resumed run will redo) and any half-written last line are dropped."""

    def __init__(self, path: Path, keep_until: int):
        self.path = path
        kept: list[str] = []
        if path.is_file():
            for line in path.read_text().splitlines()[1:]:
                parts = line.split(",")
                if len(parts) != 3:
                    continue
                try:
                    step = int(parts[0])
                    float(parts[1]), float(parts[2])
                except ValueError:
                    continue
                if 1 <= step <= keep_until:
                    kept.append(line)
        write_text(path, "\n".join([LOSS_LOG_HEADER, *kept]) + "\n")
        self._f = open(path, "a", encoding="utf-8")

    def write(self, rows: list[tuple[int, float, float]]) -> None:
        self._f.write("".join(f"{s},{l!r},{lr!r}\n" for s, l, lr in rows))
        self._f.flush()

    def close(self) -> None:
        self._f.close()


# ----------------------------------------------------------------------------------------------- training


@runtime_checkable
class BatchSource(Protocol):
    """Gives the GLOBAL training batch (cfg.batch_size rows on dim 0) for update index `step` (0-based),
    deterministically from `step` and the CPU `generator` (all its randomness must come from the generator).
    A tensor, or a tuple/list/dict of tensors with the batch on dim 0."""

    def batch_for_step(self, step: int, generator: torch.Generator) -> Any: ...


LossFn = Callable[[nn.Module, Any, StepRNG], torch.Tensor]


@dataclass
class TrainResult:
    model: nn.Module  # the plain (unwrapped, uncompiled) model, trained, on the training device
    ema: EMA | None
    out_dir: Path
    final_checkpoint: Path
    step: int  # updates done in total
    start_step: int  # the step this call resumed from (0: fresh; == step: already complete, nothing run)
    last_loss: float | None  # loss of the last update run in this call (None if none ran)
    seconds: float  # wall time of the updates run in this call
    extra: dict = field(default_factory=dict)

    def ema_model(self) -> nn.Module:
        """A copy of the model with the EMA weights, in eval mode (for sampling)."""
        if self.ema is None:
            raise ValueError("this run kept no EMA (ema_rate=None); use result.model")
        return self.ema.averaged_model(self.model)


def _resolve_device(spec: str, ctx: D.DistContext) -> torch.device:
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(spec)
    except RuntimeError as e:
        raise ValueError(f"TrainConfig.device={spec!r} is not a torch device: {e}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"TrainConfig.device={spec!r} but CUDA is not available here; use 'cpu' or 'auto'")
        if dev.index is None:
            # Under torchrun each process drives the GPU of its local rank.
            dev = torch.device("cuda", ctx.local_rank if ctx.enabled else torch.cuda.current_device())
        torch.cuda.set_device(dev)
    return dev


def _slice_batch(batch: Any, start: int, stop: int, expect: int) -> Any:
    if isinstance(batch, torch.Tensor):
        if batch.ndim == 0 or batch.shape[0] != expect:
            raise ValueError(f"the batch source returned a tensor of shape {tuple(batch.shape)}; expected the "
                             f"global batch of batch_size={expect} rows on dim 0")
        return batch[start:stop]
    if isinstance(batch, (tuple, list)):
        return type(batch)(_slice_batch(b, start, stop, expect) for b in batch)
    if isinstance(batch, dict):
        return {k: _slice_batch(v, start, stop, expect) for k, v in batch.items()}
    raise TypeError(f"the batch source returned {type(batch).__name__}; expected a tensor or a tuple/list/dict "
                    f"of tensors")


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.ndim == 4 and batch.is_floating_point():
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device, channels_last) for b in batch)
    return {k: _to_device(v, device, channels_last) for k, v in batch.items()}


def _batch_fn(data: Any) -> Callable[[int, torch.Generator], Any]:
    if isinstance(data, BatchSource):
        return data.batch_for_step
    if callable(data):
        return data
    raise TypeError(f"data must have batch_for_step(step, generator) or be such a callable, got "
                    f"{type(data).__name__}")


def _clear_outputs(out_dir: Path, checkpoints_too: bool) -> None:
    """Remove what marks a run as finished (and, for a fresh start, the previous run's checkpoints and log)."""
    for name in (COMPLETED_NAME, FINAL_NAME):  # completed first: never a marker without its final model
        with contextlib.suppress(FileNotFoundError):
            (out_dir / name).unlink()
    if checkpoints_too:
        for _, p in list_checkpoints(out_dir):
            p.unlink()
        for p in (out_dir / CHECKPOINT_DIR / LATEST_NAME, out_dir / LOSS_LOG_NAME):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _plan(out_dir: Path, record: dict, cfg: TrainConfig, resume: bool) -> dict:
    """Rank 0 decides: start fresh, resume from a checkpoint, or return a completed run. Never raises (errors
    travel in the plan so every rank raises them together instead of waiting on a broadcast forever)."""
    try:
        if not resume:
            _clear_outputs(out_dir, checkpoints_too=True)
            return {"action": "fresh"}
        path = latest_checkpoint(out_dir)
        if path is None:
            _clear_outputs(out_dir, checkpoints_too=False)
            return {"action": "fresh"}
        ckpt = load_checkpoint(path)
        diffs = config_differences(ckpt["config_record"], record, ckpt["train_config"], cfg)
        if diffs:
            return {"error": "ConfigMismatchError", "message":
                    f"the checkpoint {path} was made with a different configuration than this run:\n  "
                    + "\n  ".join(diffs)
                    + f"\nUse a new output folder, restore the old configuration, or pass resume=False to start "
                      f"over (this deletes the checkpoints in {out_dir / CHECKPOINT_DIR})."}
        step = int(ckpt["step"])
        if step > cfg.n_iters:
            return {"error": "TrainingError", "message":
                    f"the newest checkpoint {path} is at step {step}, beyond n_iters={cfg.n_iters}; raise "
                    f"n_iters, use a new output folder, or pass resume=False to start over"}
        if step == cfg.n_iters and is_complete(out_dir):
            return {"action": "done", "path": str(path), "step": step}
        _clear_outputs(out_dir, checkpoints_too=False)
        return {"action": "resume", "path": str(path), "step": step}
    except Exception as e:  # noqa: BLE001 - forwarded to every rank, re-raised there
        return {"error": type(e).__name__, "message": str(e)}


_ERRORS = {"ConfigMismatchError": ConfigMismatchError, "CheckpointError": CheckpointError}


def train(model: nn.Module, loss_fn: LossFn, data: BatchSource | Callable[[int, torch.Generator], Any],
          cfg: TrainConfig, out_dir: str | os.PathLike, config_record: Mapping[str, Any],
          resume: bool = True) -> TrainResult:
    """Train `model` with Adam for cfg.n_iters updates, checkpointing into out_dir.

    loss_fn(model, batch, rng) -> scalar loss tensor, where batch is this rank's slice of
    data.batch_for_step(i, generator) on the training device and rng a StepRNG for per-sample noise.
    config_record: the experiment's configuration (JSON-serialisable); stored in every checkpoint and compared
    on resume. resume=True continues from the newest checkpoint in out_dir (or returns at once if the run is
    complete); resume=False deletes out_dir's checkpoints, log and final outputs and starts over.
    Under torchrun (WORLD_SIZE > 1) or an initialised process group, trains data-parallel with DDP; only rank 0
    writes files. Seeds the global RNGs at a fresh start (see the module docstring).
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    record = _normalise_record(config_record)
    batch_fn = _batch_fn(data)
    device_type = "cuda" if (cfg.device == "auto" and torch.cuda.is_available()) or cfg.device.startswith(
        "cuda") else "cpu"
    # The process group (if any) outlives this call; see scorerepro.distributed for why.
    ctx = D.setup(device_type)
    return _train(model, loss_fn, batch_fn, cfg, Path(out_dir), record, resume, ctx)


def _train(model: nn.Module, loss_fn: LossFn, batch_fn: Callable, cfg: TrainConfig, out_dir: Path,
           record: dict, resume: bool, ctx: D.DistContext) -> TrainResult:
    device = _resolve_device(cfg.device, ctx)
    start_row, stop_row = D.shard_bounds(cfg.batch_size, ctx.rank, ctx.world_size)
    if cfg.fused_adam and device.type != "cuda":
        raise ValueError(f"TrainConfig.fused_adam=True needs a CUDA device, the run is on {device}; set "
                         f"fused_adam to false on this machine")
    ckpt_dir = out_dir / CHECKPOINT_DIR

    plan = None
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        plan = _plan(out_dir, record, cfg, resume)
    plan = D.broadcast_object(plan, ctx)
    if "error" in plan:
        raise _ERRORS.get(plan["error"], TrainingError)(plan["message"])

    # Model, optimiser and EMA, on the device; weights from the checkpoint when resuming.
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    ckpt = load_checkpoint(plan["path"], map_location="cpu") if plan["action"] != "fresh" else None
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as e:
            raise CheckpointError(f"the weights in {plan['path']} do not fit this model: {e}") from e
    opt_kwargs: dict[str, Any] = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                                      weight_decay=cfg.weight_decay, amsgrad=cfg.amsgrad)
    if cfg.fused_adam:
        opt_kwargs["fused"] = True
    optimizer = torch.optim.Adam(model.parameters(), **opt_kwargs)
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])

    train_model: nn.Module = model
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        # DDP broadcasts rank 0's weights at construction, so all ranks start equal.
        train_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    ema = EMA(model, cfg.ema_rate) if cfg.ema_rate is not None else None
    if ema is not None and ckpt is not None:
        if ckpt["ema"] is None:
            raise CheckpointError(f"{plan['path']} has no EMA state but ema_rate={cfg.ema_rate}")
        ema.load_state_dict(ckpt["ema"])
    if cfg.compile:
        train_model = torch.compile(train_model)

    start_step = int(plan.get("step", 0))
    if ckpt is None:
        seed_everything(derive_seed(cfg.seed, "global", ctx.rank))
    else:
        per_rank = ckpt["rng"]["per_rank"]
        if len(per_rank) == ctx.world_size:
            restore_rng_state(per_rank[ctx.rank])
        else:
            warnings.warn(f"{plan['path']} was written by {len(per_rank)} process(es), this run has "
                          f"{ctx.world_size}: the global RNGs are reseeded, so dropout-like randomness differs "
                          f"from an uninterrupted run (batches and StepRNG noise do not)")
            seed_everything(derive_seed(cfg.seed, f"global-resume-{start_step}", ctx.rank))
    del ckpt

    if plan["action"] == "done":
        D.barrier(ctx)
        return TrainResult(model, ema, out_dir, out_dir / FINAL_NAME, start_step, start_step, None, 0.0,
                           {"already_complete": True})

    amp = (torch.autocast(device_type=device.type, dtype=_AMP_DTYPES[cfg.amp_dtype])
           if cfg.amp_dtype else contextlib.nullcontext())
    log = _LossLog(out_dir / LOSS_LOG_NAME, keep_until=start_step) if ctx.is_main else None
    pbar = tqdm(total=cfg.n_iters, initial=start_step, desc="train", unit="it", dynamic_ncols=True,
                disable=not (cfg.progress and ctx.is_main))
    pending: list[torch.Tensor] = []
    last_loss: float | None = None

    def flush(step: int) -> None:
        """Move the pending losses to the host (one sync), log them, stop at the first non-finite one."""
        nonlocal last_loss
        if not pending:
            return
        vals = D.all_reduce_mean(torch.stack(pending), ctx).cpu().tolist()
        pending.clear()
        lr = float(optimizer.param_groups[0]["lr"])
        first = step - len(vals) + 1
        bad = next((i for i, v in enumerate(vals) if not math.isfinite(v)), None)
        keep = vals if bad is None else vals[:bad + 1]
        if log is not None:
            log.write([(first + i, v, lr) for i, v in enumerate(keep)])
        if bad is not None:
            s = first + bad
            raise NonFiniteLossError(s, vals[bad], f"the training loss is {vals[bad]} at step {s} (update "
                                     f"{s} of {cfg.n_iters}); the run stopped and wrote no checkpoint after "
                                     f"step {(s - 1) // cfg.snapshot_freq * cfg.snapshot_freq}. Lower lr, check "
                                     f"the data and the noise levels, or try amp_dtype=None.")
        last_loss = vals[-1]
        pbar.set_postfix(loss=f"{last_loss:.4g}", refresh=False)

    def snapshot(step: int) -> Path:
        rng_all = D.all_gather_object(capture_rng_state(), ctx)  # collective: every rank takes part
        path = ckpt_dir / f"checkpoint_{step}.pt"
        if ctx.is_main:
            state = {
                "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "step": step,
                "config_record": record, "train_config": cfg.to_dict(),
                # The plain module's weights: no DDP "module." or torch.compile "_orig_mod." prefixes, and
                # contiguous CPU tensors whatever the memory format used for speed.
                "model": _to_cpu(model.state_dict()), "optimizer": _to_cpu(optimizer.state_dict()),
                "ema": ema.state_dict() if ema is not None else None,
                "rng": {**_to_cpu(rng_all[0]), "per_rank": _to_cpu(rng_all)},
                "step_generators": {"scheme": SEED_SCHEME, "seed": cfg.seed, "streams": ["data", "noise"],
                                    "next_index": step},
                "world_size": ctx.world_size, "torch_version": str(torch.__version__),
                "created_unix": time.time(),
            }
            save_torch(path, state)
            _link_or_copy(path, ckpt_dir / LATEST_NAME)
        return path

    t0 = time.perf_counter()
    train_model.train()
    try:
        for step in range(start_step + 1, cfg.n_iters + 1):
            index = step - 1
            data_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "data", index))
            noise_gen = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "noise", index))
            batch = _slice_batch(batch_fn(index, data_gen), start_row, stop_row, cfg.batch_size)
            batch = _to_device(batch, device, cfg.channels_last)
            rng = StepRNG(noise_gen, start_row, stop_row, cfg.batch_size)
            with amp:
                loss = loss_fn(train_model, batch, rng)
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                raise TypeError(f"loss_fn must return a scalar tensor, got "
                                f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update(model)
            pending.append(loss.detach().float())
            pbar.update(1)
            is_snap = step % cfg.snapshot_freq == 0 or step == cfg.n_iters
            if is_snap or step % cfg.log_freq == 0:
                flush(step)  # before any checkpoint: a non-finite loss must never be saved
            if is_snap:
                snapshot(step)
    finally:
        pbar.close()
        if log is not None:
            log.close()
    seconds = time.perf_counter() - t0

    final = out_dir / FINAL_NAME
    steps_run = cfg.n_iters - start_step
    if ctx.is_main:
        _link_or_copy(ckpt_dir / f"checkpoint_{cfg.n_iters}.pt", final)
        write_json(out_dir / COMPLETED_NAME, {
            "format": FORMAT_NAME, "step": cfg.n_iters, "final_checkpoint": FINAL_NAME,
            "final_sha256": sha256_file(final), "last_loss": last_loss, "resumed_from": start_step,
            "steps_this_run": steps_run, "seconds_this_run": round(seconds, 3),
            "iters_per_second": round(steps_run / seconds, 4) if seconds > 0 else None,
            "world_size": ctx.world_size, "device": str(device), "torch_version": str(torch.__version__),
        })
    D.barrier(ctx)
    return TrainResult(model, ema, out_dir, final, cfg.n_iters, start_step, last_loss, seconds)
