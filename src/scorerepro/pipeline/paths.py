"""Where every stage reads and writes. dvc.yaml and workflow/rules/*.smk spell the same paths; the test
tests/test_dag_agreement.py keeps the three in step."""

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


def model_dir(experiment: str) -> Path:
    """Checkpoints of one experiment; a persistent output so a killed training resumes."""
    return MODELS / experiment


def samples_dir(experiment: str) -> Path:
    return SAMPLES / experiment


def results_dir(experiment: str) -> Path:
    return RESULTS / experiment


def toy_dir() -> Path:
    return RESULTS / "toy"
