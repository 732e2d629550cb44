"""NCSN's folders: scorerepro.pipeline.paths with the paper's name filled in."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from scorerepro.pipeline import paths

PAPER = "ncsn"
RESULTS = paths.paper_results_dir(PAPER)  # results/ncsn
model_dir = partial(paths.model_dir, PAPER)
samples_dir = partial(paths.samples_dir, PAPER)
results_dir = partial(paths.results_dir, PAPER)


def toy_dir() -> Path:
    return RESULTS / "toy"


def sensitivity_dir() -> Path:
    return RESULTS / "sensitivity"


def summary_rows_dir() -> Path:
    return paths.paper_data_dir(PAPER) / "summary_rows"
