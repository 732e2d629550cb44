"""Stage `evaluate <experiment>`: IS and FID of the merged samples against the training split's reference
statistics; results/<experiment>/metrics.json (DVC metrics), or the training's divergence where the shards carry
one."""

from __future__ import annotations

import json

from scorerepro.core.fileio import write_json
from scorerepro.papers.ncsn.divergence import shards_divergence
from scorerepro.papers.ncsn.experiment import experiment_settings
from scorerepro.papers.ncsn.locations import results_dir, samples_dir
from scorerepro.papers.ncsn.shard_settings import EVAL_RERUN, eval_settings
from scorerepro.pipeline.common import load_sample_shards, resolve_device
from scorerepro.pipeline.divergence import write_diverged_outputs
from scorerepro.pipeline.paths import reference_dir
from scorerepro.pipeline.scoring import score


def run(params: dict, experiment: str) -> None:
    exp = experiment_settings(params, experiment)
    name = exp["name"]
    diverged = shards_divergence(samples_dir(name) / "eval", params["sharding"]["shards"])
    if diverged is not None:
        return write_diverged_outputs(diverged, [results_dir(name) / "metrics.json"], f"ncsn evaluate {name}")
    images = load_sample_shards(samples_dir(name) / "eval", params["sharding"]["shards"], eval_settings(params, exp),
                                EVAL_RERUN.format(name=name))
    if images.shape[0] != exp["eval"]["n_samples"]:
        raise ValueError(f"{samples_dir(name) / 'eval'} holds {images.shape[0]} samples, expected "
                         f"eval.n_samples={exp['eval']['n_samples']}: rerun the sample stage")
    device = resolve_device(params)
    metrics = score(images, exp["dataset"], params, device, inception=exp["eval"]["inception"])
    selected = json.loads((results_dir(name) / "selected.json").read_text())
    reference_images = None
    if exp["eval"]["inception"]:
        reference_images = json.loads((reference_dir(exp["dataset"]) / "reference.json").read_text())["n_images"]
    metrics.update({
        "experiment": name, "profile": params["profile"], "dataset": exp["dataset"],
        "selected_iteration": selected["iteration"], "reference_images": reference_images,
    })
    if not exp["eval"]["inception"]:
        metrics["fid_inception_skipped"] = "eval.inception is false for this experiment"
    write_json(results_dir(name) / "metrics.json", metrics)
    shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}
    print(f"evaluate {name}: {shown}")
