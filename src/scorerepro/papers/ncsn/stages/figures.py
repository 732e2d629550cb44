"""Stage `figures <experiment>`: uncurated sample grid (Fig. 4/5a; its title gives the evaluation's FID and the
real-data floor from metrics.json), intermediate samples at the end of each
noise level (Fig. 5d), and the training loss curve (Fig. 12). A diverging intermediate chain stops the stage with
its level and step (sampling.SamplingDivergedError), as the sample stage does. A model whose training diverged has
no samples to draw: the sample figures say so, and the loss curve shows the losses up to the divergence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from scorerepro.papers.ncsn.stages.batched_sampling import sample_batches
from scorerepro.papers.ncsn.experiment import experiment_settings, load_score_net, selected_checkpoint, sigmas_of
from scorerepro.pipeline.common import load_sample_shards, resolve_device
from scorerepro.papers.ncsn.locations import model_dir, results_dir, samples_dir
from scorerepro.papers.ncsn.shard_settings import EVAL_RERUN, eval_settings
from scorerepro.pipeline.divergence import upstream_divergence, write_diverged_outputs
from scorerepro.plots.images import intermediate_grid, loss_curve, sample_grid
from scorerepro.training.divergence import Divergence

N_INTERMEDIATE = 6


def run(params: dict, experiment: str) -> None:
    exp = experiment_settings(params, experiment)
    name = exp["name"]
    res = results_dir(name)
    diverged = upstream_divergence(model_dir(name), res / "selected.json", res / "metrics.json")
    if diverged is not None:
        return _diverged_figures(res, name, diverged)
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


def _diverged_figures(res: Path, name: str, diverged: Divergence) -> None:
    """No samples to draw; the loss curve up to the divergence (train's loss table) where it has a finite loss."""
    stage = f"ncsn figures {name}"
    write_diverged_outputs(diverged, [res / "fig5_samples.png", res / "fig5_intermediate.png"], stage)
    table = pd.read_csv(res / "fig12_loss.csv")
    if "loss" not in table or not any(math.isfinite(v) and v > 0 for v in table["loss"]):
        return write_diverged_outputs(diverged, [res / "fig12_loss.png"], stage)
    loss_curve(table, res / "fig12_loss.png", f"{name}: training loss, diverged at step {diverged.step} "
               f"of {diverged.n_iters}")
