"""scorerepro.data.preprocess for the newer datasets: mnist_val, cifar10_3class, svhn, celeba64, digits8x8.

Each test builds the raw source in its real format (written by the helpers of test_data_sources.py and
test_new_sources.py), places it as the download stage would, and checks splits, shapes, counts and pixels against
an independent computation (numpy slicing, PIL, scikit-learn's own loader).
"""

from __future__ import annotations

import collections
import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from scorerepro.data import registry
from scorerepro.data.loading import load_split
from scorerepro.data.preprocess import preprocess
from scorerepro.data.readers import digits_to_uint8
from scorerepro.data.sources import download
from test_data_sources import md5_of, patch_celeba, patch_cifar, patch_mnist, write_celeba, write_cifar_tgz
from test_new_sources import patch_svhn, write_svhn_mats
from test_preprocess import check_manifest, load


def check_against_registry(name: str, manifest: dict, full: bool) -> None:
    info = registry.dataset_info(name)
    assert tuple(manifest["splits"]) == info.splits
    for split, entry in manifest["splits"].items():
        assert tuple(entry["shape"][1:]) == info.image_shape
        if full:
            assert entry["count"] == info.split_size(split)
        if info.num_classes is not None and entry["count"]:
            assert len(entry["labels"]["per_class"]) <= info.num_classes


# ---------------------------------------------------------------------------------------------------------------
# mnist_val: the real 50,000 boundary, so the raw training set has the real 60,000 images


