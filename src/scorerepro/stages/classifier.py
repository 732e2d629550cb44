"""Stage `train-classifier <dataset>`: the MNIST classifier behind `fid_mnist_classifier`/`is_mnist_classifier`
(Inception features fit 28x28 digits poorly; this is the usual MNIST practice beside Inception FID).

For datasets other than MNIST the stage records that the metric does not apply, so every dataset has the same
outputs and the DAG stays uniform."""

from __future__ import annotations

from scorerepro.core.fileio import write_json
from scorerepro.data.loading import load_split
from scorerepro.data.registry import is_mnist_like
from scorerepro.metrics.fid import compute_statistics, save_statistics
from scorerepro.pipeline.common import resolve_device
from scorerepro.pipeline.paths import classifier_dir, classifier_results_dir, processed_dir
from scorerepro.pipeline.scoring import CLASSIFIER_FILE, CLASSIFIER_INFO, CLASSIFIER_STATS


def run(params: dict, dataset: str) -> None:
    out = classifier_dir(dataset)
    metrics_path = classifier_results_dir(dataset) / "metrics.json"
    if not is_mnist_like(dataset):
        record = {"dataset": dataset, "applicable": False,
                  "reason": "the MNIST classifier metric applies to MNIST digits only"}
        write_json(out / CLASSIFIER_INFO, record)
        write_json(metrics_path, record)
        print(f"train-classifier {dataset}: not applicable")
        return
    from scorerepro.metrics.mnist_classifier import (classifier_features, classifier_scores, save_classifier,
                                                     train_classifier)

    d = processed_dir(dataset)
    xtr, ytr = load_split(d / "train.pt", d / "manifest.json")
    xte, yte = load_split(d / "test.pt", d / "manifest.json")
    c = params["classifier"]
    device = resolve_device(params)
    model, metrics = train_classifier(xtr.float() / 255, ytr, xte.float() / 255, yte, epochs=c["epochs"],
                                      seed=params["seed"], device=device, batch_size=c["batch_size"], lr=c["lr"],
                                      augment=c["augment"], progress=True)
    feats, _ = classifier_features(model, xtr.float() / 255)
    mu, sigma = compute_statistics(feats)
    # Real held-out digits scored like generated ones: the floor a perfect generator would reach at this size.
    floor = classifier_scores(model, xte.float() / 255, (mu, sigma))
    save_statistics(out / CLASSIFIER_STATS, mu, sigma, meta={"dataset": dataset, "split": "train",
                                                              "n_images": int(xtr.shape[0])})
    save_classifier(out / CLASSIFIER_FILE, model, metrics)
    record = {"dataset": dataset, "applicable": True, "n_train": int(xtr.shape[0]), "n_test": int(xte.shape[0]),
              **{k: v for k, v in metrics.items() if isinstance(v, (int, float, str))},
              **{f"{k}_test_split": v for k, v in floor.items()}}
    write_json(out / CLASSIFIER_INFO, record)
    write_json(metrics_path, record)
    print(f"train-classifier {dataset}: test accuracy {metrics.get('test_accuracy')}")
