"""What seed 003's stages share: an experiment's settings (and a sweep run's), its images, its networks (the score
network and, when code-conditioned, the encoder) as training starts them, and loading them back. Training them:
training.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from scorerepro.config import experiment
from scorerepro.core.seeding import derive_seed
from scorerepro.data.loading import load_split, to_float
from scorerepro.data.registry import image_shape
from scorerepro.pipeline.paths import processed_dir
from scorerepro.papers.score_repr.locations import PAPER
from scorerepro.papers.score_repr.losses import encode
from scorerepro.papers.score_repr.nets import Encoder, ScoreUNet
from scorerepro.papers.score_repr.sde import VESDE
from scorerepro.training import load_checkpoint, load_model_weights


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


def run_seed_of(seed: int, exp: dict) -> int:
    """The seed of one run (an experiment, or a sweep run's seed) under params' `seed`."""
    return derive_seed(seed, f"{PAPER}:{exp['name']}:{exp.get('run_seed', 0)}")


def initial_networks(exp: dict, seed: int) -> dict[str, torch.nn.Module]:
    """The networks as training starts them (the same weights every time for the same settings): the baseline that
    tells what an untrained encoder's code already carries."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(run_seed_of(seed, exp), "init"))
        return build_networks(exp)


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