def write_mnist_60k(folder, n_test: int = 7):
    """MNIST idx .gz with 60,000 training images whose first 3 pixels spell the index (mostly zeros: fast gzip)."""
    folder.mkdir(parents=True, exist_ok=True)
    md5s, arrays = {}, {}
    for split, prefix, n in (("train", "train", 60000), ("test", "t10k", n_test)):
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        idx = np.arange(n)
        images[:, 0, 0], images[:, 0, 1], images[:, 0, 2] = idx % 256, (idx // 256) % 256, idx // 65536 + 1
        labels = ((idx * 7) % 10).astype(np.uint8)
        arrays[split] = (images, labels)
        blobs = {
            f"{prefix}-images-idx3-ubyte.gz": struct.pack(">IIII", 0x00000803, n, 28, 28) + images.tobytes(),
            f"{prefix}-labels-idx1-ubyte.gz": struct.pack(">II", 0x00000801, n) + labels.tobytes(),
        }
        for name, raw in blobs.items():
            (folder / name).write_bytes(gzip.compress(raw, compresslevel=1, mtime=0))
            md5s[name] = md5_of(folder / name)
    return md5s, arrays


def test_mnist_val_takes_train_50000_valid_10000_and_official_test(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    md5s, arrays = write_mnist_60k(raw / "MNIST" / "raw")
    patch_mnist(monkeypatch, "http://127.0.0.1:9/unused/", md5s)
    download("mnist", raw)  # placed by hand: verified and decompressed, nothing fetched
    out = tmp_path / "out"

    manifest = preprocess("mnist_val", raw, out)

    check_manifest(out, manifest)
    assert list(manifest["splits"]) == ["train", "valid", "test"]
    assert manifest["settings"]["raw_source"] == "mnist" and manifest["raw"]["source"] == "mnist"
    train, valid, test = (load_split(out / f"{s}.pt") for s in ("train", "valid", "test"))
    images, labels = arrays["train"]
    assert train[0].shape == (50000, 1, 28, 28) and valid[0].shape == (10000, 1, 28, 28)
    assert np.array_equal(train[0][:, 0].numpy(), images[:50000])
    assert np.array_equal(valid[0][:, 0].numpy(), images[50000:])
    assert np.array_equal(train[1].numpy(), labels[:50000]) and np.array_equal(valid[1].numpy(), labels[50000:])
    assert np.array_equal(test[0][:, 0].numpy(), arrays["test"][0]) and test[0].shape[0] == 7
    # the valid split starts exactly at training image 50,000 (its index is written in its first pixels)
    first = valid[0][0, 0, 0, :3].tolist()
    assert first[0] + 256 * first[1] + 65536 * (first[2] - 1) == 50000

    small = preprocess("mnist_val", raw, tmp_path / "small", limit=4)
    assert [e["count"] for e in small["splits"].values()] == [4, 4, 4]
    assert np.array_equal(load(tmp_path / "small" / "valid.pt")["images"][:, 0].numpy(), images[50000:50004])

    # the plain mnist dataset of the same raw folder is unchanged: 60,000 / test
    plain = preprocess("mnist", raw, tmp_path / "plain")
    assert [e["count"] for e in plain["splits"].values()] == [60000, 7]


# ---------------------------------------------------------------------------------------------------------------


def test_cifar10_3class_keeps_classes_0_1_2_in_official_order(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    tgz, md5s, arrays = write_cifar_tgz(raw, per_batch=12, n_test=20, seed=5)
    patch_cifar(monkeypatch, "http://127.0.0.1:9/unused.tar.gz", md5_of(tgz), md5s)
    download("cifar10", raw)
    out = tmp_path / "out"

    manifest = preprocess("cifar10_3class", raw, out)

    check_manifest(out, manifest)
    check_against_registry("cifar10_3class", manifest, full=False)
    assert manifest["settings"]["classes"] == [0, 1, 2]
    assert manifest["settings"]["class_names"] == ["airplane", "automobile", "bird"]
    for split in ("train", "test"):
        data, labels = arrays[split]
        keep = np.isin(np.asarray(labels), [0, 1, 2])
        assert 0 < keep.sum() < len(labels)  # the fixture has both kept and dropped classes
        payload = load(out / f"{split}.pt")
        assert payload["labels"].tolist() == np.asarray(labels)[keep].tolist()
        assert np.array_equal(payload["images"].numpy(), data[keep].reshape(-1, 3, 32, 32))

    preprocess("cifar10_3class", raw, tmp_path / "small", limit=2)
    assert load(tmp_path / "small" / "train.pt")["labels"].tolist() == \
        [v for v in arrays["train"][1] if v in (0, 1, 2)][:2]


# ---------------------------------------------------------------------------------------------------------------


def test_svhn_three_splits_nchw_and_label_10_is_0(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    md5s, arrays = write_svhn_mats(raw, seed=3)
    patch_svhn(monkeypatch, "http://127.0.0.1:9/unused/", md5s)
    download("svhn", raw)
    out = tmp_path / "out"

    manifest = preprocess("svhn", raw, out)

    check_manifest(out, manifest)
    check_against_registry("svhn", manifest, full=False)
    for split, (x, y) in arrays.items():
        payload = load(out / f"{split}.pt")
        n = x.shape[3]
        assert payload["images"].shape == (n, 3, 32, 32)
        for i in range(n):  # .mat stores X[row, column, channel, image]
            for c in range(3):
                assert np.array_equal(payload["images"][i, c].numpy(), x[:, :, c, i])
        assert payload["labels"].tolist() == [int(v) % 10 for v in y]
        assert 0 in payload["labels"].tolist() and 10 not in payload["labels"].tolist()

    again = preprocess("svhn", raw, tmp_path / "again")
    assert again["splits"] == manifest["splits"]  # same bytes


# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def celeba_raw(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    md5s, _ = write_celeba(raw / "celeba", partitions=(0, 1, 2, 0, 1, 0, 2, 0))
    patch_celeba(monkeypatch, md5s)
    download("celeba", raw, celeba_gdrive=False)
    return raw


def test_celeba64_is_imageops_fit_64_with_valid_split(celeba_raw, tmp_path):
    out = tmp_path / "out"
    manifest = preprocess("celeba64", celeba_raw, out)

    check_manifest(out, manifest)
    check_against_registry("celeba64", manifest, full=False)
    assert manifest["settings"]["crop"] == 178 and manifest["settings"]["size"] == 64
    assert manifest["settings"]["raw_source"] == "celeba"
    folder = celeba_raw / "celeba" / "img_align_celeba"
    expected = {"train": ["000001", "000004", "000006", "000008"], "valid": ["000002", "000005"],
                "test": ["000003", "000007"]}
    for split, names in expected.items():
        payload = load(out / f"{split}.pt")
        assert payload["labels"] is None and payload["images"].shape == (len(names), 3, 64, 64)
        for img, name in zip(payload["images"], names):
            pil = Image.open(folder / f"{name}.jpg").convert("RGB")
            # independent: the largest centred square (rows 20..197 of 218) resized with PIL
            ref = np.asarray(pil.crop((0, 20, 178, 198)).resize((64, 64), Image.BILINEAR)).transpose(2, 0, 1)
            assert np.array_equal(img.numpy(), ref)

    # "nearest" reproduces seed 001's 2017 preprocessing, PIL.ImageOps.fit with Pillow < 7's NEAREST default
    preprocess("celeba64", celeba_raw, tmp_path / "nearest", celeba_interpolation="nearest", limit=1)
    got = load(tmp_path / "nearest" / "train.pt")["images"][0].numpy()
    fit = ImageOps.fit(Image.open(folder / "000001.jpg").convert("RGB"), (64, 64), method=Image.NEAREST)
    assert np.array_equal(got, np.asarray(fit).transpose(2, 0, 1))

    # the crop can be overridden, and only for CelebA
    other = preprocess("celeba64", celeba_raw, tmp_path / "c140", celeba_crop=140, limit=1)
    assert other["settings"]["crop"] == 140
    with pytest.raises(ValueError, match="celeba_crop"):
        preprocess("mnist_embedded", tmp_path, tmp_path / "x", celeba_crop=100)


def test_celeba_32_output_unchanged_by_the_refactor(celeba_raw, tmp_path):
    manifest = preprocess("celeba", celeba_raw, tmp_path / "out")
    assert list(manifest["splits"]) == ["train", "test"] and "raw_source" not in manifest["settings"]
    assert manifest["settings"]["crop"] == 140 and manifest["settings"]["size"] == 32
    assert [e["count"] for e in manifest["splits"].values()] == [4, 2]


# ---------------------------------------------------------------------------------------------------------------


def test_digits8x8_rescale_split_and_determinism(tmp_path):
    from sklearn.datasets import load_digits

    raw = tmp_path / "raw"
    download("digits8x8", raw)
    manifest = preprocess("digits8x8", raw, tmp_path / "a", test_fraction=0.1, seed=7)

    check_manifest(tmp_path / "a", manifest)
    check_against_registry("digits8x8", manifest, full=True)
    train, test = load(tmp_path / "a" / "train.pt"), load(tmp_path / "a" / "test.pt")
    assert train["images"].shape == (1618, 1, 8, 8) and test["images"].shape == (179, 1, 8, 8)
    ref = load_digits()
    counts = np.bincount(ref.target)
    assert (torch.bincount(test["labels"]).numpy() == np.round(0.1 * counts)).all()
    assert (torch.bincount(train["labels"]).numpy() == counts - np.round(0.1 * counts)).all()
    # the two splits partition the 1,797 digits, each level v rescaled to floor(255 v / 16 + 1/2)
    expected = np.floor(ref.images * 255.0 / 16.0 + 0.5).astype(np.uint8)

    def bag(images, labels):
        return collections.Counter((im.tobytes(), int(lb)) for im, lb in zip(images, labels))

    assert bag(train["images"][:, 0].numpy(), train["labels"]) + bag(test["images"][:, 0].numpy(), test["labels"]) \
        == bag(expected, ref.target)
    assert int(train["images"].max()) == 255 and int(train["images"].min()) == 0
    assert len(set(train["labels"][:20].tolist())) > 3  # shuffled across classes

    same = preprocess("digits8x8", raw, tmp_path / "b", test_fraction=0.1, seed=7)
    other = preprocess("digits8x8", raw, tmp_path / "c", test_fraction=0.1, seed=8)
    assert same["splits"] == manifest["splits"]
    assert other["splits"]["train"]["sha256"] != manifest["splits"]["train"]["sha256"]


def test_digits_to_uint8_levels():
    levels = torch.arange(17, dtype=torch.uint8)
    got = digits_to_uint8(levels).tolist()
    assert got[0] == 0 and got[8] == 128 and got[16] == 255
    assert all(abs(g / 255 - v / 16) <= 1 / 510 + 1e-12 for v, g in enumerate(got))
    assert got == sorted(got) and len(set(got)) == 17
    with pytest.raises(ValueError, match="0..16"):
        digits_to_uint8(torch.tensor([17]))


def test_offline_datasets_match_registry_sizes(tmp_path):
    raw = tmp_path / "raw"
    download("mnist_embedded", raw)
    manifest = preprocess("mnist_embedded", raw, tmp_path / "out")
    check_against_registry("mnist_embedded", manifest, full=True)


def test_unknown_dataset_is_refused_naming_it(tmp_path):
    with pytest.raises(registry.UnknownDatasetError) as exc:
        preprocess("tfd", tmp_path, tmp_path / "out")
    assert "'tfd'" in str(exc.value)
    for name in registry.DATASET_NAMES:
        assert name in str(exc.value)
    assert not (tmp_path / "out").exists()
