"""Stage `reference-stats <dataset>`: Inception pool3 statistics (mu, sigma) of the training split, computed once
and reused by every FID of that dataset. A dataset with `datasets.<name>.inception_reference: false` gets only a
reference.json saying so (scoring.inception_reference_file then refuses it by that key)."""

from __future__ import annotations

import torch

from scorerepro.core.fileio import save_torch, write_json
from scorerepro.metrics.fid import compute_statistics, save_statistics
from scorerepro.pipeline.common import load_train_images, resolve_device
from scorerepro.pipeline.paths import reference_dir
from scorerepro.pipeline.scoring import INCEPTION_FEATURES, INCEPTION_STATS, inception_features, inception_info


def run(params: dict, dataset: str) -> None:
    out = reference_dir(dataset)
    if not params["datasets"][dataset].get("inception_reference", True):
        write_json(out / "reference.json", {"dataset": dataset, "inception_reference": False})
        print(f"reference-stats {dataset}: skipped (datasets.{dataset}.inception_reference is false)")
        return
    limit = params["inception"]["reference_max_images"]
    images = load_train_images(dataset, limit=limit)
    device = resolve_device(params)
    feats = inception_features(images, params["inception"]["batch_size"], device)
    mu, sigma = compute_statistics(feats["pool3"])
    # The features themselves too: the neighbours stage searches Inception space without a second pass.
    save_torch(out / INCEPTION_FEATURES, torch.as_tensor(feats["pool3"]).to(torch.float16))
    meta = {"dataset": dataset, "split": "train", "n_images": int(images.shape[0]),
            "limited_to": limit, "weights_source": inception_info().get("source")}
    save_statistics(out / INCEPTION_STATS, mu, sigma, meta=meta)
    write_json(out / "reference.json", meta)
    print(f"reference-stats {dataset}: Inception statistics of {images.shape[0]} training images")
