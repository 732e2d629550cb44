"""Where every stage reads and writes. dvc.yaml spells the same paths (the Snakemake rules are made from it); the
workflow tests run the stages through it.

Shared data and models sit at the top (data/raw/<dataset>, data/processed/<dataset>, data/reference/<dataset>,
models/inception, models/classifier/<dataset>); each paper writes under its own name: models/<paper>/<experiment>,
samples/<paper>/<experiment>, results/<paper>/... . The cross-paper tables are results/claims.* and
results/leaderboard.*."""

from __future__ import annotations

from pathlib import Path

DATA = Path("data")
MODELS = Path("models")
SAMPLES = Path("samples")
RESULTS = Path("results")


def raw_dir(dataset: str) -> Path:
    return DATA / "raw" / dataset


def processed_dir(dataset: str) -> Path:
    return DATA / "processed" / dataset


def reference_dir(dataset: str) -> Path:
    return DATA / "reference" / dataset


def inception_dir() -> Path:
    return MODELS / "inception"


def classifier_dir(dataset: str) -> Path:
    return MODELS / "classifier" / dataset


def classifier_results_dir(dataset: str) -> Path:
    return RESULTS / "classifier" / dataset


def paper_results_dir(paper: str) -> Path:
    """results/<paper>: what people read of one paper (its summary, claims and leaderboard rows too)."""
    return RESULTS / paper


def paper_data_dir(paper: str) -> Path:
    """data/<paper>: a paper's intermediate tables (not for reading)."""
    return DATA / paper


def model_dir(paper: str, experiment: str) -> Path:
    """Checkpoints of one experiment; a persistent output so a killed training resumes."""
    return MODELS / paper / experiment


def samples_dir(paper: str, experiment: str) -> Path:
    return SAMPLES / paper / experiment


def results_dir(paper: str, experiment: str) -> Path:
    return RESULTS / paper / experiment


def claims_rows_file(paper: str) -> Path:
    """A paper's rows of results/claims.csv, written by its summary stage."""
    return paper_results_dir(paper) / "claims.csv"


def leaderboard_rows_file(paper: str) -> Path:
    """A paper's rows of results/leaderboard.csv, written by its summary stage."""
    return paper_results_dir(paper) / "leaderboard.csv"
