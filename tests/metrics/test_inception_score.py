"""Inception Score: closed forms, the TF reference's split arithmetic, and 'unavailable' without logits."""

import numpy as np
import pytest
import torch

from scorerepro.metrics.inception_score import (
    InceptionScoreUnavailable,
    inception_score,
    inception_score_from_features,
    is_unavailable_reason,
)


def _tf_reference(logits, splits):
    """The formula of openai/improved-gan inception_score/model.py, on softmax(logits), in numpy float64."""
    z = logits - logits.max(1, keepdims=True)
    preds = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    scores = []
    for i in range(splits):
        part = preds[(i * preds.shape[0] // splits):((i + 1) * preds.shape[0] // splits), :]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    return np.mean(scores), np.std(scores)


def test_uniform_logits_score_one():
    mean, std = inception_score(torch.zeros(100, 1008), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 7, 10])
def test_k_equally_frequent_confident_classes_score_k(k):
    n = 10 * k * 3  # every split holds each of the k classes 3 times
    labels = np.arange(n) % k
    logits = np.zeros((n, 1008))
    logits[np.arange(n), labels] = 60.0  # softmax ~ one-hot (off-class mass ~1e-23)
    mean, std = inception_score(logits, splits=10)
    assert mean == pytest.approx(k, rel=1e-9) and std < 1e-9
    probs = np.zeros((n, 10))
    probs[np.arange(n), labels] = 1.0  # exact one-hot probabilities (the classifier path): exactly k
    mean_p, _ = inception_score(probs, splits=10, kind="probs")
    assert mean_p == pytest.approx(k, rel=1e-12)


def test_std_over_splits():
    # split 1: 2 classes, split 2: 4 classes -> scores 2 and 4 -> mean 3, population std 1
    probs = np.zeros((8, 4))
    probs[np.arange(4), [0, 1, 0, 1]] = 1
    probs[4 + np.arange(4), [0, 1, 2, 3]] = 1
    mean, std = inception_score(probs, splits=2, kind="probs")
    assert mean == pytest.approx(3.0) and std == pytest.approx(1.0)


@pytest.mark.parametrize("n,splits", [(100, 10), (25, 10), (37, 3)])
def test_matches_tf_reference_formula(n, splits):
    rng = np.random.default_rng(n)
    logits = rng.normal(scale=3.0, size=(n, 1008))
    ours = inception_score(torch.from_numpy(logits).float(), splits=splits)
    ref = _tf_reference(logits.astype(np.float32).astype(np.float64), splits)
    assert ours[0] == pytest.approx(ref[0], rel=1e-10)
    assert ours[1] == pytest.approx(ref[1], rel=1e-8, abs=1e-12)


def test_shuffle_seed_is_a_fixed_permutation():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(50, 20))
    perm = np.random.RandomState(2020).permutation(50)  # torch-fidelity's default seed and generator
    assert inception_score(logits, splits=5, shuffle_seed=2020) == pytest.approx(
        inception_score(logits[perm], splits=5))
    assert inception_score(logits, splits=5, shuffle_seed=2020) != pytest.approx(inception_score(logits, splits=5))


def test_invalid_inputs():
    with pytest.raises(ValueError):
        inception_score(np.zeros((5, 10)), splits=10)  # fewer samples than splits
    with pytest.raises(ValueError):
        inception_score(np.full((20, 10), 0.5), splits=2, kind="probs")  # rows do not sum to 1
    with pytest.raises(ValueError):
        inception_score(np.zeros((20, 10)), kind="softmax")


def test_headless_weights_report_unavailable_never_a_number():
    info = {"has_classifier": False, "source": "converted_fid_helper"}
    reason = is_unavailable_reason(info)
    assert isinstance(reason, str) and "unavailable" in reason and "pt_inception-2015-12-05-6726825d.pth" in reason
    assert is_unavailable_reason({"has_classifier": True, "source": "placed"}) is None
    feats = {"pool3": np.zeros((20, 2048), np.float32), "logits": None, "n": 20}
    out = inception_score_from_features(feats)
    assert set(out) == {"is_unavailable"} and "unavailable" in out["is_unavailable"]
    with pytest.raises(InceptionScoreUnavailable):
        inception_score_from_features(feats, strict=True)
    feats["logits"] = np.zeros((20, 1008), np.float32)
    out = inception_score_from_features(feats)
    assert out["is_mean"] == pytest.approx(1.0) and "is_unavailable" not in out
