"""Stage `figures <experiment>`: uncurated sample grid (Fig. 4/5a; its title gives the evaluation's FID and the
real-data floor from metrics.json), intermediate samples at the end of each
noise level (Fig. 5d), and the training loss curve (Fig. 12). A diverging intermediate chain stops the stage with
its level and step (sampling.SamplingDivergedError), as the sample stage does."""

from __future__ import annotations

import json

import pandas as pd

from scorerepro.papers.ncsn.stages.batched_sampling import sample_batches
from scorerepro.papers.ncsn.experiment import experiment_settings, load_score_net, selected_checkpoint, sigmas_of
from scorerepro.pipeline.common import load_sample_shards, resolve_device
from scorerepro.papers.ncsn.locations import results_dir, samples_dir
from scorerepro.papers.ncsn.shard_settings import EVAL_RERUN, eval_settings
from scorerepro.plots.images import intermediate_grid, loss_curve, sample_grid

N_INTERMEDIATE = 6


def run(params: dict, experiment: str) -> None:
    exp = experiment_settings(params, experiment)
    name = exp["name"]
    res = results_dir(name)
    samples = load_sample_shards(samples_dir(name) / "eval", params["sharding"]["shards"], eval_settings(params, exp),
                                 EVAL_RERUN.format(name=name))
    sample_grid(samples, res / "fig5_samples.png", f"{name}: uncurated samples (seed 000 Fig. 4/5)",
                metrics=json.loads((res / "metrics.json").read_text()))
    device = resolve_device(params)
    net = load_score_net(exp, selected_checkpoint(exp), device)
    # Six chains run eagerly: compiling the sampler took 61 s on an H200 (benchmarks/README.md), far more than
    # six chains need.
    eager = {**exp, "sampling": {**exp["sampling"], "compile": False, "cuda_graphs": False}}
    _, snaps = sample_batches(net, eager, 0, N_INTERMEDIATE, params["seed"] + 1, device, snapshots=True,
                              batch_size=N_INTERMEDIATE, progress=False)
    intermediate_grid(snaps, sigmas_of(exp).tolist(), res / "fig5_intermediate.png",
                      f"{name}: annealed Langevin, intermediate samples")
    loss_curve(pd.read_csv(res / "fig12_loss.csv"), res / "fig12_loss.png", f"{name}: training loss")
    print(f"figures {name}: written to {res}")
