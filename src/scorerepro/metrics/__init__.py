"""Sample-quality metrics: FID and IS with pytorch-fid's FID Inception, k-NN, an MNIST classifier score.

Metric names in outputs: Inception "fid", "is_mean", "is_std" (or "is_unavailable" with the reason);
MNIST classifier "fid_mnist_classifier", "is_mnist_classifier_mean", "is_mnist_classifier_std".
The MNIST classifier lives in scorerepro.metrics.mnist_classifier (not imported here).
"""

from .features import extract_features
from .fid import compute_statistics, fid_from_features, frechet_distance, load_statistics, save_statistics
from .inception import (
    FIDInceptionV3,
    InceptionWeightsUnavailable,
    load_inception,
    preprocess_for_inception,
    resolve_inception_weights,
)
from .inception_score import (
    InceptionScoreUnavailable,
    inception_score,
    inception_score_from_features,
    is_unavailable_reason,
)
from .knn import knn

__all__ = [
    "FIDInceptionV3", "InceptionWeightsUnavailable", "InceptionScoreUnavailable",
    "compute_statistics", "extract_features", "fid_from_features", "frechet_distance", "inception_score",
    "inception_score_from_features", "is_unavailable_reason", "knn", "load_inception", "load_statistics",
    "preprocess_for_inception", "resolve_inception_weights", "save_statistics",
]
