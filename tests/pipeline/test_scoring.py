"""scorerepro.pipeline.scoring: what score measures depends on what the pipeline has made for the dataset."""

from __future__ import annotations

import pytest
import torch

from scorerepro.pipeline import scoring

IMAGES = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)


def test_without_inception_or_a_classifier_only_the_count_is_recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not scoring.has_classifier("mnist_embedded")
    assert scoring.score(IMAGES, "mnist_embedded", {}, torch.device("cpu"), inception=False) == {"n_samples": 4}


def test_a_missing_inception_reference_stops_before_the_costly_features(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def features(*args, **kwargs):
        raise AssertionError("the Inception features were computed before the reference was checked")

    monkeypatch.setattr(scoring, "inception_features", features)
    with pytest.raises(FileNotFoundError, match="scorerepro reference_stats mnist_embedded"):
        scoring.score(IMAGES, "mnist_embedded", {"inception": {"batch_size": 2}}, torch.device("cpu"),
                      inception=True)


def test_missing_inception_weights_name_the_stage_that_fetches_them(tmp_path, monkeypatch):
    from scorerepro.metrics.inception import InceptionWeightsMissing

    monkeypatch.chdir(tmp_path)
    with pytest.raises(InceptionWeightsMissing, match="scorerepro inception_weights"):
        scoring.inception_info()
