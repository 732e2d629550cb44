"""Checkpoint files: layout of a run folder, the self-describing format, its checksum, loading and comparing.

Format version 2 (written now) holds every named network, optimiser and EMA of a run:

    format, format_version   "scorerepro.training.checkpoint", 2
    step                     optimiser updates done (the loop's step counter)
    config_record            the experiment's configuration (JSON-like), compared on resume
    train_config             the run's settings (TrainConfig.to_dict() for `train`; for `train_loop` the
                             LoopConfig plus networks, optimizers and ema), compared on resume
    networks                 {name: state_dict} of the plain modules (no DDP/compile prefixes), CPU, contiguous
    optimizers               {name: optimizer state_dict}
    ema_states               {network name: EMA state} for the networks that keep one
    rng, step_generators     global RNG states per rank; how the per-step generators are seeded
    world_size, torch_version, created_unix
    checksum                 {"algorithm": "sha256", "scheme": CHECKSUM_SCHEME, "value": hex digest}

A run of the single-network `train` names its network and optimiser "model"; `load_checkpoint` then also returns
them under the version-1 keys "model", "optimizer" and "ema" (None without EMA), so readers written for version 1
keep working. Version-1 files (no checksum, one network) still load, for weights and for resuming.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from scorerepro.core.fileio import atomic_path, save_torch
from .train_config import RESUMABLE_SETTINGS
from .train_errors import CheckpointError

FORMAT_NAME = "scorerepro.training.checkpoint"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
CHECKPOINT_DIR = "checkpoints"
LATEST_NAME = "latest.pt"
FINAL_NAME = "final.pt"
COMPLETED_NAME = "completed.json"
#: Written last by every call that ends without an error other than a divergence: the run finished or diverged.
#: Snakemake's marker of a training's output folder (a diverged run has no completed.json, yet its job succeeded).
OUTCOME_NAME = "outcome.json"
LOSS_LOG_NAME = "loss.csv"
SINGLE_NAME = "model"  # the network (and optimiser) name `train` uses; version-1 files are read as this
CHECKSUM_SCHEME = ("sha256 over every value except 'checksum' (and the version-1 aliases model/optimizer/ema), "
                   "depth first in stored key order: per tensor its key path, dtype, shape and raw bytes; per "
                   "other value its key path, type and repr")

_CKPT_RE = re.compile(r"^checkpoint_(\d+)\.pt$")
_REQUIRED = {
    1: ("format", "format_version", "step", "config_record", "train_config", "model", "optimizer", "ema", "rng",
        "torch_version"),
    2: ("format", "format_version", "step", "config_record", "train_config", "networks", "optimizers",
        "ema_states", "rng", "torch_version", "checksum"),
}
_ALIASES = ("model", "optimizer", "ema")


# ----------------------------------------------------------------------------------------------- values


def to_cpu(obj: Any) -> Any:
    """A copy with every tensor detached, on the CPU and contiguous (whatever memory format trained fastest)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().contiguous().clone()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_cpu(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_cpu(v) for v in obj)
    return obj


