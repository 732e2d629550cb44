"""The record a diverged training leaves: `diverged.json` in its run folder, in place of the final model.

A run whose loss became NaN/inf or passed its divergence bound stops (NonFiniteLossError / LossDivergedError) and
writes this record, so that a diverged model is a result the pipeline can carry on, not only an exit code: every
stage downstream reads it (scorerepro.pipeline.divergence) and writes outputs that say so, and the claims the model
feeds become `untested`, naming the loss, the step and the bound. A later run under the same settings raises the
recorded divergence again instead of retraining into it; a run under other settings moves it aside with the rest.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scorerepro.core.fileio import write_json

from .train_errors import LossDivergedError, NonFiniteLossError

DIVERGED_NAME = "diverged.json"
#: Divergence.text() inside other text (a claims row's gate column), up to the end of its clause.
TEXT_PATTERN = re.compile(r"training of \S+ diverged at step \d+ of \d+: loss '[^']*' [^;(]*?(?= \(rule|;|$)")


@dataclass(frozen=True)
class Divergence:
    """Where and how a training run diverged; `bound` is None for a NaN/inf loss."""

    run: str  # the run folder
    loss: str
    step: int
    n_iters: int
    value: float | None  # None: NaN or inf (JSON has no such number)
    bound: float | None
    message: str

    def text(self) -> str:
        """One clause for a claims note, a table cell or a figure: what diverged, where, by how much."""
        value = "not finite" if self.value is None else f"{self.value:.4g}"
        beyond = f", beyond its bound {self.bound:.4g}" if self.bound is not None else ""
        return (f"training of {self.run} diverged at step {self.step} of {self.n_iters}: loss {self.loss!r} "
                f"{value}{beyond}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Divergence":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def write_divergence(out_dir: Path, error: NonFiniteLossError, n_iters: int, config_record: dict,
                     settings: dict) -> Path:
    """Record `error` in out_dir/diverged.json with the settings it happened under (compared by the next run)."""
    value = float(error.loss) if math.isfinite(error.loss) else None
    bound = float(error.bound) if isinstance(error, LossDivergedError) else None
    record = Divergence(str(out_dir), error.name, int(error.step), int(n_iters), value, bound, str(error))
    path = out_dir / DIVERGED_NAME
    write_json(path, {**record.to_dict(), "config_record": config_record, "train_config": settings})
    return path


def read_divergence(out_dir: str | Path) -> Divergence | None:
    """The divergence recorded in a run folder, or None when the run did not diverge."""
    path = Path(out_dir) / DIVERGED_NAME
    if not path.is_file():
        return None
    return Divergence.from_dict(json.loads(path.read_text()))


def recorded_settings(out_dir: Path) -> tuple[dict, dict]:
    """(config_record, train_config) of the run that diverged, to compare with the run asked for now."""
    raw = json.loads((out_dir / DIVERGED_NAME).read_text())
    return raw["config_record"], raw["train_config"]


def error_of(record: Divergence) -> NonFiniteLossError:
    """The error the recorded run stopped with, raised again by a run under the same settings."""
    message = (f"{record.message} (recorded in {Path(record.run) / DIVERGED_NAME} by an earlier run under these "
               f"settings; change them, e.g. lower lr, to train afresh)")
    value = math.inf if record.value is None else record.value
    if record.bound is None:
        return NonFiniteLossError(record.step, value, message, record.loss)
    return LossDivergedError(record.step, value, message, record.loss, record.bound)
