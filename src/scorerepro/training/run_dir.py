"""Housekeeping of a run folder: temp files of interrupted writes, finished-run markers, superseded runs.

Layout of `out_dir` (see scorerepro.training):

    checkpoints/checkpoint_{step}.pt   checkpoints/latest.pt   loss.csv   final.pt   completed.json   .train.lock
    diverged.json (instead of final.pt and completed.json: the run diverged, see scorerepro.training.divergence)
    outcome.json (last of all: "finished" or "diverged")

A run that must start afresh never deletes its predecessor: checkpoints, log and final model are moved to
`<out_dir>.superseded/<UTC time>/`, a sibling of out_dir, so they leave the pipeline's output (a DVC `persist`
output is the folder itself) without being lost.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import os
import re
import shutil
from pathlib import Path

from scorerepro.core.fileio import write_json

from .checkpoints import CHECKPOINT_DIR, COMPLETED_NAME, FINAL_NAME, LOSS_LOG_NAME, OUTCOME_NAME, list_checkpoints
from .divergence import DIVERGED_NAME

SUPERSEDED_SUFFIX = ".superseded"
# core.fileio.atomic_path names its temporaries `.{final name}.{random}.tmp` beside the final file.
_TMP_TOP = re.compile(r"^\.(final\.pt|completed\.json|loss\.csv|diverged\.json|outcome\.json)\..+\.tmp$")
_TMP_CKPT = re.compile(r"^\.(checkpoint_\d+\.pt|latest\.pt)\..+\.tmp$")


def remove_stale_temps(out_dir: Path) -> list[Path]:
    """Delete the temporaries a run killed between writing and renaming left in out_dir; only call this while
    holding out_dir's lock (a live trainer's temporaries look the same). Returns what was removed."""
    removed = []
    for folder, pattern in ((out_dir, _TMP_TOP), (out_dir / CHECKPOINT_DIR, _TMP_CKPT)):
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if pattern.match(p.name) and p.is_file():
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed.append(p)
    return removed


def clear_completion(out_dir: Path) -> None:
    """Remove what marks a run as ended or finished; the checkpoints that final.pt links to stay."""
    for name in (OUTCOME_NAME, COMPLETED_NAME, FINAL_NAME):  # markers first: never one without its final model
        with contextlib.suppress(FileNotFoundError):
            (out_dir / name).unlink()


def mark_outcome(out_dir: Path, outcome: str, step: int) -> None:
    """Write OUTCOME_NAME, last: the call ended with the run `finished` or `diverged` at `step`."""
    write_json(out_dir / OUTCOME_NAME, {"outcome": outcome, "step": int(step)})


def has_results(out_dir: Path) -> bool:
    """A checkpoint or a final model exists: starting afresh must move them aside rather than overwrite them."""
    return (bool(list_checkpoints(out_dir)) or (out_dir / FINAL_NAME).is_file()
            or (out_dir / DIVERGED_NAME).is_file())


def _move(src: Path, dst: Path) -> None:
    try:
        os.replace(src, dst)
    except OSError as e:
        if e.errno != errno.EXDEV:  # out_dir is a mount point of its own: copy across, then remove
            raise
        shutil.move(str(src), str(dst))


def move_aside(out_dir: Path, reason: str) -> Path:
    """Move out_dir's checkpoints, log, final model and completion marker to a new
    `<out_dir>.superseded/<UTC time>/` folder (with a superseded.json saying why) and return that folder."""
    root = out_dir.parent / f"{out_dir.name}{SUPERSEDED_SUFFIX}"
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest, n = root / stamp, 1
    while dest.exists():  # two restarts within one second
        n += 1
        dest = root / f"{stamp}-{n}"
    dest.mkdir(parents=True)
    for name in (OUTCOME_NAME, COMPLETED_NAME, FINAL_NAME, CHECKPOINT_DIR, LOSS_LOG_NAME, DIVERGED_NAME):
        src = out_dir / name
        if src.exists() or src.is_symlink():
            _move(src, dest / name)
    write_json(dest / "superseded.json",
               {"moved_from": str(out_dir.resolve()), "moved_utc": stamp, "reason": reason})
    return dest
