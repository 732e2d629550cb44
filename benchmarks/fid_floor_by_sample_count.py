"""The MNIST-classifier FID of real held-out digits against the training reference, by the number of images scored:
the floor a perfect generator reaches when it is scored with that many samples. FID is biased upwards by a term
that shrinks with n, so a generator's FID means something only beside the floor at its own n (the claims gate and
the leaderboard's `fid_mnist_classifier_real_same_n` use exactly this, via `scorerepro.metrics.fid.fid_of_subsets`).

Needs the dataset's classifier (`dvc repro classifier@mnist_embedded`). Prints one RESULT line per n.

    python benchmarks/fid_floor_by_sample_count.py --dataset mnist_embedded --sizes 50,100,200,500 --repeats 5
"""

from __future__ import annotations

import argparse
import json

from scorerepro.data.loading import load_split
from scorerepro.metrics.fid import fid_of_subsets, load_statistics
from scorerepro.metrics.mnist_classifier import classifier_features, load_classifier
from scorerepro.pipeline.paths import classifier_dir, processed_dir
from scorerepro.pipeline.scoring import CLASSIFIER_FILE, CLASSIFIER_STATS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist_embedded")
    ap.add_argument("--sizes", default="50,100,200,500")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    model, _ = load_classifier(classifier_dir(args.dataset) / CLASSIFIER_FILE, device="cpu")
    ref = load_statistics(classifier_dir(args.dataset) / CLASSIFIER_STATS)
    d = processed_dir(args.dataset)
    images, _ = load_split(d / "test.pt", d / "manifest.json")
    feats = classifier_features(model, images.float() / 255.0)[0]
    for n in (int(v) for v in args.sizes.split(",")):
        floor = fid_of_subsets(feats, ref, n, repeats=args.repeats, seed=0)
        print("RESULT " + json.dumps({"dataset": args.dataset, "n": n, "n_test": len(feats), **floor}))


if __name__ == "__main__":
    main()
