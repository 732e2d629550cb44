"""Stage `ae_mcmc train <experiment>`: train one generative autoencoder (VAE, DVAE, AAE or DAAE) with
scorerepro.training; resumes from its last checkpoint (models/ae_mcmc/<experiment> is a persistent output).

The number of updates is epochs x (training images // batch_size) (every batch full). A run whose checkpoints were
made under other settings is moved aside to models/ae_mcmc/<experiment>.superseded/ and training starts afresh.

A run that diverges (scorerepro.training.divergence) still publishes its loss log, up to the diverged step, as
results/ae_mcmc/<experiment>/loss.csv (an output dvc.yaml declares), then raises the error again.
"""

from __future__ import annotations

import shutil

import torch

from scorerepro.core.device import resolve_device
from scorerepro.data.loading import StepBatchSampler, to_float
from scorerepro.papers.ae_mcmc.autoencoders import make_step_fn
from scorerepro.papers.ae_mcmc.experiment import experiment_settings, initial_networks
from scorerepro.papers.ae_mcmc.locations import model_dir, results_dir
from scorerepro.pipeline.common import load_train_images
from scorerepro.pipeline.divergence import write_diverged_outputs
from scorerepro.training import LoopConfig, OptimizerSpec, train_loop
from scorerepro.training.divergence import read_divergence
from scorerepro.training.train_errors import NonFiniteLossError

RESUMABLE_RECORD_KEYS = ("training.epochs", "training.snapshot_freq")


class ImageBatches:
    """The training batch of update `step`: a deterministic choice of images in [0, 1] (no augmentation)."""

    def __init__(self, images_uint8: torch.Tensor, batch_size: int, seed: int):
        self.images = images_uint8
        self.sampler = StepBatchSampler(len(images_uint8), batch_size, seed, drop_last=True)

    def batch_for_step(self, step: int, generator: torch.Generator) -> torch.Tensor:
        return to_float(self.images[self.sampler.indices(step)])


def n_updates(n_images: int, training: dict) -> int:
    per_epoch = n_images // training["batch_size"]
    if per_epoch < 1:
        raise ValueError(f"ae_mcmc training.batch_size {training['batch_size']} exceeds the {n_images} training "
                         f"images; lower it")
    return training["epochs"] * per_epoch


def optimizers(kind: str, t: dict) -> dict[str, OptimizerSpec]:
    """Adam (lr, beta1; beta2 0.999) for each update of the model (see autoencoders.make_step_fn)."""
    adam = dict(lr=t["lr"], betas=(t["beta1"], 0.999))
    specs = {"autoencoder": OptimizerSpec(params_of=("encoder", "decoder"), **adam)}
    if kind == "aae":
        specs["adversary"] = OptimizerSpec(params_of=("adversary",), **adam)
        specs["generator"] = OptimizerSpec(params_of=("encoder",), **adam)
    return specs


def run(params: dict, experiment: str) -> None:
    exp = experiment_settings(params, experiment)
    t = exp["training"]
    images = load_train_images(exp["dataset"])
    n_iters = n_updates(len(images), t)
    cfg = LoopConfig(n_iters=n_iters, batch_size=t["batch_size"], snapshot_freq=min(t["snapshot_freq"], n_iters),
                     log_freq=min(50, n_iters), seed=params["seed"], device=params["device"])
    record = {"experiment": experiment, "dataset": exp["dataset"], "kind": exp["kind"], "denoising": exp["denoising"],
              "corruption_variance": exp["corruption_variance"], "model": exp["model"], "training": t,
              "seed": params["seed"]}
    step_fn = make_step_fn(exp["kind"], exp["denoising"], exp["corruption_variance"])
    out = model_dir(experiment)
    try:
        result = train_loop(initial_networks(exp, params["seed"]), optimizers(exp["kind"], t), step_fn,
                            ImageBatches(images, t["batch_size"], params["seed"]), cfg, out, record,
                            on_mismatch="move_aside", ignore_record_keys=RESUMABLE_RECORD_KEYS)
    except NonFiniteLossError:
        publish_diverged_loss_log(experiment)
        raise
    publish_loss_log(experiment)
    print(f"ae_mcmc train {experiment}: {result.step} updates ({t['epochs']} epochs), last losses "
          f"{result.last_losses}, {result.seconds:.0f} s on {resolve_device(params['device'])}")


def publish_loss_log(experiment: str) -> None:
    """The run folder's loss.csv copied to results/ae_mcmc/<experiment>/loss.csv (atomically)."""
    res = results_dir(experiment)
    res.mkdir(parents=True, exist_ok=True)
    tmp = res / ".loss.csv.tmp"
    shutil.copyfile(model_dir(experiment) / "loss.csv", tmp)
    tmp.replace(res / "loss.csv")


def publish_diverged_loss_log(experiment: str) -> None:
    """A diverged run's loss log, its last row the diverged step's; where the run folder holds none (a run that
    diverged before its first log), the CSV names the divergence instead."""
    if (model_dir(experiment) / "loss.csv").is_file():
        publish_loss_log(experiment)
        return
    record = read_divergence(model_dir(experiment))
    if record is not None:
        write_diverged_outputs(record, [results_dir(experiment) / "loss.csv"], f"ae_mcmc train {experiment}")
