"""scorerepro.data.preprocess: uint8 NCHW split files, manifest hashes, CelebA crop+resize, mnist_embedded split."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest
import torch
from PIL import Image

import scorerepro.data.preprocess as pp
from scorerepro.data.preprocess import preprocess, save_split
from scorerepro.data.sources import DataSourceError, download
from scorerepro.core.fileio import sha256_file
from test_data_sources import (  # the real-format writers (tests/ is on sys.path under pytest's default mode)
    md5_of,
    patch_celeba,
    patch_cifar,
    patch_mnist,
    write_celeba,
    write_cifar_tgz,
    write_mnist_gz,
)


def load(path):
    return torch.load(path, weights_only=True)


def check_manifest(out, manifest):
    assert json.loads((out / "manifest.json").read_text()) == manifest
    for split, entry in manifest["splits"].items():
        path = out / entry["file"]
        assert entry["sha256"] == sha256_file(path) and entry["bytes"] == path.stat().st_size
        payload = load(path)
        assert list(payload["images"].shape) == entry["shape"] and entry["count"] == entry["shape"][0]
        assert payload["images"].dtype == torch.uint8 and entry["dtype"] == "uint8"
        if payload["labels"] is None:
            assert entry["labels"] is None
        else:
            assert payload["labels"].dtype == torch.int64 and entry["labels"]["shape"] == [entry["count"]]


@pytest.fixture
def mnist_raw(tmp_path, monkeypatch):
    """Raw MNIST placed by hand in torchvision's layout (download() then verifies it without the network)."""
    raw = tmp_path / "raw"
    md5s, arrays = write_mnist_gz(raw / "MNIST" / "raw")
    patch_mnist(monkeypatch, "http://127.0.0.1:9/unused/", md5s)
    download("mnist", raw)  # everything present: decompresses and verifies, fetches nothing
    return raw, arrays


def test_mnist_standard_split_shapes_hashes_and_content(mnist_raw, tmp_path):
    raw, arrays = mnist_raw
    out = tmp_path / "out"
    manifest = preprocess("mnist", raw, out)

    check_manifest(out, manifest)
    for split, n in (("train", 20), ("test", 10)):
        payload = load(out / f"{split}.pt")
        assert payload["images"].shape == (n, 1, 28, 28)
        assert np.array_equal(payload["images"][:, 0].numpy(), arrays[split][0])
        assert np.array_equal(payload["labels"].numpy(), arrays[split][1])
    assert manifest["source"] == "mnist" and manifest["settings"]["limit"] is None
    assert {f["path"] for f in manifest["raw"]["files"]} >= {"MNIST/raw/train-images-idx3-ubyte.gz"}

    # same inputs, same bytes (the split files' hashes do not depend on temporary file names)
    again = preprocess("mnist", raw, tmp_path / "out2")
    assert [e["sha256"] for e in again["splits"].values()] == [e["sha256"] for e in manifest["splits"].values()]

    small = preprocess("mnist", raw, tmp_path / "small", limit=5)
    payload = load(tmp_path / "small" / "train.pt")
    assert payload["images"].shape == (5, 1, 28, 28) and small["splits"]["test"]["count"] == 5
    assert np.array_equal(payload["images"][:, 0].numpy(), arrays["train"][0][:5])
    # a slice is stored compactly, not with the whole original storage
    assert small["splits"]["train"]["bytes"] < manifest["splits"]["train"]["bytes"] / 2


