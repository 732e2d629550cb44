"""scorerepro.data.registry: one entry per dataset name, consistent with sources and with the old pipeline tables."""

from __future__ import annotations

import dataclasses

import pytest

from scorerepro.data import registry, sources
from scorerepro.data.registry import (
    DATASET_NAMES,
    UnknownDatasetError,
    dataset_info,
    image_shape,
    is_flipped,
    is_mnist_like,
)

# The tables pipeline/common.py held before the registry; the registry must agree on these four names.
OLD_IMAGE_SHAPES = {"mnist_embedded": (1, 28, 28), "mnist": (1, 28, 28), "cifar10": (3, 32, 32),
                    "celeba": (3, 32, 32)}
OLD_FLIPPED = {"cifar10", "celeba"}
OLD_MNIST_LIKE = {"mnist_embedded", "mnist"}


def test_names_and_old_tables():
    assert set(DATASET_NAMES) == {"mnist_embedded", "mnist", "mnist_val", "cifar10", "cifar10_3class", "celeba",
                                  "celeba64", "svhn", "digits8x8"}
    for name, shape in OLD_IMAGE_SHAPES.items():
        assert image_shape(name) == shape == registry.IMAGE_SHAPES[name]
        assert is_flipped(name) == (name in OLD_FLIPPED)
        assert is_mnist_like(name) == (name in OLD_MNIST_LIKE)
    assert registry.FLIPPED == {"cifar10", "cifar10_3class", "celeba", "celeba64"}
    assert registry.MNIST_LIKE == {"mnist_embedded", "mnist", "mnist_val"}
    with pytest.raises(TypeError):
        registry.IMAGE_SHAPES["x"] = (1, 1, 1)  # read-only view


@pytest.mark.parametrize("name, shape, splits, classes", [
    ("svhn", (3, 32, 32), ("train", "test", "extra"), 10),
    ("celeba64", (3, 64, 64), ("train", "valid", "test"), None),
    ("cifar10_3class", (3, 32, 32), ("train", "test"), 3),
    ("mnist_val", (1, 28, 28), ("train", "valid", "test"), 10),
    ("digits8x8", (1, 8, 8), ("train", "test"), 10),
])
def test_new_entries(name, shape, splits, classes):
    info = dataset_info(name)
    assert info.image_shape == shape and info.splits == splits and info.num_classes == classes
    assert info.has_labels == (classes is not None)
    assert info.channels == shape[0] and info.image_size == shape[1]
    assert tuple(s for s, _ in info.split_sizes) == splits
    assert not info.mnist_like or shape == (1, 28, 28)


def test_facts_of_the_new_entries():
    assert dataset_info("cifar10_3class").class_names == ("airplane", "automobile", "bird")
    assert dataset_info("mnist_val").split_size("train") == 50000
    assert dataset_info("mnist_val").split_size("valid") == 10000
    assert dataset_info("svhn").split_size("extra") == 531131
    assert dataset_info("digits8x8").offline and dataset_info("mnist_embedded").offline
    assert not dataset_info("svhn").offline
    assert registry.raw_source("celeba64") == "celeba" and registry.raw_source("mnist_val") == "mnist"
    assert registry.datasets_reading("celeba") == ("celeba", "celeba64")
    assert registry.datasets_reading("nothing") == ()
    assert registry.split_names("svhn") == ("train", "test", "extra") and registry.num_classes("celeba") is None
    with pytest.raises(KeyError, match="'extra'"):
        dataset_info("mnist").split_size("extra")


def test_every_raw_source_is_a_source():
    assert set(registry.RAW_SOURCES) == set(sources.SOURCES)
    for name in DATASET_NAMES:
        assert dataset_info(name).raw_source in sources.SOURCES


def test_entries_are_frozen():
    info = dataset_info("svhn")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.flipped = True  # type: ignore[misc]
    assert dataset_info("svhn") == info and hash(info) == hash(dataset_info("svhn"))


@pytest.mark.parametrize("fn", [dataset_info, image_shape, is_flipped, is_mnist_like, registry.raw_source])
def test_unknown_name_is_refused_naming_it_and_the_known_ones(fn):
    with pytest.raises(UnknownDatasetError) as exc:
        fn("cifar100")
    msg = str(exc.value)
    assert "'cifar100'" in msg and all(name in msg for name in DATASET_NAMES)
    assert isinstance(exc.value, ValueError)
    with pytest.raises(UnknownDatasetError):
        dataset_info(["not", "hashable"])  # type: ignore[arg-type]
