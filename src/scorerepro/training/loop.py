"""The training loop: named networks and optimisers, one step function, everything else shared.

`train_loop` runs `step_fn(ctx)` for each update and takes care of what every paper's training needs alike:
per-step batches and noise, AMP, DDP, torch.compile, EMA, the loss log, the NaN stop, checkpoints with exact
resume, the run-folder lock and the decision to resume or start afresh. `train` is the single-network score
training of NCSN on top of it (network and optimiser both named "model", loss column "loss").
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, runtime_checkable

import torch
from torch import nn
from tqdm import tqdm

from scorerepro.core import distributed as D
from scorerepro.core.device import resolve_device
from scorerepro.core.fileio import sha256_file, write_json
from .divergence import DIVERGED_NAME, error_of, read_divergence, recorded_settings, write_divergence
from .checkpoints import (CHECKPOINT_DIR, COMPLETED_NAME, FINAL_NAME, FORMAT_NAME, FORMAT_VERSION, LATEST_NAME,
                          LOSS_LOG_NAME, SINGLE_NAME, config_differences, is_complete, latest_checkpoint,
                          link_or_copy, list_checkpoints, load_checkpoint, normalise_record, save_checkpoint, to_cpu)
from .ema import EMA
from .loss_log import LossLog, first_losses, loss_log_columns
from .run_dir import SUPERSEDED_SUFFIX, clear_completion, has_results, mark_outcome, move_aside, remove_stale_temps
from .run_lock import RunLock
from .step_rng import SEED_SCHEME, StepRNG, capture_rng_state, derive_seed, restore_rng_state, seed_everything
from .train_config import AMP_DTYPES, LoopConfig, OptimizerSpec, TrainConfig, check_ema_rate
from .train_errors import (CheckpointError, ConfigMismatchError, LossDivergedError, NonFiniteLossError,
                           RunLockedError, TrainingError)

ON_MISMATCH = ("raise", "move_aside")
#: A finite loss whose size passes DIVERGENCE_FACTOR x max(|its value at step 1|, DIVERGENCE_FLOOR) stops the run
#: as NaN does. Sane quick-profile runs stay within 35x of that (README, Reliability: a VAE's KL term and the WAE-MVL
#: energy loss, which start near 0, move most); an exploding lr passes 1e6x within a few updates. The floor keeps a
#: loss that starts near 0 from tripping on ordinary growth.
DIVERGENCE_FACTOR = 1e4
DIVERGENCE_FLOOR = 1.0
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@runtime_checkable
class BatchSource(Protocol):
    """Gives the GLOBAL training batch (batch_size rows on dim 0) for update index `step` (0-based),
    deterministically from `step` and the CPU `generator` (all its randomness must come from the generator).
    A tensor, or a tuple/list/dict of tensors with the batch on dim 0."""

    def batch_for_step(self, step: int, generator: torch.Generator) -> Any: ...


LossFn = Callable[[nn.Module, Any, StepRNG], torch.Tensor]


class StepContext:
    """What `step_fn` gets for one update.

    nets     {name: network to call}: DDP- and torch.compile-wrapped where the run uses them
    modules  {name: the plain network}: for parameters(), requires_grad_(), attributes
    batch    this rank's rows of the global batch, on the training device
    rng      StepRNG for per-sample noise (identical across process counts)
    step     the update being made, 1-based (its checkpoint would be checkpoint_{step}.pt); index = step - 1
    update(name, loss)  zero_grad, backward and step of optimiser `name`, outside autocast

    step_fn runs under the run's autocast; call each DDP-wrapped network once per backward (concatenate real and
    fake inputs of a discriminator), as DDP expects one forward per backward.
    """

    def __init__(self, nets: Mapping[str, nn.Module], modules: Mapping[str, nn.Module], batch: Any,
                 rng: StepRNG, step: int, optimizers: Mapping[str, torch.optim.Optimizer], amp_on: bool,
                 device_type: str):
        self.nets, self.modules, self.batch, self.rng = nets, modules, batch, rng
        self.step, self.index = step, step - 1
        self._optimizers, self._amp_on, self._device_type = optimizers, amp_on, device_type
        self.updates = 0

    def update(self, name: str, loss: torch.Tensor) -> None:
        opt = self._optimizers.get(name)
        if opt is None:
            raise ValueError(f"ctx.update({name!r}, ...): the run has no optimiser of that name; it has "
                             f"{sorted(self._optimizers)}")
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            got = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise TypeError(f"ctx.update({name!r}, loss) needs a scalar tensor loss, got {got}")
        if not self._amp_on:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            # Backward and the optimiser step belong outside autocast; and the autocast cache holds low-precision
            # copies of the weights this step just changed, which a later forward in the same step (the
            # generator's pass through the updated discriminator) must not reuse.
            with torch.autocast(device_type=self._device_type, enabled=False):
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            torch.clear_autocast_cache()
        self.updates += 1


StepFn = Callable[[StepContext], Mapping[str, "torch.Tensor | float"]]


@dataclass
class LoopResult:
    networks: dict[str, nn.Module]  # the plain (unwrapped, uncompiled) networks, trained, on the training device
    emas: dict[str, EMA]
    out_dir: Path
    final_checkpoint: Path
    step: int  # updates done in total
    start_step: int  # the step this call resumed from (0: fresh; == step: already complete, nothing run)
    last_losses: dict[str, float] | None  # losses of the last update run in this call (None if none ran)
    seconds: float  # wall time of the updates run in this call
    extra: dict = field(default_factory=dict)  # already_complete; superseded: where a previous run was moved

    def ema_network(self, name: str) -> nn.Module:
        """A copy of network `name` with its EMA weights, in eval mode (for sampling)."""
        if name not in self.emas:
            raise ValueError(f"network {name!r} kept no EMA (the run averaged {sorted(self.emas)})")
        return self.emas[name].averaged_model(self.networks[name])


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


# ----------------------------------------------------------------------------------------------- batches, device


def _resolve_device(spec: str, ctx: D.DistContext) -> torch.device:
    # Under torchrun each process drives the GPU of its local rank; alone, the current CUDA device.
    local = ctx.local_rank if ctx.enabled else (torch.cuda.current_device() if torch.cuda.is_available() else 0)
    device = resolve_device(spec, local_rank=local)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


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


# ----------------------------------------------------------------------------------------------- resume or not


def _start_afresh(out_dir: Path, why: str) -> dict:
    plan: dict[str, Any] = {"action": "fresh"}
    if has_results(out_dir):
        dest = move_aside(out_dir, why)
        print(f"train: {out_dir}: {why}\ntrain: moved its checkpoints, loss log and final model to {dest} "
              f"(outside the output folder; delete it when no longer needed); starting afresh", flush=True)
        plan["superseded"] = str(dest)
    else:
        clear_completion(out_dir)
    return plan


def _plan(out_dir: Path, record: dict, settings: dict, n_iters: int, resume: bool, on_mismatch: str,
          ignore_record_keys: tuple[str, ...]) -> dict:
    """Rank 0, holding out_dir's lock, decides: start afresh, resume from a checkpoint, or return a completed run."""
    if not resume:
        return _start_afresh(out_dir, "resume=False was passed")
    if (out_dir / DIVERGED_NAME).is_file():
        after = _plan_after_divergence(out_dir, record, settings, n_iters, on_mismatch, ignore_record_keys)
        if after is not None:
            return after
    path = latest_checkpoint(out_dir)
    if path is None:
        return _start_afresh(out_dir, "it has a final model but no checkpoints to resume from")
    ckpt = load_checkpoint(path)  # verifies the checksum: never resume from damaged weights
    diffs = config_differences(ckpt["config_record"], record, ckpt["train_config"], settings, ignore_record_keys)
    if diffs:
        return _other_settings(out_dir, f"its checkpoint {path.name} was made", diffs, on_mismatch)
    step = int(ckpt["step"])
    if step > n_iters:
        raise TrainingError(f"the newest checkpoint {path} is at step {step}, beyond n_iters={n_iters}; raise "
                            f"n_iters, use a new output folder, or pass resume=False to start over (the old run is "
                            f"moved aside, not deleted)")
    if step == n_iters and is_complete(out_dir) and _final_is_intact(out_dir, path):
        return {"action": "done", "path": str(path), "step": step}
    clear_completion(out_dir)
    return {"action": "resume", "path": str(path), "step": step,
            "first_losses": first_losses(out_dir / LOSS_LOG_NAME)}


