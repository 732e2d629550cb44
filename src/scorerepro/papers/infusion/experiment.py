"""One infusion model's settings (params.yaml `infusion.model` for the main model; stages/sweep.py lays each Table 4
cell over it), the schedule and description they imply, and the network as training starts it."""

from __future__ import annotations

import copy

import torch

from scorerepro.core.seeding import derive_seed
from scorerepro.papers.infusion.locations import PAPER
from scorerepro.papers.infusion.model import InfusionModel, Schedule


def experiment_settings(params: dict) -> dict:
    """The main model's settings: the paper has one model, so there is nothing to merge."""
    return copy.deepcopy(params[PAPER]["model"])


def schedule_of(block: dict) -> Schedule:
    return Schedule(block["schedule"], float(block["alpha0"]), float(block["omega"]), int(block["n_steps"]))


def initial_networks(block: dict, dim: int, seed: int, name: str) -> dict[str, InfusionModel]:
    """{"model": the network with initial weights drawn from derive_seed(seed, "init:<name>")} (torch's default
    generator is seeded at random in each process). `dim`: pixels per image of the data it is trained on."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, f"init:{name}"))
        return {"model": InfusionModel(dim, block["hidden"], block["layers"], block["n_steps"], block["beta"],
                                       block["eps"])}


def describe(block: dict) -> str:
    s = block
    rate = (f"alpha(t) = {s['alpha0']:g} + {s['omega']:g} t" if s["schedule"] == "increasing"
            else f"constant alpha {s['alpha0']:g}")
    return (f"T={s['n_steps']}, {rate}, {s['layers']}x{s['hidden']} ReLU units with per-step BN, "
            f"{s['objective']} objective, {s['training']['n_iters']} iterations of batch {s['training']['batch_size']}")
