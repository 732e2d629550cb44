"""What seed 003's stages share: an experiment's settings, its images, its networks, training them with
scorerepro.training (networks "score" and, when code-conditioned, "encoder"), and loading them back."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from scorerepro.config import experiment
from scorerepro.core.seeding import derive_seed
from scorerepro.data.loading import StepBatchSampler, load_split, to_float
from scorerepro.data.registry import image_shape
from scorerepro.pipeline.paths import processed_dir
from scorerepro.papers.score_repr.locations import PAPER
from scorerepro.papers.score_repr.losses import dsm_per_example, encode, sample_t
from scorerepro.papers.score_repr.nets import Encoder, ScoreUNet
from scorerepro.papers.score_repr.sde import VESDE
from scorerepro.training import LoopConfig, OptimizerSpec, load_checkpoint, load_model_weights, train_loop

# Settings that may change between a run and its continuation (how long and how often to save).
RESUMABLE_RECORD_KEYS = ("training.snapshot_freq",)


def resumable_record_keys(training: dict) -> tuple[str, ...]:
    """The record keys a finished run may differ in and still be continued. n_iters ends the first phase, so it
    may grow only when no fine-tuning phase follows it; with one, fine-tuning may grow while n_iters stays."""
    phase = "training.n_iters" if training["finetune_iters"] == 0 else "training.finetune_iters"
    return (*RESUMABLE_RECORD_KEYS, phase)


def experiment_settings(params: dict, name: str) -> dict[str, Any]:
    return experiment(params, PAPER, name)


def sweep_settings(params: dict, t: float, seed: int) -> dict[str, Any]:
    """One single-t run of the silhouette sweep (section 3.2.2): the sweep's settings with t fixed."""
    sweep = params[PAPER]["sweep"]
    exp = {"name": f"t{t:g}_seed{seed}", "dataset": sweep["dataset"], "data": copy.deepcopy(sweep["data"]),
           "model": copy.deepcopy(sweep["model"]), "training": copy.deepcopy(sweep["training"]),
           "run_seed": int(seed)}
    exp["training"].update({"t_mode": "fixed", "fixed_t": float(t), "finetune_iters": 0})
    return exp


def set_threads(params: dict) -> None:
    """torch's intra-op threads for this paper's stages (score_repr.threads): its networks are so small that a
    second thread gains little, and on a busy machine idle-spinning threads cost several times the CPU."""
    torch.set_num_threads(params[PAPER]["threads"])


def make_sde(params: dict) -> VESDE:
    s = params[PAPER]["sde"]
    return VESDE(s["sigma_min"], s["sigma_max"])


def load_images(dataset: str, split: str, pool: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """[0, 1] float images of a split, average-pooled by `pool` (1: as stored), and their labels."""
    d = processed_dir(dataset)
    images, labels = load_split(d / f"{split}.pt", d / "manifest.json")
    x = to_float(images)
    return (F.avg_pool2d(x, pool) if pool > 1 else x), labels


def shape_of(exp: dict) -> tuple[int, int, int]:
    c, h, w = image_shape(exp["dataset"])
    p = exp["data"]["pool"]
    return c, h // p, w // p


def build_networks(exp: dict) -> dict[str, torch.nn.Module]:
    m = exp["model"]
    c = shape_of(exp)[0]
    nets: dict[str, torch.nn.Module] = {"score": ScoreUNet(c, m["widths"], m["blocks"], m["code_dim"])}
    if m["code_dim"] > 0:
        nets["encoder"] = Encoder(c, m["widths"], m["blocks"], m["code_dim"], m["regulariser"] == "kl")
    return nets


def run_seed_of(params: dict, exp: dict) -> int:
    return derive_seed(params["seed"], f"{PAPER}:{exp['name']}:{exp.get('run_seed', 0)}")


def initial_networks(params: dict, exp: dict) -> dict[str, torch.nn.Module]:
    """The networks as training starts them (the same weights every time for the same settings): the baseline that
    tells what an untrained encoder's code already carries."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(run_seed_of(params, exp), "init"))
        return build_networks(exp)


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
    seed = run_seed_of(params, exp)
    images, _ = load_images(exp["dataset"], "train", exp["data"]["pool"])
    nets = initial_networks(params, exp)
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


def load_networks(exp: dict, out_dir: Path) -> dict[str, torch.nn.Module]:
    """The trained networks of a finished run, in eval mode on the CPU."""
    ckpt = load_checkpoint(out_dir / "final.pt")
    nets = build_networks(exp)
    for name, net in nets.items():
        load_model_weights(net, ckpt, which="model", network=name)
        net.eval()
    return nets


@torch.no_grad()
def codes_of(encoder, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """The code of each image (the mean for a probabilistic encoder)."""
    return torch.cat([encode(encoder, images[i:i + batch])[0] for i in range(0, len(images), batch)])