def _other_settings(out_dir: Path, what: str, diffs: list[str], on_mismatch: str) -> dict:
    listing = "\n  ".join(diffs)
    if on_mismatch == "raise":
        raise ConfigMismatchError(
            f"{out_dir}: {what} with a different configuration than this run:\n  {listing}\n"
            f"Use a new output folder, restore the old configuration, or start over with "
            f"on_mismatch='move_aside' or resume=False (the old run is then moved to "
            f"{out_dir}{SUPERSEDED_SUFFIX}/<UTC time>/, not deleted).")
    return _start_afresh(out_dir, f"{what} under other settings:\n  {listing}")


def _plan_after_divergence(out_dir: Path, record: dict, settings: dict, n_iters: int, on_mismatch: str,
                           ignore_record_keys: tuple[str, ...]) -> dict | None:
    """A run that diverged under these settings diverges again: raise its recorded error rather than retrain into
    it. Under other settings the run starts afresh (its record moves aside with it); a run that now ends before the
    recorded step drops the record and resumes as usual (None)."""
    old_record, old_settings = recorded_settings(out_dir)
    diffs = config_differences(old_record, record, old_settings, settings, ignore_record_keys)
    if diffs:
        return _other_settings(out_dir, f"the run recorded in {DIVERGED_NAME} diverged", diffs, on_mismatch)
    diverged = read_divergence(out_dir)
    if diverged.step > n_iters:
        (out_dir / DIVERGED_NAME).unlink()
        return None
    mark_outcome(out_dir, "diverged", diverged.step)
    raise error_of(diverged)


