"""Training one seed 003 run (an experiment or a sweep run) with scorerepro.training: networks "score" and, when
code-conditioned, "encoder"; resumes from its last checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from scorerepro.data.loading import StepBatchSampler
from scorerepro.papers.score_repr.experiment import initial_networks, load_images, make_sde, run_seed_of
from scorerepro.papers.score_repr.locations import PAPER
from scorerepro.papers.score_repr.losses import dsm_per_example, encode, sample_t
from scorerepro.training import LoopConfig, OptimizerSpec, train_loop

# Settings that may change between a run and its continuation (how long and how often to save).
RESUMABLE_RECORD_KEYS = ("training.snapshot_freq",)


def resumable_record_keys(training: dict) -> tuple[str, ...]:
    """The record keys a finished run may differ in and still be continued. n_iters ends the first phase, so it
    may grow only when no fine-tuning phase follows it; with one, fine-tuning may grow while n_iters stays."""
    phase = "training.n_iters" if training["finetune_iters"] == 0 else "training.finetune_iters"
    return (*RESUMABLE_RECORD_KEYS, phase)


class ImageBatches:
    def __init__(self, images: torch.Tensor, batch_size: int, seed: int):
        self.images = images
        self.sampler = StepBatchSampler(len(images), batch_size, seed, drop_last=True)

    def batch_for_step(self, step: int, generator: torch.Generator) -> torch.Tensor:
        return self.images[self.sampler.indices(step)]


def train_experiment(params: dict, exp: dict, out_dir: Path, progress: bool = True):
    """Train an experiment's networks into out_dir (resuming from its last checkpoint). uniform_sigma runs
    training.n_iters steps with sigma uniform, then finetune_iters with t uniform and the encoder frozen."""
    t = exp["training"]
    sde = make_sde(params)
    t_eps = params[PAPER]["sde"]["t_eps"]
    seed = run_seed_of(params["seed"], exp)
    images, _ = load_images(exp["dataset"], "train", exp["data"]["pool"])
    nets = initial_networks(exp, params["seed"])
    conditional = "encoder" in nets
    reg_scale = 2.0 * exp["model"]["reg_weight"] / images[0].numel()
    first_phase = t["n_iters"]

    def step_fn(ctx):
        x0 = ctx.batch
        u = ctx.rng.rand()
        finetuning = ctx.step > first_phase
        mode = "uniform_t" if finetuning else t["t_mode"]
        tt = sample_t(sde, mode, u, t_eps, t.get("fixed_t"))
        noise = ctx.rng.randn_like(x0)
        reg = x0.new_zeros(())
        z = None
        if conditional:
            code_noise = ctx.rng.randn(exp["model"]["code_dim"]) if exp["model"]["regulariser"] == "kl" else None
            if finetuning:
                with torch.no_grad():
                    z, _ = encode(ctx.nets["encoder"], x0, code_noise)
            else:
                z, r = encode(ctx.nets["encoder"], x0, code_noise)
                reg = r.mean() * reg_scale
        dsm = dsm_per_example(ctx.nets["score"], sde, x0, tt, noise, z).mean()
        loss = dsm + reg
        ctx.update("adam", loss)
        return {"loss": loss.detach(), "dsm": dsm.detach()}

    cfg = LoopConfig(n_iters=t["n_iters"] + t["finetune_iters"], batch_size=t["batch_size"],
                     snapshot_freq=min(t["snapshot_freq"], t["n_iters"] + t["finetune_iters"]),
                     log_freq=50, seed=seed, device=params["device"], progress=progress)
    spec = {"adam": OptimizerSpec(params_of=tuple(nets), lr=t["lr"], betas=(0.9, 0.999), eps=1e-8)}
    record = {"experiment": exp["name"], "dataset": exp["dataset"], "data": exp["data"], "model": exp["model"],
              "training": t, "sde": params[PAPER]["sde"], "seed": params["seed"], "run_seed": exp.get("run_seed", 0)}
    data = ImageBatches(images, t["batch_size"], seed)
    return train_loop(nets, spec, step_fn, data, cfg, out_dir, record, on_mismatch="move_aside",
                      ignore_record_keys=resumable_record_keys(t))
