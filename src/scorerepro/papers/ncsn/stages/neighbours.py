"""Stage `neighbours <experiment>`: the k nearest training images of generated samples, in pixel L2 (seed 000
Fig. 6) and in Inception pool3 space (the NCSN authors' later version), exact and batched.

For datasets trained with random horizontal flips (CIFAR-10, CelebA), a sample may reproduce a training image
mirrored, so in Inception space a training image's distance is the smaller of the sample's and its mirror
image's, as in NCSNv2's evaluation/nearest_neighbor.py. Pixel L2 follows seed 000 (no flip). MNIST: no flip.
Shards that carry a diverged training's record give outputs that carry it too."""

from __future__ import annotations

import torch

from scorerepro.core.fileio import write_json
from scorerepro.data.registry import is_flipped
from scorerepro.metrics.knn import knn, knn_min_over_views
from scorerepro.papers.ncsn.divergence import shards_divergence
from scorerepro.papers.ncsn.experiment import experiment_settings
from scorerepro.papers.ncsn.locations import results_dir, samples_dir
from scorerepro.papers.ncsn.shard_settings import EVAL_RERUN, eval_settings
from scorerepro.plots.images import neighbours_figure
from scorerepro.pipeline.common import load_sample_shards, load_train_images, resolve_device
from scorerepro.pipeline.divergence import write_diverged_outputs
from scorerepro.pipeline.scoring import INCEPTION_FEATURES, inception_features, inception_reference_file


def run(params: dict, experiment: str) -> None:
    exp = experiment_settings(params, experiment)
    name, cfg = exp["name"], exp["neighbours"]
    res = results_dir(name)
    diverged = shards_divergence(samples_dir(name) / "eval", params["sharding"]["shards"])
    if diverged is not None:
        return write_diverged_outputs(diverged, [res / "fig6_neighbours.png", res / "neighbours.json"],
                                      f"ncsn neighbours {name}")
    device = resolve_device(params)
    queries = load_sample_shards(samples_dir(name) / "eval", params["sharding"]["shards"], eval_settings(params, exp),
                                 EVAL_RERUN.format(name=name))[: cfg["n_samples"]]
    train = load_train_images(exp["dataset"])
    k = cfg["k"]
    pix_d, pix_i = knn(queries.float().flatten(1) / 255, train.float().flatten(1) / 255, k=k, device=device)
    flip = is_flipped(exp["dataset"])
    batch = params["inception"]["batch_size"]
    views = [inception_features(queries, batch, device)["pool3"]]
    if flip:
        views.append(inception_features(queries.flip(-1), batch, device)["pool3"])
    # The reference stage's features: the first inception.reference_max_images training images (all when null).
    t_feat = torch.load(inception_reference_file(exp["dataset"], INCEPTION_FEATURES), weights_only=True).float()
    inc_d, inc_i, inc_view = knn_min_over_views(views, t_feat, k=k, device=device)
    record = {"experiment": name, "k": k, "n_queries": len(queries), "n_train_pixel": len(train),
              "n_train_inception": len(t_feat), "inception_flip": flip,
              "pixel_l2": {"indices": pix_i.tolist(), "distances": pix_d.tolist()},
              "inception_pool3": {"indices": inc_i.tolist(), "distances": inc_d.tolist(),
                                  "reached_by_mirrored_sample": (inc_view == 1).tolist()}}
    inc_label = f"Inception pool3{', sample or its mirror' if flip else ''} ({len(t_feat)} training images)"
    neighbours_figure(queries, {f"pixel L2 ({len(train)} training images)": train[pix_i],
                                inc_label: train[inc_i]},
                      res / "fig6_neighbours.png", f"{name}: nearest training images of samples")
    write_json(res / "neighbours.json", record)
    print(f"neighbours {name}: {len(queries)} samples x {len(train)} training images, k={k}")
