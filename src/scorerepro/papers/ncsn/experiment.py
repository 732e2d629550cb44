"""What NCSN's stages share: an experiment's settings, network and noise levels, the network as training starts it,
loading checkpoints. Drawing samples lives in stages/batched_sampling.py, so that the train stage does not depend on
the sampler's code."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from scorerepro.config import ParamsError, experiment
from scorerepro.core.seeding import derive_seed
from scorerepro.data.registry import image_shape
from scorerepro.papers.ncsn.locations import PAPER, results_dir
from scorerepro.papers.ncsn.noise import make_sigmas


def experiment_settings(params: dict, name: str) -> dict[str, Any]:
    """One NCSN experiment's full settings: ncsn.defaults with the experiment's overrides laid over them."""
    return experiment(params, PAPER, name)


def sigmas_of(exp: dict) -> torch.Tensor:
    n = exp["noise"]
    return make_sigmas(n["schedule"], n["sigma_begin"], n["sigma_end"], n["num_levels"])


def model_spec(exp: dict) -> dict[str, Any]:
    """The network spec of an experiment: params' model block plus what the dataset and noise levels imply."""
    from scorerepro.papers.ncsn.nets import ARCH_KEYS

    spec = copy.deepcopy(exp["model"])
    c, h, _ = image_shape(exp["dataset"])
    keys = ARCH_KEYS[spec["arch"]]
    spec.setdefault("channels", c)
    if "image_size" in keys:
        spec.setdefault("image_size", h)
    if "num_classes" in keys and spec["arch"] != "refinenet_baseline":
        spec.setdefault("num_classes", exp["noise"]["num_levels"])
    return spec


def build_score_net(exp: dict) -> torch.nn.Module:
    from scorerepro.papers.ncsn.nets import build_model

    try:
        return build_model(model_spec(exp))
    except ValueError as e:
        raise ParamsError(f"ncsn.experiments.{exp['name']}.model (or ncsn.defaults.model): {e}") from None


def initial_networks(exp: dict, seed: int) -> dict[str, torch.nn.Module]:
    """{"model": the experiment's network} with initial weights drawn from derive_seed(seed, "init:<experiment>"):
    torch seeds its default generator at random in each process, so an unseeded build gave another network every
    run. "model" is the name the training loop gives a single network in its checkpoints."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, f"init:{exp['name']}"))
        return {"model": build_score_net(exp)}


def load_score_net(exp: dict, checkpoint: str | Path, device: torch.device) -> torch.nn.Module:
    """The experiment's network with a checkpoint's weights (EMA weights when the run kept them), eval mode."""
    from scorerepro.training import load_model_weights

    net = build_score_net(exp)
    load_model_weights(net, checkpoint, which="auto")
    return net.to(device).eval()


def selected_checkpoint(exp: dict) -> Path:
    path = results_dir(exp["name"]) / "selected.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the select stage for {exp['name']} first")
    return Path(json.loads(path.read_text())["checkpoint"])