def test_preprocess_refuses_corrupted_raw_files(mnist_raw, tmp_path):
    raw, _ = mnist_raw
    gz = raw / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:-3])
    with pytest.raises(DataSourceError, match="train-labels-idx1-ubyte.gz"):
        preprocess("mnist", raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cifar10_is_stored_nchw(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    tgz, md5s, arrays = write_cifar_tgz(raw)
    patch_cifar(monkeypatch, "http://127.0.0.1:9/unused.tar.gz", md5_of(tgz), md5s)
    download("cifar10", raw)  # extracts the placed archive, no network
    out = tmp_path / "out"
    manifest = preprocess("cifar10", raw, out)

    check_manifest(out, manifest)
    for split, n in (("train", 20), ("test", 4)):
        payload = load(out / f"{split}.pt")
        assert payload["images"].shape == (n, 3, 32, 32)
        # each CIFAR row is 1024 red, then 1024 green, then 1024 blue bytes, row-major: that is CHW already
        assert np.array_equal(payload["images"].numpy(), arrays[split][0].reshape(n, 3, 32, 32))
        assert payload["labels"].tolist() == arrays[split][1]


@pytest.fixture
def celeba_raw(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    md5s, jpegs = write_celeba(raw / "celeba", partitions=(0, 0, 2, 1, 0, 2, 0))
    patch_celeba(monkeypatch, md5s)
    download("celeba", raw, celeba_gdrive=False)
    return raw


def pil_reference(path, resample) -> np.ndarray:
    """Independent computation: decode the JPEG, crop the central 140x140 box by hand, resize with PIL."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    assert (w, h) == (178, 218)
    left, top = (w - 140) // 2, (h - 140) // 2  # 19, 39: even margins, so no rounding question
    return np.asarray(img.crop((left, top, left + 140, top + 140)).resize((32, 32), resample)).transpose(2, 0, 1)


def test_celeba_crop_resize_matches_pil_and_uses_standard_partition(celeba_raw, tmp_path):
    raw = celeba_raw
    out = tmp_path / "out"
    manifest = preprocess("celeba", raw, out)
    check_manifest(out, manifest)
    train, test = load(out / "train.pt"), load(out / "test.pt")
    assert train["labels"] is None and test["labels"] is None
    assert train["images"].shape == (4, 3, 32, 32) and test["images"].shape == (2, 3, 32, 32)
    assert manifest["settings"]["interpolation"] == "bilinear" and manifest["settings"]["crop"] == 140
    folder = raw / "celeba" / "img_align_celeba"
    for images, names in ((train["images"], ["000001", "000002", "000005", "000007"]),
                          (test["images"], ["000003", "000006"])):  # partition 1 (000004) is not written
        for img, name in zip(images, names):
            assert np.array_equal(img.numpy(), pil_reference(folder / f"{name}.jpg", Image.BILINEAR))

    # another interpolation is honoured (and gives other pixels)
    preprocess("celeba", raw, tmp_path / "nearest", celeba_interpolation="nearest", limit=2)
    near = load(tmp_path / "nearest" / "train.pt")["images"]
    assert np.array_equal(near[1].numpy(), pil_reference(folder / "000002.jpg", Image.NEAREST))
    assert not torch.equal(near, train["images"][:2])


def bilinear_no_antialias_reference(arr: np.ndarray, size: int) -> np.ndarray:
    """Half-pixel-centre bilinear sampling (tf.image.resize default), written out with numpy."""
    n = arr.shape[0]
    pos = (np.arange(size) + 0.5) * n / size - 0.5
    pos = np.clip(pos, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = pos - lo
    a = arr.astype(np.float64)
    rows = a[lo] * (1 - w)[:, None, None] + a[hi] * w[:, None, None]
    full = rows[:, lo] * (1 - w)[None, :, None] + rows[:, hi] * w[None, :, None]
    return full.transpose(2, 0, 1)


def test_celeba_bilinear_without_antialias(celeba_raw, tmp_path):
    preprocess("celeba", celeba_raw, tmp_path / "out", celeba_interpolation="bilinear_no_antialias", limit=1)
    got = load(tmp_path / "out" / "train.pt")["images"][0].numpy().astype(np.int64)
    img = Image.open(celeba_raw / "celeba" / "img_align_celeba" / "000001.jpg").convert("RGB")
    crop = np.asarray(img)[39:179, 19:159]
    ref = bilinear_no_antialias_reference(crop, 32)
    assert np.abs(got - ref).max() <= 0.5 + 1e-3  # only rounding to uint8 separates them
    antialiased = pil_reference(celeba_raw / "celeba" / "img_align_celeba" / "000001.jpg", Image.BILINEAR)
    assert np.abs(got - antialiased.astype(np.int64)).mean() > 3  # the test images have fine detail


def test_bad_arguments_are_refused(celeba_raw, tmp_path):
    with pytest.raises(ValueError, match="bilinear_no_antialias"):
        preprocess("celeba", celeba_raw, tmp_path / "o", celeba_interpolation="area")
    with pytest.raises(ValueError, match="limit"):
        preprocess("celeba", celeba_raw, tmp_path / "o", limit=0)
    with pytest.raises(ValueError, match="mnist_embedded"):
        preprocess("fashion", celeba_raw, tmp_path / "o")


def test_mnist_embedded_stratified_seeded_split(tmp_path):
    raw = tmp_path / "raw"
    download("mnist_embedded", raw)
    manifest = preprocess("mnist_embedded", raw, tmp_path / "a", test_fraction=0.1, seed=3)
    check_manifest(tmp_path / "a", manifest)
    train, test = load(tmp_path / "a" / "train.pt"), load(tmp_path / "a" / "test.pt")
    assert train["images"].shape == (4500, 1, 28, 28) and test["images"].shape == (500, 1, 28, 28)
    assert torch.bincount(train["labels"]).tolist() == [450] * 10
    assert torch.bincount(test["labels"]).tolist() == [50] * 10
    assert manifest["splits"]["test"]["labels"]["per_class"] == [50] * 10
    assert int(train["images"].max()) == 255 and int(train["images"].min()) == 0
    # the two splits are a partition of the 5,000 digits (compared as multisets of (image, label))
    from scorerepro.data.sources import read_mnist_embedded

    images, labels = read_mnist_embedded(raw / "mnist_embedded" / "mnist_5k.csv.gz")

    def bag(imgs, labs):
        return collections.Counter((im.numpy().tobytes(), int(lb)) for im, lb in zip(imgs, labs))

    assert bag(train["images"], train["labels"]) + bag(test["images"], test["labels"]) == bag(images, labels)
    # the stored order is shuffled across classes, so a limit does not keep one digit only
    assert len(set(train["labels"][:20].tolist())) > 3
    assert manifest["settings"]["seed"] == 3 and manifest["settings"]["test_fraction"] == 0.1

    same = preprocess("mnist_embedded", raw, tmp_path / "b", test_fraction=0.1, seed=3)
    other = preprocess("mnist_embedded", raw, tmp_path / "c", test_fraction=0.1, seed=4)
    assert same["splits"] == manifest["splits"]
    assert other["splits"]["test"]["sha256"] != manifest["splits"]["test"]["sha256"]
    with pytest.raises(ValueError, match="test_fraction"):
        preprocess("mnist_embedded", raw, tmp_path / "d", test_fraction=1.0)


def test_save_split_bytes_do_not_depend_on_file_name(tmp_path):
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).reshape(2, 3, 4, 4)
    save_split(tmp_path / "x.pt", images, torch.tensor([1, 2]))
    save_split(tmp_path / "sub" / "another_name.pt", images, torch.tensor([1, 2]))
    assert sha256_file(tmp_path / "x.pt") == sha256_file(tmp_path / "sub" / "another_name.pt")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries left
    assert pp.FORMAT.startswith("scorerepro.data.split/")
