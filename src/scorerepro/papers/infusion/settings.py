"""The settings stages build from params.yaml `infusion:` (model, schedule, training), and the locations of its
outputs."""

from __future__ import annotations

import torch

from scorerepro.pipeline import paths
from scorerepro.papers.infusion.model import InfusionModel, Schedule

PAPER = "infusion"
RESULTS = paths.paper_results_dir(PAPER)  # results/infusion
MAIN = "main"


def model_dir(name: str = MAIN):
    return paths.model_dir(PAPER, name)


def sweep_dir():
    return paths.model_dir(PAPER, "sweep")


def samples_dir():
    return paths.samples_dir(PAPER, MAIN)


def schedule_of(block: dict) -> Schedule:
    return Schedule(block["schedule"], float(block["alpha0"]), float(block["omega"]), int(block["n_steps"]))


def build_model(block: dict, dim: int, seed: int) -> InfusionModel:
    """The network with initial weights drawn from a fixed seed (torch's default generator is not)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return InfusionModel(dim, block["hidden"], block["layers"], block["n_steps"], block["beta"], block["eps"])


def describe(block: dict) -> str:
    s = block
    rate = (f"alpha(t) = {s['alpha0']:g} + {s['omega']:g} t" if s["schedule"] == "increasing"
            else f"constant alpha {s['alpha0']:g}")
    return (f"T={s['n_steps']}, {rate}, {s['layers']}x{s['hidden']} ReLU units with per-step BN, "
            f"{s['objective']} objective, {s['training']['n_iters']} iterations of batch {s['training']['batch_size']}")
