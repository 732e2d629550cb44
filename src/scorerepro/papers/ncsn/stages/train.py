"""Stage `ncsn train <experiment>`: train one score network with annealed DSM; resumes from its last checkpoint.

models/ncsn/<experiment>/ is a persistent output (DVC `persist: true`), so a killed run continues where it stopped.
Raising training.n_iters continues a finished run from its last checkpoint; a run whose checkpoints were made
under settings that change the model or the optimisation (e.g. `dvc exp run -S ncsn.defaults.training.lr=...`) is
moved aside to models/ncsn/<experiment>.superseded/ and training starts afresh, instead of mixing two configurations.
A run that diverges leaves diverged.json in its folder and still writes its loss table (up to the divergence) before
the error goes on to the CLI, which `--record-divergence` turns into exit 0 for the stages downstream.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from scorerepro.core.device import resolve_device
from scorerepro.data.loading import StepBatchSampler, augment_batch, to_float
from scorerepro.data.registry import is_flipped
from scorerepro.papers.ncsn.experiment import experiment_settings, initial_networks, model_spec, sigmas_of
from scorerepro.papers.ncsn.locations import model_dir, results_dir
from scorerepro.papers.ncsn.losses import dsm_loss
from scorerepro.pipeline.common import load_train_images
from scorerepro.pipeline.divergence import write_diverged_outputs
from scorerepro.training import NonFiniteLossError, TrainConfig, TrainingError, train
from scorerepro.training.divergence import error_of, read_divergence


class ImageBatches:
    """The global batch for a training step: a deterministic choice of training images, then the official
    load-time transforms (random horizontal flips for CIFAR-10/CelebA, uniform dequantisation)."""

    def __init__(self, images_uint8: torch.Tensor, batch_size: int, seed: int, flip: bool, dequantize: bool,
                 device: torch.device):
        self.images = images_uint8.to(device)
        # drop_last so every step has the full global batch, which data-parallel training splits evenly.
        self.sampler = StepBatchSampler(len(images_uint8), batch_size, seed, drop_last=True)
        self.flip, self.dequantize = flip, dequantize

    def batch_for_step(self, step: int, generator: torch.Generator) -> torch.Tensor:
        idx = self.sampler.indices(step).to(self.images.device)
        x = to_float(self.images[idx])
        return augment_batch(x, self.flip, self.dequantize, generator)


def make_loss(sigmas: torch.Tensor, anneal_power: float):
    def loss_fn(model, x, rng):
        s = sigmas.to(x.device)
        labels = rng.randint(0, len(s)).to(x.device)
        return dsm_loss(model, x, s, labels=labels, anneal_power=anneal_power, noise=rng.randn_like(x))

    return loss_fn


def train_config(params: dict, exp: dict) -> TrainConfig:
    t = exp["training"]
    return TrainConfig(
        n_iters=t["n_iters"], batch_size=t["batch_size"], lr=t["lr"], beta1=t["beta1"],
        snapshot_freq=t["snapshot_freq"], log_freq=min(100, t["snapshot_freq"]), ema_rate=t["ema_rate"],
        seed=params["seed"], device=params["device"], amp_dtype="bfloat16" if t["amp_bf16"] else None,
        channels_last=t["channels_last"], compile=t["compile"], fused_adam=t["fused_adam"],
    )


def _relaunch_with_torchrun(params: dict, name: str, gpus: int) -> None:
    """training.gpus > 1: run this same stage as `gpus` data-parallel processes (one per GPU) under torchrun."""
    import subprocess
    import sys
    import tempfile

    import yaml

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="params-", dir=".", delete=False) as f:
        yaml.safe_dump(params, f, sort_keys=False)
    try:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
               "-m", "scorerepro.cli", "ncsn", "train", name, "--params", f.name]
        print("train: " + " ".join(cmd))
        done = subprocess.run(cmd, check=False)
        diverged = read_divergence(model_dir(name))
        if done.returncode != 0 and diverged is not None:
            # The workers' divergence (torchrun exits 1 whatever their code) is this stage's: under
            # --record-divergence it exits 0, as a single process does.
            raise error_of(diverged)
        if done.returncode != 0:
            raise TrainingError(f"the {gpus} torchrun workers of `scorerepro ncsn train {name}` failed (exit code "
                                f"{done.returncode}); their own messages are printed above")
    finally:
        os.unlink(f.name)


def publish_loss_table(out: Path, name: str) -> None:
    """The run's loss.csv, also a plot output under results/ (DVC plots; seed 000 Fig. 12). A diverged run without
    a loss log (none flushed) gets the table naming its divergence instead."""
    res = results_dir(name)
    res.mkdir(parents=True, exist_ok=True)
    diverged = read_divergence(out)
    if diverged is not None and not (out / "loss.csv").is_file():
        return write_diverged_outputs(diverged, [res / "fig12_loss.csv"], f"ncsn train {name}")
    tmp = res / ".fig12_loss.csv.tmp"
    shutil.copyfile(out / "loss.csv", tmp)
    tmp.replace(res / "fig12_loss.csv")


RESUMABLE_RECORD_KEYS = ("training.n_iters", "training.snapshot_freq", "training.channels_last", "training.compile",
                         "training.fused_adam", "training.gpus")


def run(params: dict, experiment: str) -> None:
    exp = experiment_settings(params, experiment)
    name = exp["name"]
    gpus = exp["training"]["gpus"]
    if gpus > 1 and "WORLD_SIZE" not in os.environ:
        if torch.cuda.device_count() < gpus:
            raise ValueError(f"ncsn.experiments.{name}.training.gpus is {gpus} but {torch.cuda.device_count()} CUDA "
                             f"devices are visible; lower it or run where {gpus} GPUs are allocated")
        return _relaunch_with_torchrun(params, name, gpus)
    cfg = train_config(params, exp)
    record = {"experiment": name, "dataset": exp["dataset"], "model": model_spec(exp), "noise": exp["noise"],
              "training": exp["training"], "seed": params["seed"]}
    images = load_train_images(exp["dataset"])
    t = exp["training"]
    if t["flip"] and not is_flipped(exp["dataset"]):
        print(f"note: training.flip is on for {exp['dataset']}, which the official code does not flip")
    # Under torchrun each process holds the data on the GPU of its local rank.
    device = resolve_device(cfg.device, local_rank=int(os.environ.get("LOCAL_RANK", 0)))
    data = ImageBatches(images, cfg.batch_size, params["seed"], t["flip"], t["dequantize"], device)
    loss_fn = make_loss(sigmas_of(exp), t["anneal_power"])
    out = model_dir(name)
    # Settings that change neither the model nor the optimisation may differ between a run and its continuation
    # (raising n_iters extends a finished run); any other change moves the old run aside and starts afresh.
    try:
        result = train(initial_networks(exp, params["seed"])["model"], loss_fn, data, cfg, out, record,
                       on_mismatch="move_aside", ignore_record_keys=RESUMABLE_RECORD_KEYS)
    except NonFiniteLossError:
        # A diverged run is a result too (--record-divergence): its loss table up to the divergence is the plot
        # output DVC expects of this stage.
        if int(os.environ.get("RANK", 0)) == 0:
            publish_loss_table(out, name)
        raise
    if int(os.environ.get("RANK", 0)) != 0:
        return
    publish_loss_table(out, name)
    print(f"train {name}: {result.step} iterations, last loss {result.last_loss}, {result.seconds:.0f} s")
