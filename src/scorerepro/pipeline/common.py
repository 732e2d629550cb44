"""What stages of every paper share: the device params name, loading a dataset's training images, shard ranges,
samples as uint8, sample shards, switching profiles."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from scorerepro.config import load_params
from scorerepro.core.device import resolve_device as _resolve_device
from scorerepro.pipeline import paths
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


def use_profile(profile: str, params_path: str = "params.yaml") -> list[str]:
    """Install workflow/params/<profile>.yaml as params.yaml. Returns (and prints) the result, sample, model and data
    folders left by earlier profiles that belong to no experiment or dataset of the new one: they are kept (a
    profile switched back finds its results and checkpoints), never deleted here."""
    src = Path("workflow/params") / f"{profile}.yaml"
    if not src.is_file():
        available = sorted(p.stem for p in Path("workflow/params").glob("*.yaml"))
        raise ValueError(f"no profile {profile!r} in workflow/params/ (available: {', '.join(available)})")
    params = load_params(src)  # refuse to install an invalid profile
    shutil.copyfile(src, params_path)
    print(f"params.yaml is now the {profile} profile ({src})")
    orphans = orphaned_outputs(params, Path(params_path).resolve().parent)
    if orphans:
        print(f"These folders belong to no experiment or dataset of the {profile} profile; they were kept (delete "
              "them yourself if you no longer need them; `dvc gc` then frees their cache):")
        for path in orphans:
            print(f"  {path}")
    return orphans


def orphaned_outputs(params: dict, root: Path = Path(".")) -> list[str]:
    """Folders under `root` made for an experiment or dataset that `params` does not have: per dataset
    data/{raw,processed,reference}/<dataset>, models/classifier/<dataset>, results/classifier/<dataset>; per
    paper models/<paper>/<experiment>, samples/<paper>/<experiment>, results/<paper>/<experiment> (names the
    paper's other stages use, such as results/ncsn/toy, are not experiments), data/<paper>/*/<experiment>.json,
    and everything of a paper the profile has no block for. Paths relative to `root`, sorted."""
    from scorerepro.config import RESERVED_NAMES, paper_blocks
    from scorerepro.papers import PAPERS

    found: list[Path] = []
    datasets = set(params.get("datasets") or {})
    for parent in (paths.DATA / "raw", paths.DATA / "processed", paths.DATA / "reference",
                   paths.MODELS / "classifier", paths.RESULTS / "classifier"):
        if (root / parent).is_dir():
            found += [d for d in (root / parent).iterdir() if d.is_dir() and d.name not in datasets]
    profile_papers = set(paper_blocks(params))
    for paper in PAPERS:
        experiments = set((params.get(paper) or {}).get("experiments") or {}) if paper in profile_papers else None
        for top in (paths.MODELS, paths.SAMPLES, paths.RESULTS, paths.DATA):
            base = root / top / paper
            if not base.is_dir():
                continue
            if experiments is None:  # a paper this profile does not run
                found.append(base)
            elif top == paths.DATA:  # a paper's intermediate tables, one file per experiment
                found += [f for f in base.glob("*/*.json") if f.stem not in experiments]
            else:
                found += [d for d in base.iterdir()
                          if d.is_dir() and d.name not in experiments and d.name not in RESERVED_NAMES]
    return sorted(p.relative_to(root).as_posix() for p in found)
