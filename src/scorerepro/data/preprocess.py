"""Raw data -> compact uint8 NCHW tensor files, one per split, plus a manifest.

`preprocess(source, raw_dir, out_dir, ...)` takes a dataset name (scorerepro.data.registry; `raw_dir` holds its
raw source, e.g. data/raw/celeba for celeba64) and writes
  out_dir/<split>.pt                  for each split of the dataset (train and test; mnist_val and celeba64 also
                                      valid; svhn also extra): torch.save of
                                      {"images": uint8 [N, C, H, W], "labels": int64 [N] or None}
  out_dir/manifest.json               per split: file, shape, dtype, count, sha256, bytes; the settings used; the
                                      verified raw files (from sources.verify)
Pixels stay uint8 0..255 on disk; loading.to_float maps them to [0, 1] at load time.
The per-dataset splits and image treatment are in scorerepro.data.readers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from scorerepro.core.fileio import atomic_path, sha256_file, write_json
from scorerepro.data import registry, sources
from scorerepro.data.readers import INTERPOLATIONS, READERS, ReadOptions

FORMAT = "scorerepro.data.split/1"


def save_split(path: str | os.PathLike, images: torch.Tensor, labels: torch.Tensor | None) -> None:
    """torch.save {"images", "labels"} atomically and byte-for-byte reproducibly.

    Saving through an open file handle (not a path) matters: given a path, torch.save names the zip archive's
    top folder after the file, and atomic_path's temporary name is random, so the sha256 would change each run.
    clone() drops any larger storage a slice still references (torch.save writes whole storages).
    """
    payload = {
        "images": images.contiguous().clone(),
        "labels": None if labels is None else labels.to(torch.int64).contiguous().clone(),
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(payload, fh)


def _software() -> dict[str, str]:
    import PIL
    import torchvision

    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "pillow": PIL.__version__}


def preprocess(
    source: str,
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    test_fraction: float = 0.1,
    seed: int = 0,
    celeba_interpolation: str = "bilinear",
    limit: int | None = None,
    *,
    num_workers: int = 0,
    celeba_crop: int | None = None,
) -> dict[str, Any]:
    """Write out_dir/<split>.pt for each split of dataset `source` and out_dir/manifest.json; return the manifest.

    `source` is a dataset name (scorerepro.data.registry.DATASET_NAMES) and `raw_dir` the folder of its raw
    source (registry.raw_source(source)). `test_fraction` and `seed` only matter for "mnist_embedded" and
    "digits8x8" (the others have standard splits); `celeba_interpolation` and `celeba_crop` (default 140 for
    celeba, 178 for celeba64) only for the CelebA datasets; `limit` keeps the first N items of each split (tiny
    test profiles); `num_workers` parallelises CelebA's JPEG decoding and does not change the result.
    The raw files are verified first (sources.verify), so a corrupted raw folder stops here with a named file.
    """
    info = registry.dataset_info(source)
    _check_options(info, limit, celeba_interpolation, celeba_crop)
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    raw_record = sources.verify(info.raw_source, raw_dir)
    opts = ReadOptions(limit=limit, test_fraction=test_fraction, seed=seed, interpolation=celeba_interpolation,
                       crop=celeba_crop, num_workers=num_workers)
    data, reader_settings = READERS[source](raw_dir, opts)
    settings: dict[str, Any] = {"limit": limit, **reader_settings}
    if info.raw_source != source:
        settings["raw_source"] = info.raw_source
    if tuple(data) != info.splits:
        raise AssertionError(f"{source}: wrote splits {tuple(data)}, the registry says {info.splits}")
    manifest: dict[str, Any] = {"format": FORMAT, "source": source, "settings": settings, "splits": {}}
    for split, (images, labels) in data.items():
        manifest["splits"][split] = _write_split(info, split, images, labels, out_dir)
    manifest["raw"] = raw_record
    manifest["software"] = _software()
    write_json(out_dir / "manifest.json", manifest)
    return manifest


def _check_options(info: registry.DatasetInfo, limit: Any, celeba_interpolation: str, celeba_crop: Any) -> None:
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    is_celeba = info.raw_source == "celeba"
    if is_celeba and celeba_interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown celeba_interpolation {celeba_interpolation!r}; valid: {', '.join(INTERPOLATIONS)}")
    if celeba_crop is not None and not (is_celeba and isinstance(celeba_crop, int) and 0 < celeba_crop <= 178):
        raise ValueError(
            f"celeba_crop={celeba_crop!r}: only the CelebA datasets take a crop, an integer in 1..178 (the aligned "
            "images are 178 pixels wide); leave it None for the dataset's default"
        )


def _write_split(info: registry.DatasetInfo, split: str, images: torch.Tensor, labels: torch.Tensor | None,
                 out_dir: Path) -> dict[str, Any]:
    """Save one split after checking it against the registry; its manifest entry."""
    if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != info.image_shape:
        raise AssertionError(
            f"{info.name}/{split}: expected uint8 images [N, {', '.join(map(str, info.image_shape))}], got "
            f"{images.dtype} {tuple(images.shape)}"
        )
    path = out_dir / f"{split}.pt"
    save_split(path, images, labels)
    return {
        "file": path.name,
        "shape": list(images.shape),
        "dtype": "uint8",
        "count": int(images.shape[0]),
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        # int64 sum, not .double().mean(): CelebA's train split would need a 4 GB float64 copy.
        "pixel_mean": images.sum(dtype=torch.int64).item() / images.numel() / 255.0 if images.numel() else None,
        "labels": None if labels is None else {
            "dtype": "int64", "shape": list(labels.shape),
            "per_class": torch.bincount(labels).tolist() if labels.numel() else []},
    }
