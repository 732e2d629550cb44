"""Infusion's folders: scorerepro.pipeline.paths with the paper's name filled in. The paper has one main model
(`main`) and the Table 4 sweep's cells (models/infusion/sweep/<cell>)."""

from __future__ import annotations

from pathlib import Path

from scorerepro.pipeline import paths

PAPER = "infusion"
RESULTS = paths.paper_results_dir(PAPER)  # results/infusion
MAIN = "main"


def model_dir(name: str = MAIN) -> Path:
    return paths.model_dir(PAPER, name)


def sweep_dir() -> Path:
    return paths.model_dir(PAPER, "sweep")


def samples_dir() -> Path:
    return paths.samples_dir(PAPER, MAIN)
