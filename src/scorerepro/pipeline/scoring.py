"""Scoring generated images the same way in every stage (select, evaluate, sensitivity).

Metric names say what they are: `fid_inception` / `is_inception_*` use pytorch-fid's FID Inception (TF 2015
graph); `fid_mnist_classifier` / `is_mnist_classifier_*` use the small MNIST classifier the pipeline trains, and
are never to be compared with Inception numbers. `fid_mnist_classifier_real_same_n` is the floor for that FID: real
held-out images scored the same way at the same sample count (FID's bias shrinks with n, so a floor taken at another
n says nothing about a generator's distance from the data).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from scorerepro.pipeline.paths import classifier_dir, inception_dir, processed_dir, reference_dir

INCEPTION_STATS = "inception_train.npz"
INCEPTION_FEATURES = "inception_train_pool3.pt"
CLASSIFIER_FILE = "classifier.pt"
CLASSIFIER_STATS = "classifier_train.npz"
CLASSIFIER_INFO = "classifier.json"


def inception_info() -> dict[str, Any]:
    path = inception_dir() / "inception_weights.json"
    if not path.is_file():
        from scorerepro.metrics.inception import InceptionWeightsMissing

        raise InceptionWeightsMissing(f"{path} is missing: run `scorerepro inception_weights` (stage "
                                      f"inception_weights)")
    info = json.loads(path.read_text())
    info["weights_path"] = str(inception_dir() / info["path"])
    return info


@lru_cache(maxsize=2)
def _inception(device: str):
    from scorerepro.metrics.inception import load_inception

    return load_inception(inception_info()["weights_path"], device=device)


def inception_features(images_uint8: torch.Tensor, batch_size: int, device: torch.device) -> dict[str, Any]:
    from scorerepro.metrics.features import extract_features

    model = _inception(str(device))
    return extract_features(images_uint8.float() / 255.0, model, batch_size=batch_size, device=device)


def has_classifier(dataset: str) -> bool:
    return (classifier_dir(dataset) / CLASSIFIER_FILE).is_file()


def inception_reference_file(dataset: str, name: str) -> Path:
    """A file of the dataset's Inception reference (reference_stats stage), or an error that says why it is missing
    and what to run."""
    path = reference_dir(dataset) / name
    if path.is_file():
        return path
    record = reference_dir(dataset) / "reference.json"
    if record.is_file() and json.loads(record.read_text()).get("inception_reference", True) is False:
        raise FileNotFoundError(f"{path} is missing: datasets.{dataset}.inception_reference is false in params.yaml, "
                                f"so no Inception reference was computed. Set it to true and run `scorerepro "
                                f"reference_stats {dataset}` (or `dvc repro`)")
    if record.is_file():
        raise FileNotFoundError(f"{path} is missing beside its {record.name} (deleted or never finished): rerun "
                                f"`scorerepro reference_stats {dataset}` (`dvc repro --force reference_stats@{dataset}`)")
    raise FileNotFoundError(f"{path} is missing: run `scorerepro reference_stats {dataset}` (or `dvc repro`)")


def score(images_uint8: torch.Tensor, dataset: str, params: dict, device: torch.device, *, inception: bool,
          classifier: bool = True, is_splits: int = 10) -> dict[str, Any]:
    """Metrics of generated images against the dataset's training-split reference statistics."""
    from scorerepro.metrics.fid import fid_from_features, fid_of_subsets, load_statistics

    out: dict[str, Any] = {"n_samples": int(images_uint8.shape[0])}
    if inception:
        from scorerepro.metrics.inception_score import inception_score_from_features

        ref_path = inception_reference_file(dataset, INCEPTION_STATS)  # before the costly features
        feats = inception_features(images_uint8, params["inception"]["batch_size"], device)
        out["fid_inception"] = fid_from_features(feats["pool3"], load_statistics(ref_path))
        is_res = inception_score_from_features(feats, splits=is_splits)
        if "is_unavailable" in is_res:
            out["is_inception_unavailable"] = is_res["is_unavailable"]
        else:
            out["is_inception_mean"], out["is_inception_std"] = is_res["is_mean"], is_res["is_std"]
        out["inception_weights_source"] = inception_info().get("source")
    if classifier and has_classifier(dataset):
        from scorerepro.metrics.mnist_classifier import classifier_scores, load_classifier

        model, _ = load_classifier(classifier_dir(dataset) / CLASSIFIER_FILE, device=device)
        ref = load_statistics(classifier_dir(dataset) / CLASSIFIER_STATS)
        out.update(classifier_scores(model, images_uint8.float() / 255.0, ref, splits=is_splits))
        floor = fid_of_subsets(_real_test_features(model, dataset, str(device)), ref, out["n_samples"])
        out["fid_mnist_classifier_real_same_n"] = floor["mean"]
        out["fid_mnist_classifier_real_same_n_std"] = floor["std"]
        out["fid_mnist_classifier_real_n_used"] = floor["n_used"]
    return out


_TEST_FEATURES: dict[tuple[str, str], Any] = {}


def _real_test_features(model, dataset: str, device: str):
    """Classifier features of the dataset's held-out test split (once per process): the real images the floor at a
    generator's sample count is drawn from."""
    key = (dataset, device)
    if key not in _TEST_FEATURES:
        from scorerepro.data.loading import load_split
        from scorerepro.metrics.mnist_classifier import classifier_features

        d = processed_dir(dataset)
        images, _ = load_split(d / "test.pt", d / "manifest.json")
        _TEST_FEATURES[key] = classifier_features(model, images.float() / 255.0)[0]
    return _TEST_FEATURES[key]
