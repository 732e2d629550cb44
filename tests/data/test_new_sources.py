"""scorerepro.data.sources for the newer sources: SVHN over a local HTTP server, scikit-learn's 8x8 digits offline,
and dataset names that resolve to another source (celeba64, cifar10_3class, mnist_val).

SVHN's .mat files are written with scipy.io.savemat in torchvision's layout (X uint8 [32, 32, 3, N], y [N, 1] with
labels 1..10, 10 meaning the digit 0), served from 127.0.0.1, and torchvision's SVHN.split_list is patched to point
at them. The writers here are reused by test_new_datasets.py.
"""

from __future__ import annotations

import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from torchvision.datasets import SVHN

from scorerepro.data import registry, sources
from scorerepro.data.sources import DataSourceError, download, verify
from scorerepro.core.fileio import sha256_file
from test_data_sources import md5_of, patch_celeba, patch_mnist, write_celeba, write_mnist_gz

SVHN_NAMES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}


def write_svhn_mats(folder: Path, sizes=(("train", 7), ("test", 5), ("extra", 3)), seed: int = 0):
    """The three SVHN .mat files; returns ({filename: md5}, {split: (X [32, 32, 3, N], y [N] in 1..10)})."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    md5s, arrays = {}, {}
    for split, n in sizes:
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = rng.integers(1, 11, size=n).astype(np.uint8)
        y[0] = 10  # always at least one zero digit, to see the 10 -> 0 mapping
        scipy.io.savemat(folder / SVHN_NAMES[split], {"X": x, "y": y.reshape(n, 1)})
        md5s[SVHN_NAMES[split]] = md5_of(folder / SVHN_NAMES[split])
        arrays[split] = (x, y)
    return md5s, arrays


def patch_svhn(monkeypatch, base_url: str, md5s: dict[str, str]) -> None:
    monkeypatch.setattr(SVHN, "split_list", {
        split: [base_url + name, name, md5s[name]] for split, name in SVHN_NAMES.items()
    })


def test_svhn_download_over_local_http(server, tmp_path, monkeypatch):
    www, url, log = server
    md5s, arrays = write_svhn_mats(www / "svhn")
    patch_svhn(monkeypatch, url + "svhn/", md5s)
    raw = tmp_path / "raw"

    record = download("svhn", raw)

    assert set(log) == {f"/svhn/{name}" for name in md5s}
    assert record["source"] == "svhn" and "dataset" not in record and "torchvision" in record["software"]
    by_path = {f["path"]: f for f in record["files"]}
    assert set(by_path) == set(md5s)
    for name, md5 in md5s.items():
        assert by_path[name]["md5"] == by_path[name]["md5_expected"] == md5
        assert by_path[name]["sha256"] == sha256_file(raw / name)
    for split, (x, y) in arrays.items():
        ds = SVHN(str(raw), split=split)
        assert np.array_equal(ds.data, x.transpose(3, 2, 0, 1))
        assert ds.labels.tolist() == [0 if v == 10 else int(v) for v in y]

    n_requests = len(log)
    assert download("svhn", raw) == record and len(log) == n_requests  # nothing fetched again
    assert verify("svhn", raw) == record


def test_svhn_corrupt_download_is_refused_renamed_and_refetched(server, tmp_path, monkeypatch):
    www, url, log = server
    md5s, _ = write_svhn_mats(www / "svhn")
    patch_svhn(monkeypatch, url + "svhn/", md5s)
    good = (www / "svhn" / "test_32x32.mat").read_bytes()
    (www / "svhn" / "test_32x32.mat").write_bytes(good[:-200])  # truncated on the server
    raw = tmp_path / "raw"

    with pytest.raises(DataSourceError) as exc:
        download("svhn", raw)
    msg = str(exc.value)
    target = raw / "test_32x32.mat"
    assert f"{target}: checksum mismatch" in msg and md5s["test_32x32.mat"] in msg
    assert not target.exists()
    assert target.with_name("test_32x32.mat.corrupt").read_bytes() == good[:-200]
    assert (raw / "train_32x32.mat").is_file() and (raw / "extra_32x32.mat").is_file()  # the others were kept

    (www / "svhn" / "test_32x32.mat").write_bytes(good)
    n_requests = len(log)
    download("svhn", raw)
    assert set(log[n_requests:]) == {"/svhn/test_32x32.mat"}
    assert md5_of(target) == md5s["test_32x32.mat"]

    # a file damaged on disk later: verify (no network) names it and quarantines it
    blob = bytearray((raw / "extra_32x32.mat").read_bytes())
    blob[-10] ^= 0xFF
    (raw / "extra_32x32.mat").write_bytes(bytes(blob))
    with pytest.raises(DataSourceError, match="extra_32x32.mat: checksum mismatch"):
        verify("svhn", raw)
    assert not (raw / "extra_32x32.mat").exists() and (raw / "extra_32x32.mat.corrupt").exists()


def test_svhn_unreachable_host_error_lists_every_file_and_manual_placement_works(server, tmp_path, monkeypatch):
    www, url, log = server
    stash = tmp_path / "stash"
    md5s, arrays = write_svhn_mats(stash)
    patch_svhn(monkeypatch, "http://127.0.0.1:9/svhn/", md5s)  # port 9 (discard): connection refused
    raw = tmp_path / "raw"

    with pytest.raises(DataSourceError) as exc:
        download("svhn", raw)
    msg = str(exc.value)
    assert f"folder {raw}/" in msg and "fetching http://127.0.0.1:9/svhn/train_32x32.mat failed" in msg
    for name, md5 in md5s.items():
        assert f"{raw / name}: missing" in msg
        assert name in msg and md5 in msg
    assert msg.count("[missing]") == 3

    # the files placed by hand (unrenamed) are verified and used; nothing is fetched
    for name in md5s:
        (raw / name).write_bytes((stash / name).read_bytes())
    record = download("svhn", raw)
    assert {f["path"] for f in record["files"]} == set(md5s) and log == []
    assert len(SVHN(str(raw), split="extra")) == 3


def test_digits8x8_is_offline_and_real(tmp_path, monkeypatch):
    from sklearn.datasets import load_digits

    def no_network(*args, **kwargs):
        raise AssertionError("digits8x8 must not use the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    raw = tmp_path / "raw"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the pinned sha256 must match the installed scikit-learn's file
        record = download("digits8x8", raw)

    src = sources._sklearn_digits_file()
    copy = raw / "digits8x8" / "digits.csv.gz"
    assert copy.read_bytes() == src.read_bytes()
    (entry,) = record["files"]
    assert entry["path"] == "digits8x8/digits.csv.gz"
    assert entry["sha256"] == sources.SKLEARN_DIGITS_SHA256
    assert entry["images"] == 1797 and entry["per_class"] == sources.SKLEARN_DIGITS_PER_CLASS
    assert record["origin"].startswith("scikit-learn ")

    # the reader agrees with scikit-learn's own loader
    levels, labels = sources.read_digits8x8(copy)
    ref = load_digits()
    assert levels.shape == (1797, 1, 8, 8) and levels.dtype == torch.uint8
    assert np.array_equal(levels[:, 0].numpy(), ref.images.astype(np.uint8))
    assert np.array_equal(labels.numpy(), ref.target)
    assert int(levels.max()) == 16 and int(levels.min()) == 0

    # a tampered copy is refused, naming the file; download copies it again
    copy.write_bytes(b"\x1f\x8b not a gzip")
    with pytest.raises(DataSourceError, match="digits.csv.gz"):
        verify("digits8x8", raw)
    assert download("digits8x8", raw)["files"][0]["sha256"] == sources.SKLEARN_DIGITS_SHA256


def test_digits8x8_other_file_with_valid_contents_only_warns(tmp_path):
    import gzip

    raw = tmp_path / "raw"
    download("digits8x8", raw)
    copy = raw / "digits8x8" / "digits.csv.gz"
    # same rows, recompressed: different bytes, same contents
    copy.write_bytes(gzip.compress(gzip.decompress(copy.read_bytes()), compresslevel=1, mtime=0))
    with pytest.warns(UserWarning, match="differs from the digits.csv.gz of scikit-learn"):
        verify("digits8x8", raw)
    # a row dropped: refused with the counts
    rows = gzip.decompress(copy.read_bytes()).splitlines(keepends=True)
    copy.write_bytes(gzip.compress(b"".join(rows[1:])))
    with pytest.raises(DataSourceError, match="expected 1,797 digits"):
        verify("digits8x8", raw)


def test_dataset_names_resolve_to_their_raw_source(tmp_path, monkeypatch, no_gdrive):
    raw = tmp_path / "mnist"
    md5s, _ = write_mnist_gz(raw / "MNIST" / "raw")
    patch_mnist(monkeypatch, "http://127.0.0.1:9/unused/", md5s)
    plain = download("mnist", raw)
    record = download("mnist_val", raw)  # everything present: verifies, fetches nothing
    assert record["source"] == "mnist" and record["dataset"] == "mnist_val"
    assert record["files"] == plain["files"]
    assert verify("mnist_val", raw) == record

    craw = tmp_path / "celeba"
    cmd5s, _ = write_celeba(craw / "celeba")
    patch_celeba(monkeypatch, cmd5s)
    rec = download("celeba64", craw, celeba_gdrive=False)
    assert rec["source"] == "celeba" and rec["dataset"] == "celeba64"

    for name in registry.DATASET_NAMES:
        assert sources.resolve_source(name) == registry.raw_source(name) in sources.SOURCES


def test_unknown_name_is_refused_naming_it(tmp_path):
    with pytest.raises(registry.UnknownDatasetError) as exc:
        download("imagenet32", tmp_path / "raw")
    msg = str(exc.value)
    assert "'imagenet32'" in msg
    for name in sources.SOURCES + ("celeba64", "cifar10_3class", "mnist_val"):
        assert name in msg
    assert not (tmp_path / "raw").exists()
