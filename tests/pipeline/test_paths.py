"""scorerepro.pipeline.paths: every stage's folders, relative to the repository root, per paper and experiment."""

from __future__ import annotations

from pathlib import Path

from scorerepro.pipeline import paths


def test_shared_folders_sit_at_the_top():
    assert paths.raw_dir("mnist") == Path("data/raw/mnist")
    assert paths.processed_dir("mnist") == Path("data/processed/mnist")
    assert paths.reference_dir("mnist") == Path("data/reference/mnist")
    assert paths.inception_dir() == Path("models/inception")
    assert paths.classifier_dir("mnist") == Path("models/classifier/mnist")
    assert paths.classifier_results_dir("mnist") == Path("results/classifier/mnist")


def test_each_paper_writes_under_its_own_name():
    assert paths.model_dir("wmvl", "e") == Path("models/wmvl/e")
    assert paths.samples_dir("wmvl", "e") == Path("samples/wmvl/e")
    assert paths.results_dir("wmvl", "e") == Path("results/wmvl/e")
    assert paths.paper_data_dir("wmvl") == Path("data/wmvl")
    assert paths.claims_rows_file("wmvl") == Path("results/wmvl/claims.csv")
    assert paths.leaderboard_rows_file("wmvl") == Path("results/wmvl/leaderboard.csv")
