"""What stages of every paper share: the device params name, loading a dataset's training images, shard ranges,
samples as uint8, sample shards (written with the settings they were made under, read back only when those are
still the current ones)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from scorerepro.core.errors import EXIT_SHARDS, UserError
from scorerepro.core.fileio import save_torch
from scorerepro.core.device import resolve_device as _resolve_device
from scorerepro.pipeline.paths import processed_dir


def resolve_device(params: dict) -> torch.device:
    """The device params' `device` key names (see scorerepro.core.device)."""
    return _resolve_device(params.get("device", "auto"))


def shard_range(n: int, shards: list[int], shard: int) -> tuple[int, int]:
    """Items [start, stop) of shard `shard` when n items are split evenly over len(shards) jobs."""
    k = len(shards)
    if shard not in shards:
        raise ValueError(f"shard {shard} is not one of sharding.shards {shards}")
    pos = shards.index(shard)
    return (n * pos) // k, (n * (pos + 1)) // k


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats to uint8 the way a PNG writer rounds (torchvision.utils.save_image: x*255 + 0.5, clamp)."""
    return (images * 255 + 0.5).clamp(0, 255).to(torch.uint8)


def load_train_images(dataset: str, limit: int | None = None) -> torch.Tensor:
    from scorerepro.data.loading import load_split

    d = processed_dir(dataset)
    images, _ = load_split(d / "train.pt", d / "manifest.json")
    return images[:limit] if limit else images


class ShardError(UserError, RuntimeError):
    """A sample shard file is unreadable, or was made under other settings than the current params."""

    label, exit_code = "sample shard error", EXIT_SHARDS


def shard_file(folder: Path, shard: int) -> Path:
    return Path(folder) / f"shard_{shard}.pt"


def _shard_index(path: Path) -> int | None:
    m = re.fullmatch(r"shard_(\d+)\.pt", path.name)
    return int(m.group(1)) if m else None


def unlisted_shard_files(folder: Path, shards: list[int]) -> list[Path]:
    """shard_<i>.pt files in `folder` whose index is not in `shards` (left over from an earlier sharding)."""
    found = [(_shard_index(p), p) for p in Path(folder).glob("shard_*.pt")]
    return sorted(p for i, p in found if i is not None and i not in shards)


def remove_unlisted_shards(folder: Path, shards: list[int]) -> None:
    """For the stage that owns `folder`: delete shard files of indices sharding.shards no longer lists."""
    for path in unlisted_shard_files(folder, shards):
        path.unlink(missing_ok=True)  # a parallel shard job may have removed it already
        print(f"removed {path}: shard {_shard_index(path)} is not in sharding.shards {shards}")


def _normalised(settings: dict) -> dict:
    # A JSON round trip, so tuples and lists (or 1 and 1.0 written by YAML) compare as the params file means them.
    return json.loads(json.dumps(settings, sort_keys=True))


def save_shard(folder: Path, shard: int, made_with: dict, payload: dict) -> Path:
    """Write shard `shard` with `made_with`: every setting that determines its content (seed, n_samples, the shard
    list, the sampling block, the checkpoints, ...), which read_shards compares with the current params."""
    path = shard_file(folder, shard)
    save_torch(path, {**payload, "made_with": _normalised({**made_with, "shard": shard})})
    return path


def _differences(stored: Any, expected: dict, prefix: str = "") -> list[str]:
    if not isinstance(stored, dict):
        return [f"{prefix or 'settings'}: shard={stored!r}, now={expected!r}"]
    out = []
    for key in sorted(set(stored) | set(expected)):
        a, b = stored.get(key, "<absent>"), expected.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: shard={a!r}, now={b!r}")
    return out


def _read_shard(folder: Path, shard: int, made_with: dict, rerun: str) -> dict:
    path, fix = shard_file(folder, shard), f"rerun `{rerun.format(shard=shard)}`"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {fix}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the same: the file is unusable
        raise ShardError(f"{path} cannot be read ({type(e).__name__}); it is damaged: {fix}") from e
    if "made_with" not in payload:
        raise ShardError(f"{path} records no settings (written by an older scorerepro), so it cannot be checked "
                         f"against params.yaml: {fix}")
    diffs = _differences(payload["made_with"], _normalised({**made_with, "shard": shard}))
    if diffs:
        more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
        raise ShardError(f"{path} was made under other settings than the current params: {'; '.join(diffs[:3])}"
                         f"{more}. It is stale: {fix}")
    return payload


def read_shards(folder: Path, shards: list[int], made_with: dict, rerun: str) -> list[dict]:
    """The payloads of exactly the shard files of `shards`, in that order, each checked against `made_with` (the
    settings it must have been made under, as save_shard recorded them). `rerun` is the command that remakes a
    shard, with `{shard}` for its index; errors name the file, the differing setting and that command. Shard files
    of other indices are left alone with a note."""
    for path in unlisted_shard_files(folder, shards):
        print(f"note: ignoring {path}: shard {_shard_index(path)} is not in sharding.shards {shards}")
    return [_read_shard(Path(folder), i, made_with, rerun) for i in shards]


def load_sample_shards(folder: Path, shards: list[int], made_with: dict, rerun: str) -> torch.Tensor:
    """The samples of a folder's shards (read_shards), concatenated in shard order (uint8)."""
    return torch.cat([p["images"] for p in read_shards(folder, shards, made_with, rerun)])
