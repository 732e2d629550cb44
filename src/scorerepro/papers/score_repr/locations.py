"""Seed 003's folders: scorerepro.pipeline.paths with the paper's name filled in."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from scorerepro.pipeline import paths

PAPER = "score_repr"
RESULTS = paths.paper_results_dir(PAPER)  # results/score_repr
model_dir = partial(paths.model_dir, PAPER)


def results_dir(experiment: str) -> Path:
    """results/score_repr/experiments/<experiment>: one folder per experiment, so the summary can depend on
    results/score_repr/experiments whatever the experiments are."""
    return RESULTS / "experiments" / experiment


def sweep_model_dir() -> Path:
    return paths.MODELS / PAPER / "sweep"


def sweep_results_dir() -> Path:
    return RESULTS / "sweep"


def toy_dir() -> Path:
    return RESULTS / "toy"
