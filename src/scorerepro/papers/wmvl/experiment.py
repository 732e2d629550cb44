"""One WMVL autoencoder experiment's settings (wmvl.defaults with its overrides), its images, and its networks as
training starts them."""

from __future__ import annotations

import torch

from scorerepro.config import experiment
from scorerepro.core.seeding import derive_seed
from scorerepro.data.loading import load_split
from scorerepro.papers.wmvl.autoencoders import build_networks
from scorerepro.papers.wmvl.locations import PAPER
from scorerepro.pipeline.paths import processed_dir


def experiment_settings(params: dict, name: str) -> dict:
    return experiment(params, PAPER, name)


def load_images(dataset: str, split: str) -> torch.Tensor:
    """A split's images as flat [0, 1] floats (the MLP autoencoders' input)."""
    images, _ = load_split(processed_dir(dataset) / f"{split}.pt")
    return images.float().div(255).flatten(1)


def initial_networks(exp: dict, seed: int) -> dict[str, torch.nn.Module]:
    """The experiment's networks with initial weights drawn from derive_seed(seed, "init:wmvl:<experiment>"): the
    same weights every time for the same settings (evaluate builds the trained ones on them)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, f"init:wmvl:{exp['name']}"))
        m = exp["model"]
        return build_networks(m["kind"], m["latent"], m["latent_dim"], m["hidden"])