def normalise_record(record: Mapping[str, Any], what: str = "config_record") -> dict:
    if not isinstance(record, Mapping):
        raise TypeError(f"{what} must be a dict (the experiment's configuration), got {type(record)}")
    try:
        # A JSON round trip turns tuples into lists etc., so saved and current records compare equal.
        return json.loads(json.dumps(record, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be JSON-serialisable (str, numbers, bools, None, lists, dicts): "
                        f"{e}") from e


def checksum(state: Mapping[str, Any]) -> str:
    """sha256 of a checkpoint's contents as described by CHECKSUM_SCHEME."""
    h = hashlib.sha256()

    def walk(v: Any, path: str) -> None:
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu().resolve_conj().resolve_neg().contiguous()
            h.update(f"{path}|tensor|{t.dtype}|{tuple(t.shape)}\n".encode())
            if t.numel():
                # Raw bytes through a uint8 view: no dtype (bf16, bool) needs numpy support, nothing is copied.
                h.update(t.reshape(-1).view(torch.uint8).numpy().data)
        elif isinstance(v, dict):
            h.update(f"{path}|dict|{len(v)}\n".encode())
            for k, x in v.items():
                walk(x, f"{path}/{k!r}")
        elif isinstance(v, (list, tuple)):
            h.update(f"{path}|{type(v).__name__}|{len(v)}\n".encode())
            for i, x in enumerate(v):
                walk(x, f"{path}/{i}")
        else:
            h.update(f"{path}|{type(v).__name__}|{v!r}\n".encode())

    for k, v in state.items():
        if k != "checksum" and k not in _ALIASES:
            walk(v, repr(k))
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------- files


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write `state` (a format-2 dict without 'checksum') atomically, with its checksum added."""
    state["checksum"] = {"algorithm": "sha256", "scheme": CHECKSUM_SCHEME, "value": checksum(state)}
    save_torch(path, state)


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


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def previous_good_checkpoint(path: str | os.PathLike, step: int | None = None) -> Path | None:
    """The newest checkpoint of path's run, at or before `step` and not `path` itself (nor a hard link to it),
    that loads and passes its checksum; None if there is none."""
    path = Path(path)
    run_dir = path.parent.parent if path.parent.name == CHECKPOINT_DIR else path.parent
    if step is None:
        m = _CKPT_RE.match(path.name)
        step = int(m.group(1)) if m else None
    for s, p in reversed(list_checkpoints(run_dir)):
        if (step is not None and s > step) or _same_file(p, path):
            continue
        try:
            _load(p, "cpu", verify=True, offer=False)
        except CheckpointError:
            continue
        return p
    return None


def _damaged(path: Path, what: str, step: int | None, offer: bool) -> CheckpointError:
    if not offer:  # a candidate examined while looking for the previous good one: no search within the search
        return CheckpointError(f"{path} {what}.")
    prev = previous_good_checkpoint(path, step)
    if prev is not None:
        fix = (f"The previous good checkpoint is {prev}. To continue from it, delete the damaged file or move it "
               f"out of {path.parent} (e.g. `mv {path} {path}.damaged`; latest.pt and final.pt may be hard links "
               f"to it, move those too) and rerun training; or restore the file as DVC recorded it: "
               f"{_restore_command(path)}.")
    else:
        fix = (f"There is no earlier good checkpoint beside it; restore the file as DVC recorded it, "
               f"{_restore_command(path)}, or start over (train with resume=False moves the run aside).")
    return CheckpointError(f"{path} {what}. {fix}")


def _restore_command(path: Path) -> str:
    # --force: without it DVC refuses to overwrite a file that differs from what it recorded, i.e. the damaged one.
    return f"`dvc checkout --force {path}`"


def _load(path: Path, map_location: Any, verify: bool, offer: bool = True) -> dict:
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        # weights_only: a checkpoint is plain data; refusing arbitrary pickles also rejects foreign files safely.
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure here means the file is unusable
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        # torch's weights_only errors bury the cause ("Unsupported global ...") under advice; show the cause.
        msg = next((ln for ln in lines if "error:" in ln.lower()), lines[0] if lines else "")[:300]
        raise _damaged(path, f"could not be read as a checkpoint ({type(e).__name__}: {msg}); the file is "
                             f"corrupted or not a scorerepro checkpoint", None, offer) from e
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path} is not a scorerepro training checkpoint (format {found!r}, expected "
                              f"{FORMAT_NAME!r})")
    version = obj.get("format_version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(f"{path} has checkpoint format version {version!r}; this code reads versions "
                              f"{list(READABLE_VERSIONS)}. Use the scorerepro version that wrote it.")
    missing = [k for k in _REQUIRED[version] if k not in obj]
    if missing:
        raise CheckpointError(f"{path} lacks checkpoint fields {missing}; the file is damaged")
    if version == 1:
        return _from_version_1(obj)
    if verify:
        stored = obj["checksum"].get("value") if isinstance(obj["checksum"], dict) else None
        if stored != checksum(obj):
            step = obj["step"] if isinstance(obj["step"], int) else None
            raise _damaged(path, f"is damaged: its contents do not match the sha256 checksum stored in it "
                                 f"(written at step {obj['step']!r})", step, offer)
    nets, opts, emas = obj["networks"], obj["optimizers"], obj["ema_states"]
    if set(nets) == {SINGLE_NAME}:
        obj.setdefault("model", nets[SINGLE_NAME])
        obj.setdefault("optimizer", opts.get(SINGLE_NAME))
        obj.setdefault("ema", emas.get(SINGLE_NAME))
    return obj


def _from_version_1(obj: dict) -> dict:
    """A version-1 (single network, no checksum) checkpoint in the version-2 layout, keeping its own keys."""
    obj["networks"] = {SINGLE_NAME: obj["model"]}
    obj["optimizers"] = {SINGLE_NAME: obj["optimizer"]}
    obj["ema_states"] = {SINGLE_NAME: obj["ema"]} if obj["ema"] is not None else {}
    obj["checksum"] = None
    return obj


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", verify: bool = True) -> dict:
    """Load and validate a training checkpoint; CheckpointError names the file and what is wrong with it.

    verify: recompute the checksum and refuse a file whose contents changed after it was written (a damaged file
    that still loads); the error names the previous good checkpoint of the run and how to resume from it.
    Version-1 files carry no checksum and are returned unverified, in the version-2 layout.
    """
    return _load(Path(path), map_location, verify)


def load_model_weights(model: nn.Module, checkpoint: Mapping[str, Any] | str | os.PathLike, which: str = "auto",
                       network: str | None = None) -> nn.Module:
    """Load a checkpoint's weights into `model` (a path is loaded and its checksum verified first).

    which: 'ema', 'model' (the trained weights), or 'auto' (EMA when the run kept one for that network).
    network: which named network of the checkpoint; may be omitted when it holds only one.
    """
    where = str(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else "the checkpoint"
    ckpt = load_checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    if which not in ("auto", "ema", "model"):
        raise ValueError(f"which={which!r}: expected 'auto', 'ema' or 'model'")
    if "networks" not in ckpt:  # a version-1 dict loaded by other means
        ckpt = _from_version_1(dict(ckpt))
    names = sorted(ckpt["networks"])
    if network is None:
        if len(names) != 1:
            raise ValueError(f"{where} holds networks {names}; pass network=<one of them>")
        network = names[0]
    if network not in ckpt["networks"]:
        raise CheckpointError(f"{where} has no network {network!r}; it holds {names}")
    ema = ckpt["ema_states"].get(network)
    if which == "ema" and ema is None:
        raise CheckpointError(f"{where} has no EMA weights for {network!r} (trained with ema_rate=None); use "
                              f"which='model'")
    state = ema["state"] if ema is not None and which in ("auto", "ema") else ckpt["networks"][network]
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"the weights of {network!r} in {where} do not fit this model: {e}") from e
    return model


def link_or_copy(src: Path, dst: Path) -> None:
    """Make dst the same file as src atomically: a hard link (no extra disk), or a copy where links fail."""
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


# ----------------------------------------------------------------------------------------------- comparing


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: d}


def _covered(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def config_differences(saved_record: Mapping, record: Mapping, saved_train: Mapping, cfg: Any,
                       ignore_record_keys: Iterable[str] = ()) -> list[str]:
    """Differences 'key: checkpoint=..., now=...' that forbid resuming a checkpoint under the current settings.

    Every config_record key counts except those under `ignore_record_keys` (dotted, e.g. 'training.n_iters');
    of the run settings (cfg: a TrainConfig/LoopConfig or the settings dict) every key counts except
    RESUMABLE_SETTINGS (see scorerepro.training.train_config).
    """
    ignore = tuple(ignore_record_keys)
    a, b = _flatten(normalise_record(saved_record)), _flatten(normalise_record(record))
    diffs = [f"config_record.{k}: checkpoint={a.get(k, '<absent>')!r}, now={b.get(k, '<absent>')!r}"
             for k in sorted(set(a) | set(b))
             if not _covered(k, ignore) and a.get(k, "<absent>") != b.get(k, "<absent>")]
    now = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
    sa = _flatten(normalise_record(saved_train, "train_config"))
    sb = _flatten(normalise_record(now, "train_config"))
    for k in sorted(set(sa) | set(sb)):
        if k.split(".")[0] in RESUMABLE_SETTINGS:
            continue
        if sa.get(k, "<absent>") != sb.get(k, "<absent>"):
            diffs.append(f"train.{k}: checkpoint={sa.get(k, '<absent>')!r}, now={sb.get(k, '<absent>')!r}")
    return diffs
