"""What stages of every paper share: the device params name, loading a dataset's training images, shard ranges,
samples as uint8, sample shards, switching profiles."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from scorerepro.config import load_params
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


def load_sample_shards(folder: Path) -> torch.Tensor:
    """Concatenate a sample folder's shards in shard order (uint8)."""
    files = sorted(folder.glob("shard_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    if not files:
        raise FileNotFoundError(f"no shard_*.pt in {folder}: run the sample stage first")
    return torch.cat([torch.load(f, weights_only=True)["images"] for f in files])


def use_profile(profile: str, params_path: str = "params.yaml") -> None:
    src = Path("workflow/params") / f"{profile}.yaml"
    if not src.is_file():
        available = sorted(p.stem for p in Path("workflow/params").glob("*.yaml"))
        raise ValueError(f"no profile {profile!r} in workflow/params/ (available: {', '.join(available)})")
    load_params(src)  # refuse to install an invalid profile
    shutil.copyfile(src, params_path)
    print(f"params.yaml is now the {profile} profile ({src})")