def _final_is_intact(out_dir: Path, checkpoint: Path) -> bool:
    """Whether final.pt is the file completed.json recorded; a damaged one is remade from `checkpoint` (the last,
    already verified) when that is the file it was made from. False: the run is not finished (resume at its end)."""
    final = out_dir / FINAL_NAME
    try:
        completed = json.loads((out_dir / COMPLETED_NAME).read_text())
        recorded = completed.get("final_sha256")
    except (OSError, ValueError, AttributeError):
        return False
    if recorded is None:
        return False
    _check_recorded_checkpoints(out_dir, completed.get("checkpoint_sha256", {}))
    if sha256_file(final) == recorded:
        return True
    if sha256_file(checkpoint) != recorded:
        return False
    link_or_copy(checkpoint, final)
    print(f"train: {final} did not match the sha256 in {COMPLETED_NAME} (damaged); remade it from {checkpoint}",
          flush=True)
    return True


def _check_recorded_checkpoints(out_dir: Path, recorded: dict[str, str]) -> None:
    """Refuse a finished run whose checkpoints changed since it finished, so that no damaged file is passed on as
    its output; a checkpoint moved away is no longer part of the run."""
    for name, digest in recorded.items():
        path = out_dir / CHECKPOINT_DIR / name
        if path.is_file() and sha256_file(path) != digest:
            raise CheckpointError(f"{path} no longer matches the sha256 {COMPLETED_NAME} recorded when the run "
                                  f"finished: the file is damaged. Restore it as DVC recorded it, `dvc checkout "
                                  f"--force {path}`, or move it out of {path.parent} and rerun")


def _checkpoint_digests(ckpt_dir: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for _, p in list_checkpoints(ckpt_dir.parent)}


_ERRORS = {c.__name__: c for c in (ConfigMismatchError, CheckpointError, RunLockedError, TrainingError)}


# ----------------------------------------------------------------------------------------------- the loop


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"{kind} name {name!r} is invalid: use letters, digits and underscores (it becomes a "
                         f"checkpoint key and a loss.csv column)")


def train_loop(networks: Mapping[str, nn.Module], optimizers: Mapping[str, OptimizerSpec], step_fn: StepFn,
               data: BatchSource | Callable[[int, torch.Generator], Any], cfg: LoopConfig,
               out_dir: str | os.PathLike, config_record: Mapping[str, Any], *,
               ema: Mapping[str, float] | None = None, resume: bool = True, on_mismatch: str = "raise",
               ignore_record_keys: Iterable[str] = (), divergence_factor: float = DIVERGENCE_FACTOR) -> LoopResult:
    """Train named networks with named optimisers for cfg.n_iters updates, checkpointing into out_dir.

    step_fn(ctx) makes one update: it computes losses from ctx.nets, ctx.batch and ctx.rng, calls
    ctx.update(optimiser name, loss) for each optimiser to step (several, in order, e.g. discriminator then
    generator), and returns {loss name: scalar} to log (the same names every step; all are checked for NaN/inf).
    optimizers: {name: OptimizerSpec(params_of=[network names], ...)}. ema: {network name: rate} for the
    networks whose weights are averaged after every update.
    config_record: the experiment's configuration (JSON-serialisable), stored in every checkpoint and compared
    on resume except for the dotted keys in ignore_record_keys (and everything under them).

    Resuming. resume=True continues from the newest checkpoint in out_dir, or returns at once if the run is
    complete (raising n_iters continues a complete run). If the checkpoint's settings differ in a way that changes
    the trajectory (see scorerepro.training.train_config), on_mismatch='raise' raises ConfigMismatchError and
    on_mismatch='move_aside' moves the old run to `<out_dir>.superseded/<UTC time>/` (printing where) and starts
    afresh; resume=False always starts afresh the same way. Nothing is ever deleted but temporary files of
    interrupted writes.

    A loss past divergence_factor x max(|its step-1 value|, DIVERGENCE_FLOOR) stops the run (LossDivergedError),
    as a non-finite one does (NonFiniteLossError); a paper whose losses are bounded passes a smaller factor.

    The run holds an exclusive lock on out_dir (RunLockedError names the holder). Under torchrun (WORLD_SIZE > 1)
    or an initialised process group it trains data-parallel (DDP per trained network); only rank 0 writes files.
    """
    if not isinstance(cfg, LoopConfig):
        raise TypeError(f"cfg must be a LoopConfig, got {type(cfg).__name__} (TrainConfig.loop_config() "
                        f"converts a single-network config)")
    ema = dict(ema or {})
    _check_networks(networks)
    _check_optimizers(optimizers, networks)
    for name, rate in ema.items():
        if name not in networks:
            raise ValueError(f"ema asks to average network {name!r}, which is not among {sorted(networks)}")
        check_ema_rate("ema", name, rate)
    settings = {**cfg.to_dict(), "networks": sorted(networks),
                "optimizers": {n: optimizers[n].to_dict() for n in sorted(optimizers)},
                "ema": {n: float(ema[n]) for n in sorted(ema)}}
    if isinstance(divergence_factor, bool) or not 1.0 < float(divergence_factor) <= math.inf:
        raise ValueError(f"divergence_factor={divergence_factor!r}: expected a number above 1 (inf: no bound)")
    return _run(dict(networks), dict(optimizers), step_fn, _batch_fn(data), cfg, settings, config_record, ema,
                Path(out_dir), resume, on_mismatch, ignore_record_keys, float(divergence_factor))


