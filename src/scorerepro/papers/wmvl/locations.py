"""Where seed 004's stages write."""

from __future__ import annotations

from pathlib import Path

from scorerepro.pipeline import paths

PAPER = "wmvl"
RESULTS = paths.paper_results_dir(PAPER)


def synthetic_dir(study: str) -> Path:
    return RESULTS / "synthetic" / study


def results_dir(experiment: str) -> Path:
    return RESULTS / "models" / experiment


def model_dir(experiment: str) -> Path:
    return paths.model_dir(PAPER, experiment)
