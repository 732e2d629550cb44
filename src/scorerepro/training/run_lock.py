"""One trainer per run folder: an exclusive flock on `<out_dir>/.train.lock`, held for the whole run.

Two trainers writing the same checkpoints and log would interleave two trajectories in one folder without any
error, so the second one must fail at once. flock (not a pid file) because the kernel releases it when its
holder dies, however it dies: a lock left behind by a killed run is simply taken over. The file's text (pid, host,
start time) is only there to name the holder in the error message; it is removed when the run ends.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import socket
from pathlib import Path

from .train_errors import RunLockedError

LOCK_NAME = ".train.lock"


def _holder_text(path: Path) -> str:
    try:
        fields = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    except OSError:
        fields = {}
    if not fields.get("pid"):
        return "a process that has not yet written its name"
    return f"pid {fields['pid']} on host {fields.get('host', '?')}, running since {fields.get('since', '?')}"


class RunLock:
    """Exclusive lock on a run folder. `RunLock.acquire(folder)` fails at once with RunLockedError if held."""

    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, folder: str | os.PathLike) -> "RunLock":
        path = Path(folder) / LOCK_NAME
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunLockedError(
                    f"{Path(folder)} is being trained by another process: {_holder_text(path)} (lock file {path}). "
                    f"Two trainers in one folder would mix their checkpoints. Wait for that run to finish, stop "
                    f"it, or train into another folder. A lock whose holder has died is released by the "
                    f"operating system, so if that process is gone, simply rerun.") from None
            except OSError as e:
                os.close(fd)
                raise RunLockedError(f"could not lock {path} ({e}); the file system of {Path(folder)} may not "
                                     f"support flock. Train into a folder on a local or lock-capable file "
                                     f"system.") from e
            # The releasing holder unlinks the file before unlocking it; if we locked that orphaned inode,
            # a newcomer could lock a fresh file at the same path, so try again on whatever the path is now.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        since = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        # Written through the locked descriptor: an atomic rename would swap the inode the lock lives on.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()}\nhost={socket.gethostname()}\nsince={since}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