def _check_networks(networks: Mapping[str, nn.Module]) -> None:
    if not networks:
        raise ValueError("train_loop needs at least one network")
    for name, net in networks.items():
        _check_name("network", name)
        if not isinstance(net, nn.Module):
            raise TypeError(f"network {name!r} is a {type(net).__name__}, not a torch.nn.Module")


def _check_optimizers(optimizers: Mapping[str, OptimizerSpec], networks: Mapping[str, nn.Module]) -> None:
    if not optimizers:
        raise ValueError("train_loop needs at least one optimiser")
    for name, spec in optimizers.items():
        _check_name("optimiser", name)
        if not isinstance(spec, OptimizerSpec):
            raise TypeError(f"optimiser {name!r} is a {type(spec).__name__}, not an OptimizerSpec")
        unknown = [n for n in spec.params_of if n not in networks]
        if unknown:
            raise ValueError(f"optimiser {name!r} trains {unknown}, which are not among the networks "
                             f"{sorted(networks)}")


def train(model: nn.Module, loss_fn: LossFn, data: BatchSource | Callable[[int, torch.Generator], Any],
          cfg: TrainConfig, out_dir: str | os.PathLike, config_record: Mapping[str, Any],
          resume: bool = True, *, on_mismatch: str = "raise", ignore_record_keys: Iterable[str] = ()) -> TrainResult:
    """Train one score network with Adam for cfg.n_iters updates, checkpointing into out_dir.

    loss_fn(model, batch, rng) -> scalar loss tensor, where batch is this rank's slice of
    data.batch_for_step(i, generator) on the training device and rng a StepRNG for per-sample noise.
    The network and its optimiser are named "model" in the checkpoint (load_checkpoint also returns them under
    "model", "optimizer", "ema"); loss.csv is `step,loss,lr`. resume, on_mismatch and ignore_record_keys as for
    `train_loop`: resume=True continues from the newest checkpoint (or returns at once if the run is complete);
    a run to restart, or resume=False, is moved to `<out_dir>.superseded/<UTC time>/`, never deleted.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")

    def step_fn(ctx: StepContext) -> dict[str, torch.Tensor]:
        loss = loss_fn(ctx.nets[SINGLE_NAME], ctx.batch, ctx.rng)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise TypeError(f"loss_fn must return a scalar tensor, got "
                            f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__}")
        ctx.update(SINGLE_NAME, loss)
        return {"loss": loss}

    # The stored settings are TrainConfig's own fields, as in format version 1, so runs made before the loop
    # took named networks still compare equal and resume.
    ema = {SINGLE_NAME: cfg.ema_rate} if cfg.ema_rate is not None else {}
    res = _run({SINGLE_NAME: model}, {SINGLE_NAME: cfg.optimizer_spec((SINGLE_NAME,))}, step_fn, _batch_fn(data),
               cfg.loop_config(), cfg.to_dict(), config_record, ema, Path(out_dir), resume, on_mismatch,
               ignore_record_keys, DIVERGENCE_FACTOR)
    last = None if res.last_losses is None else res.last_losses["loss"]
    return TrainResult(res.networks[SINGLE_NAME], res.emas.get(SINGLE_NAME), res.out_dir, res.final_checkpoint,
                       res.step, res.start_step, last, res.seconds, res.extra)


def _run(networks: dict[str, nn.Module], specs: dict[str, OptimizerSpec], step_fn: StepFn, batch_fn: Callable,
         cfg: LoopConfig, settings: dict, config_record: Mapping[str, Any], ema_rates: dict[str, float],
         out_dir: Path, resume: bool, on_mismatch: str, ignore_record_keys: Iterable[str],
         divergence_factor: float) -> LoopResult:
    if on_mismatch not in ON_MISMATCH:
        raise ValueError(f"on_mismatch={on_mismatch!r}: expected one of {list(ON_MISMATCH)}")
    if isinstance(ignore_record_keys, str):
        raise TypeError("ignore_record_keys must be a list of dotted keys, e.g. ['training.n_iters']")
    ignore = tuple(ignore_record_keys)
    record = normalise_record(config_record)
    settings = normalise_record(settings, "the run settings")
    device_type = "cuda" if (cfg.device == "auto" and torch.cuda.is_available()) or cfg.device.startswith(
        "cuda") else "cpu"
    # The process group (if any) outlives this call; see scorerepro.core.distributed for why.
    ctx = D.setup(device_type)
    device = _resolve_device(cfg.device, ctx)
    if cfg.fused_adam and device.type != "cuda":
        raise ValueError(f"TrainConfig.fused_adam=True needs a CUDA device, the run is on {device}; set "
                         f"fused_adam to false on this machine")
    with _locked_plan(ctx, out_dir, record, settings, cfg.n_iters, resume, on_mismatch, ignore) as plan:
        return _train(networks, specs, step_fn, batch_fn, cfg, settings, record, ema_rates, out_dir, plan, ctx,
                      device, divergence_factor)


@contextlib.contextmanager
def _locked_plan(ctx: D.DistContext, out_dir: Path, record: dict, settings: dict, n_iters: int, resume: bool,
                 on_mismatch: str, ignore: tuple[str, ...]) -> Iterator[dict]:
    """Rank 0 locks out_dir (until the block ends) and plans the run; every rank gets the plan, or raises rank 0's
    error."""
    lock: RunLock | None = None
    try:
        plan: dict | None = None
        failure: BaseException | None = None
        if ctx.is_main:
            # Errors travel in the plan, so that every rank raises together instead of waiting on a broadcast.
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
                lock = RunLock.acquire(out_dir)
                remove_stale_temps(out_dir)  # only now: another live trainer's temporaries look the same
                plan = _plan(out_dir, record, settings, n_iters, resume, on_mismatch, ignore)
            except Exception as e:  # noqa: BLE001 - forwarded to every rank, re-raised there
                failure = e
                plan = {"error": type(e).__name__, "message": str(e)}
        plan = D.broadcast_object(plan, ctx)
        if "error" in plan:
            if failure is not None:
                raise failure
            raise _ERRORS.get(plan["error"], TrainingError)(plan["message"])
        yield plan
    finally:
        if lock is not None:
            lock.release()


@dataclass
class _Run:
    """What one call trains, where, and from which step: the state every part of the loop below shares."""

    networks: dict[str, nn.Module]  # the plain networks: checkpointed and averaged
    nets: dict[str, nn.Module]  # the same, DDP- and torch.compile-wrapped where the run uses them: step_fn calls these
    optimizers: dict[str, torch.optim.Optimizer]
    emas: dict[str, EMA]
    cfg: LoopConfig
    ctx: D.DistContext
    device: torch.device
    out_dir: Path
    record: dict  # the experiment's configuration, stored in every checkpoint
    settings: dict  # the run settings, stored in every checkpoint
    start_step: int  # the step this call resumed from (0: fresh)
    rows: tuple[int, int]  # this rank's rows [start, stop) of the global batch

    @property
    def ckpt_dir(self) -> Path:
        return self.out_dir / CHECKPOINT_DIR


def _train(networks: dict[str, nn.Module], specs: dict[str, OptimizerSpec], step_fn: StepFn, batch_fn: Callable,
           cfg: LoopConfig, settings: dict, record: dict, ema_rates: dict[str, float], out_dir: Path, plan: dict,
           ctx: D.DistContext, device: torch.device, divergence_factor: float) -> LoopResult:
    run = _restore_run(networks, specs, cfg, settings, record, ema_rates, out_dir, plan, ctx, device)
    if plan["action"] == "done":
        if ctx.is_main:
            mark_outcome(out_dir, "finished", run.start_step)
        D.barrier(ctx)
        return LoopResult(networks, run.emas, out_dir, out_dir / FINAL_NAME, run.start_step, run.start_step, None,
                          0.0, {"already_complete": True})
    losses = _LossRecorder(run, plan.get("first_losses"), divergence_factor)
    try:
        seconds = _run_steps(run, step_fn, batch_fn, losses)
    except NonFiniteLossError as e:
        if ctx.is_main:  # the record downstream stages read in place of the final model
            e.record_path = write_divergence(out_dir, e, cfg.n_iters, record, settings)
            mark_outcome(out_dir, "diverged", e.step)
        raise
    extra = {"superseded": plan["superseded"]} if "superseded" in plan else {}
    final = _write_completion(run, losses, seconds, extra)
    D.barrier(ctx)
    return LoopResult(networks, run.emas, out_dir, final, cfg.n_iters, run.start_step, losses.last, seconds, extra)


# ----------------------------------------------------------------------------------------------- restoring a run


def _restore_run(networks: dict[str, nn.Module], specs: dict[str, OptimizerSpec], cfg: LoopConfig, settings: dict,
                 record: dict, ema_rates: dict[str, float], out_dir: Path, plan: dict, ctx: D.DistContext,
                 device: torch.device) -> _Run:
    """Networks, optimisers and EMAs on the device, their states and the global RNGs from the checkpoint when
    resuming (in this order: it fixes which random numbers each consumes)."""
    for net in networks.values():
        net.to(device)
        if cfg.channels_last:
            net.to(memory_format=torch.channels_last)
    path = plan.get("path")
    # Rank 0 verified the file's checksum while planning; the other ranks read the same file.
    ckpt = load_checkpoint(path, map_location="cpu", verify=False) if plan["action"] != "fresh" else None
    if ckpt is not None:
        _load_network_weights(networks, ckpt, path)
    optimizers = _build_optimizers(specs, networks, cfg.fused_adam, ckpt)
    trained = {n for spec in specs.values() for n in spec.params_of}
    nets = {n: D.wrap_ddp(net, device, ctx) if n in trained else net for n, net in networks.items()}
    emas = _build_emas(networks, ema_rates, ckpt, path)
    if cfg.compile:
        nets = {n: torch.compile(net) for n, net in nets.items()}
    start_step = int(plan.get("step", 0))
    _seed_global_rngs(cfg.seed, ctx, ckpt, path, start_step)
    return _Run(networks, nets, optimizers, emas, cfg, ctx, device, out_dir, record, settings, start_step,
                D.shard_bounds(cfg.batch_size, ctx.rank, ctx.world_size))


def _load_network_weights(networks: dict[str, nn.Module], ckpt: dict, path: str) -> None:
    for name, net in networks.items():
        try:
            net.load_state_dict(ckpt["networks"][name])
        except (RuntimeError, KeyError) as e:
            raise CheckpointError(f"the weights of {name!r} in {path} do not fit this network: {e}") from e


def _build_optimizers(specs: dict[str, OptimizerSpec], networks: dict[str, nn.Module], fused_adam: bool,
                      ckpt: dict | None) -> dict[str, torch.optim.Optimizer]:
    optimizers: dict[str, torch.optim.Optimizer] = {}
    for name, spec in specs.items():
        params = [p for n in spec.params_of for p in networks[n].parameters()]
        optimizers[name] = spec.build(params, fused_adam=fused_adam)
        if ckpt is not None:
            optimizers[name].load_state_dict(ckpt["optimizers"][name])
    return optimizers


def _build_emas(networks: dict[str, nn.Module], ema_rates: dict[str, float], ckpt: dict | None,
                path: str | None) -> dict[str, EMA]:
    emas = {n: EMA(networks[n], rate) for n, rate in ema_rates.items()}
    if ckpt is not None:
        for n, e in emas.items():
            if n not in ckpt["ema_states"]:
                raise CheckpointError(f"{path} has no EMA state for {n!r} but its ema_rate is {ema_rates[n]}")
            e.load_state_dict(ckpt["ema_states"][n])
    return emas


def _seed_global_rngs(seed: int, ctx: D.DistContext, ckpt: dict | None, path: str | None, start_step: int) -> None:
    """Seed torch's (and Python's, NumPy's) global RNGs afresh, or restore this rank's state from the checkpoint."""
    if ckpt is None:
        seed_everything(derive_seed(seed, "global", ctx.rank))
        return
    per_rank = ckpt["rng"]["per_rank"]
    if len(per_rank) == ctx.world_size:
        restore_rng_state(per_rank[ctx.rank])
        return
    warnings.warn(f"{path} was written by {len(per_rank)} process(es), this run has {ctx.world_size}: the global "
                  f"RNGs are reseeded, so dropout-like randomness differs from an uninterrupted run (batches and "
                  f"StepRNG noise do not)")
    seed_everything(derive_seed(seed, f"global-resume-{start_step}", ctx.rank))


# ----------------------------------------------------------------------------------------------- the updates


def _run_steps(run: _Run, step_fn: StepFn, batch_fn: Callable, losses: _LossRecorder) -> float:
    """Make updates start_step + 1 .. n_iters, logging losses and writing checkpoints; return their wall time."""
    cfg = run.cfg
    amp = (torch.autocast(device_type=run.device.type, dtype=AMP_DTYPES[cfg.amp_dtype])
           if cfg.amp_dtype is not None else contextlib.nullcontext())
    pbar = tqdm(total=cfg.n_iters, initial=run.start_step, desc="train", unit="it", dynamic_ncols=True,
                disable=not (cfg.progress and run.ctx.is_main))
    t0 = time.perf_counter()
    for net in run.nets.values():
        net.train()
    try:
        for step in range(run.start_step + 1, cfg.n_iters + 1):
            _update(run, step, step_fn, batch_fn, amp, losses)
            pbar.update(1)
            is_snap = step % cfg.snapshot_freq == 0 or step == cfg.n_iters
            if is_snap or step % cfg.log_freq == 0:
                # Before any checkpoint: a non-finite loss must never be saved.
                if losses.flush(step):
                    pbar.set_postfix({k: f"{v:.4g}" for k, v in losses.last.items()}, refresh=False)
            if is_snap:
                _save_snapshot(run, step)
    finally:
        pbar.close()
        losses.close()
    return time.perf_counter() - t0


def _update(run: _Run, step: int, step_fn: StepFn, batch_fn: Callable, amp: contextlib.AbstractContextManager,
            losses: _LossRecorder) -> None:
    """Update `step` (1-based): its batch and noise from per-step generators, step_fn, the EMAs."""
    cfg, index = run.cfg, step - 1
    start_row, stop_row = run.rows
    data_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "data", index))
    noise_gen = torch.Generator(device=run.device).manual_seed(derive_seed(cfg.seed, "noise", index))
    batch = _slice_batch(batch_fn(index, data_gen), start_row, stop_row, cfg.batch_size)
    batch = _to_device(batch, run.device, cfg.channels_last)
    sctx = StepContext(run.nets, run.networks, batch, StepRNG(noise_gen, start_row, stop_row, cfg.batch_size), step,
                       run.optimizers, cfg.amp_dtype is not None, run.device.type)
    with amp:
        step_losses = step_fn(sctx)
    losses.add(step_losses, step)
    if sctx.updates == 0:
        raise TrainingError(f"step_fn made no ctx.update(...) call at step {step}; each step must update at least "
                            f"one of the optimisers {list(run.optimizers)}")
    for n, e in run.emas.items():
        e.update(run.networks[n])


class _LossRecorder:
    """The run's losses: kept on the device per step, moved to the host in one sync per flush, written to loss.csv
    by rank 0, and checked against the divergence bounds (the NaN stop)."""

    def __init__(self, run: _Run, logged_first: dict[str, float] | None, divergence_factor: float):
        self.run = run
        self.names: list[str] = []  # fixed by the first step
        self.last: dict[str, float] | None = None  # the losses of the last update flushed
        self._logged_first = logged_first  # step 1's losses from loss.csv when resuming
        self._factor = divergence_factor
        self._pending: list[list[torch.Tensor]] = []
        self._bounds: list[float] = []  # per loss, fixed by its value at step 1
        self._log: LossLog | None = None

    def add(self, losses: Any, step: int) -> None:
        self._pending.append(_loss_row(losses, self.names, step, self.run.device))

    def flush(self, step: int) -> bool:
        """Log the pending losses (made up to `step`), stopping at the first one out of bounds; False if none."""
        if not self._pending:
            return False
        rows = self._rows_on_host()
        first = step - len(rows) + 1
        if not self._bounds:
            self._bounds = _divergence_bounds(self.names, rows[0], self._logged_first, self._factor)
        bad = next((i for i, r in enumerate(rows) if not _within(r, self._bounds)), None)
        self._write(first, rows if bad is None else rows[:bad + 1])
        if bad is not None:
            raise self._stop_error(first + bad, rows[bad])
        self.last = dict(zip(self.names, rows[-1]))
        return True

    def close(self) -> None:
        if self._log is not None:
            self._log.close()

    def _rows_on_host(self) -> list[list[float]]:
        n = len(self.names)
        flat = D.all_reduce_mean(torch.stack([v for row in self._pending for v in row]), self.run.ctx).cpu().tolist()
        rows = [flat[i * n:(i + 1) * n] for i in range(len(self._pending))]
        self._pending.clear()
        return rows

    def _write(self, first: int, rows: list[list[float]]) -> None:
        if not self.run.ctx.is_main:
            return
        opt_names = list(self.run.optimizers)
        lrs = [float(self.run.optimizers[o].param_groups[0]["lr"]) for o in opt_names]
        if self._log is None:
            self._log = LossLog(self.run.out_dir / LOSS_LOG_NAME, loss_log_columns(self.names, opt_names),
                                self.run.start_step)
        self._log.write([(first + i, r + lrs) for i, r in enumerate(rows)])

    def _stop_error(self, step: int, row: list[float]) -> TrainingError:
        cfg, bounds = self.run.cfg, self._bounds
        j = next(j for j, v in enumerate(row) if not _within([v], [bounds[j]]))
        name, value = self.names[j], row[j]
        what = "the training loss" if len(self.names) == 1 else f"the training loss {name!r}"
        last_saved = (step - 1) // cfg.snapshot_freq * cfg.snapshot_freq
        if math.isfinite(value):
            return LossDivergedError(step, value, f"{what} is {value:.4g} at step {step} (update {step} of "
                                     f"{cfg.n_iters}), beyond the divergence bound {bounds[j]:.4g} ({self._factor:g} "
                                     f"x max(|its value at step 1|, {DIVERGENCE_FLOOR:g})); the run stopped, wrote no "
                                     f"final model and no checkpoint after step {last_saved}. Lower lr (or check the "
                                     f"data), then rerun.", name, bounds[j])
        return NonFiniteLossError(step, value, f"{what} is {value} at step {step} (update {step} of {cfg.n_iters}); "
                                  f"the run stopped and wrote no checkpoint after step {last_saved}. Lower lr, check "
                                  f"the data and the noise levels, or try amp_dtype=None.", name)


# ----------------------------------------------------------------------------------------------- outputs


def _save_snapshot(run: _Run, step: int) -> Path:
    rng_all = D.all_gather_object(capture_rng_state(), run.ctx)  # collective: every rank takes part
    path = run.ckpt_dir / f"checkpoint_{step}.pt"
    if run.ctx.is_main:
        save_checkpoint(path, _checkpoint_state(run, step, rng_all))
        link_or_copy(path, run.ckpt_dir / LATEST_NAME)
    return path


def _checkpoint_state(run: _Run, step: int, rng_all: list[dict]) -> dict:
    return {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "step": step,
        "config_record": run.record, "train_config": run.settings,
        # The plain modules' weights: no DDP "module." or torch.compile "_orig_mod." prefixes, and contiguous CPU
        # tensors whatever the memory format used for speed.
        "networks": {n: to_cpu(net.state_dict()) for n, net in run.networks.items()},
        "optimizers": {n: to_cpu(opt.state_dict()) for n, opt in run.optimizers.items()},
        "ema_states": {n: e.state_dict() for n, e in run.emas.items()},
        "rng": {**to_cpu(rng_all[0]), "per_rank": to_cpu(rng_all)},
        "step_generators": {"scheme": SEED_SCHEME, "seed": run.cfg.seed, "streams": ["data", "noise"],
                            "next_index": step},
        "world_size": run.ctx.world_size, "torch_version": str(torch.__version__),
        "created_unix": time.time(),
    }


def _write_completion(run: _Run, losses: _LossRecorder, seconds: float, extra: dict) -> Path:
    """Rank 0: final.pt (the last checkpoint) and completed.json, which marks the run finished."""
    final = run.out_dir / FINAL_NAME
    if not run.ctx.is_main:
        return final
    n_iters, last = run.cfg.n_iters, losses.last
    steps_run = n_iters - run.start_step
    link_or_copy(run.ckpt_dir / f"checkpoint_{n_iters}.pt", final)
    write_json(run.out_dir / COMPLETED_NAME, {
        "format": FORMAT_NAME, "step": n_iters, "final_checkpoint": FINAL_NAME,
        "final_sha256": sha256_file(final),
        "last_loss": last[losses.names[0]] if last is not None and len(losses.names) == 1 else None,
        "last_losses": last, "resumed_from": run.start_step,
        "steps_this_run": steps_run, "seconds_this_run": round(seconds, 3),
        "iters_per_second": round(steps_run / seconds, 4) if seconds > 0 else None,
        "world_size": run.ctx.world_size, "device": str(run.device), "torch_version": str(torch.__version__),
        "torch_threads": torch.get_num_threads(), "checkpoint_sha256": _checkpoint_digests(run.ckpt_dir), **extra,
    })
    mark_outcome(run.out_dir, "finished", n_iters)
    remove_stale_temps(run.out_dir)
    return final


def _divergence_bounds(names: list[str], first_row: list[float], logged: dict[str, float] | None,
                       factor: float) -> list[float]:
    """Per loss, the size it must not pass; from step 1's values (logged ones when the run resumed)."""
    start = logged if logged is not None and set(names) <= set(logged) else dict(zip(names, first_row))
    return [factor * max(abs(start[k]), DIVERGENCE_FLOOR) if math.isfinite(start[k]) else math.inf
            for k in names]


