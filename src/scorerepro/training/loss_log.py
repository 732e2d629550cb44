"""loss.csv: one row per update, `step,<one column per named loss>,<lr per optimiser>`.

A run with one loss called "loss" and one optimiser writes `step,loss,lr` (the DVC plot's x=step, y=loss). Several
optimisers get one `lr_<name>` column each. Rows are appended and flushed, so a killed run keeps its log.
"""

from __future__ import annotations

from pathlib import Path

from scorerepro.core.fileio import write_text
from .train_errors import TrainingError


def loss_log_columns(loss_names: list[str], optimizer_names: list[str]) -> list[str]:
    lrs = ["lr"] if len(optimizer_names) == 1 else [f"lr_{n}" for n in optimizer_names]
    return ["step", *loss_names, *lrs]


class LossLog:
    """On open, rows after `keep_until` (steps a resumed run will redo) and any half-written line are dropped."""

    def __init__(self, path: Path, columns: list[str], keep_until: int):
        self.path = path
        header = ",".join(columns)
        kept: list[str] = []
        if path.is_file():
            lines = path.read_text().splitlines()
            for line in lines[1:]:
                parts = line.split(",")
                if len(parts) != len(columns):
                    continue
                try:
                    step = int(parts[0])
                    [float(p) for p in parts[1:]]
                except ValueError:
                    continue
                if 1 <= step <= keep_until:
                    kept.append(line)
            if kept and lines[0] != header:
                raise TrainingError(f"{path} has columns {lines[0]!r} but this run logs {header!r}: the step "
                                    f"function returns other losses than the run it resumes. Return the same "
                                    f"names, or start afresh (resume=False moves the old run aside).")
        write_text(path, "\n".join([header, *kept]) + "\n")
        self._f = open(path, "a", encoding="utf-8")

    def write(self, rows: list[tuple[int, list[float]]]) -> None:
        try:
            self._f.write("".join(",".join([str(s), *(repr(v) for v in vals)]) + "\n" for s, vals in rows))
            self._f.flush()
        except OSError as e:  # a full disk: name the log (a half-written last line is dropped on the next open)
            raise OSError(e.errno, e.strerror, str(self.path)) from e

    def close(self) -> None:
        self._f.close()


def first_losses(path: Path) -> dict[str, float] | None:
    """The losses logged at step 1 of the run whose loss.csv this is, or None if that row is not there."""
    if not path.is_file():
        return None
    lines = path.read_text().splitlines()
    if len(lines) < 2:
        return None
    header, row = lines[0].split(","), lines[1].split(",")
    if len(row) != len(header) or row[0] != "1":
        return None
    try:
        return {k: float(v) for k, v in zip(header[1:], row[1:]) if not k.startswith("lr")}
    except ValueError:
        return None
