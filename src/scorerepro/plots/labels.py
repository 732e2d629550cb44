"""Words for the metric names that figures put on their axes and in their titles, and the score caption of a
sample grid (its FID beside the real-data floor at the same sample count)."""

from __future__ import annotations

import math

_METRIC_WORDS = {
    "fid_mnist_classifier": "FID (MNIST-classifier features)",
    "fid_inception": "FID (Inception features)",
    "fid": "FID (Inception features)",
    "is_mnist_classifier_mean": "Inception score (MNIST classifier)",
    "inception_score": "Inception score (Inception network)",
    "test_lower_bound": "test lower bound (nats)",
    "energy_distance": "energy distance to the true distribution",
}


def metric_label(name: str) -> str:
    """`name` in words: the known metrics spelled out, any other with its underscores as spaces."""
    return _METRIC_WORDS.get(name, name.replace("_", " "))


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def score_caption(metrics: dict | None) -> str | None:
    """'MNIST-classifier FID 383.0 at 100 samples; real-data floor 55.7 +- 10.2' from a scoring.score() result, or
    None when it holds no classifier FID."""
    if not metrics or not _finite(metrics.get("fid_mnist_classifier")):
        return None
    text = f"MNIST-classifier FID {metrics['fid_mnist_classifier']:.1f}"
    if _finite(metrics.get("n_samples")):
        text += f" at {int(metrics['n_samples'])} samples"
    floor = metrics.get("fid_mnist_classifier_real_same_n")
    if _finite(floor):
        spread = metrics.get("fid_mnist_classifier_real_same_n_std")
        text += f"; real-data floor {floor:.1f}" + (f" +- {spread:.1f}" if _finite(spread) else "")
    return text
