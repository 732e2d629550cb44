"""One autoencoder experiment's settings (ae_mcmc.defaults with its overrides), its networks as training starts them,
and its trained networks."""

from __future__ import annotations

import torch

from scorerepro.config import experiment
from scorerepro.core.seeding import derive_seed
from scorerepro.data import registry
from scorerepro.papers.ae_mcmc.autoencoders import build_networks
from scorerepro.papers.ae_mcmc.locations import PAPER, model_dir
from scorerepro.training import FINAL_NAME, load_checkpoint, load_model_weights


def experiment_settings(params: dict, name: str) -> dict:
    return experiment(params, PAPER, name)


def image_shape(exp: dict) -> tuple[int, int, int]:
    return tuple(registry.image_shape(exp["dataset"]))


def initial_networks(exp: dict, seed: int) -> dict[str, torch.nn.Module]:
    """The experiment's networks with initial weights drawn from derive_seed(seed, "init:ae_mcmc:<experiment>"): the
    same weights every time for the same settings."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, f"init:ae_mcmc:{exp['name']}"))
        return build_networks(exp, image_shape(exp))


def load_trained(params: dict, name: str, device: torch.device) -> tuple[dict, dict[str, torch.nn.Module]]:
    """(settings, {network: trained module}) from models/ae_mcmc/<name>/final.pt."""
    exp = experiment_settings(params, name)
    path = model_dir(name) / FINAL_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `scorerepro ae_mcmc train {name}` first")
    nets = build_networks(exp, image_shape(exp))
    ckpt = load_checkpoint(path)
    for key, net in nets.items():
        load_model_weights(net, ckpt, which="model", network=key)
        net.to(device)
    return exp, nets