def _within(row: list[float], bounds: list[float]) -> bool:
    return all(math.isfinite(v) and abs(v) <= b for v, b in zip(row, bounds))


def _loss_row(losses: Any, names: list[str], step: int, device: torch.device) -> list[torch.Tensor]:
    """The step's losses as float tensors in the run's column order; the first step fixes the names."""
    if not isinstance(losses, Mapping) or not losses:
        raise TypeError(f"step_fn must return a non-empty dict {{loss name: scalar}}, got {type(losses).__name__} "
                        f"at step {step}")
    if not names:
        for k in losses:
            _check_name("loss", k)
            if k == "step" or k.startswith("lr"):
                raise ValueError(f"loss name {k!r} would clash with loss.csv's step/lr columns; rename it")
        names.extend(losses)
    elif set(losses) != set(names):
        raise ValueError(f"step_fn returned losses {sorted(losses)} at step {step}, earlier steps {sorted(names)}; "
                         f"return the same names every step")
    return [_loss_tensor(k, losses[k], device) for k in names]


def _loss_tensor(name: str, value: Any, device: torch.device) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.ndim != 0:
            raise TypeError(f"loss {name!r} from step_fn has shape {tuple(value.shape)}; return scalars")
        return value.detach().float()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), device=device)
    raise TypeError(f"loss {name!r} from step_fn is a {type(value).__name__}; return a scalar tensor or number")
