"""Atomic output writing and hashing.

Every pipeline output goes through here: written to a temporary name in the same folder, then renamed with
os.replace, so a killed run never leaves a half-written file that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; outputs are meant to be read by the group on shared clusters.
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        unnamed = _unnamed_os_error(e)
        if unnamed is not None:
            # A failed write (a full disk, ...) names no file, and torch.save reports it as a RuntimeError
            # ("unexpected pos"): give the caller the OSError (of errno's subclass), naming the output.
            raise OSError(unnamed.errno, unnamed.strerror, str(path)) from e
        raise


def _unnamed_os_error(e: BaseException) -> OSError | None:
    """The OSError with an errno but no file name behind e (e itself, or what torch.save turned into e)."""
    cause = e.__context__ if isinstance(e, RuntimeError) else e
    if isinstance(cause, OSError) and cause.errno is not None and cause.filename is None:
        return cause
    return None


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    import torch

    # Through a file handle: given a path, torch.save names the archive's inner folder after the (random)
    # temporary file name, so the same tensor would hash differently on every run.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def save_figure(path: str | os.PathLike, fig, **kwargs) -> None:
    """Save a matplotlib figure atomically (format from the final suffix)."""
    path = Path(path)
    kwargs.setdefault("dpi", 120)
    kwargs.setdefault("bbox_inches", "tight")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kwargs)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
