"""What several stages share: the device, an experiment's network and noise levels, loading checkpoints, shard
ranges. Drawing samples lives in pipeline/batched_sampling.py, so that the train stage does not depend on the
sampler's code (each stage's code dependencies: workflow/scripts/code_deps.py)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from scorerepro.config import ParamsError, experiment, load_params
from scorerepro.noise import make_sigmas
from scorerepro.pipeline.paths import model_dir, processed_dir, results_dir

# Per-example image shape of each data source (after preprocessing).
IMAGE_SHAPES = {"mnist_embedded": (1, 28, 28), "mnist": (1, 28, 28), "cifar10": (3, 32, 32), "celeba": (3, 32, 32)}
# Sources whose images are flipped at load time (seed 000 section 3.1; official anneal_runner).
FLIPPED = {"cifar10", "celeba"}
MNIST_LIKE = {"mnist_embedded", "mnist"}


def resolve_device(params: dict) -> torch.device:
    want = params.get("device", "auto")
    if want == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda in params.yaml, but no CUDA device is visible; set device: auto or cpu")
    if want == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(want)


def sigmas_of(exp: dict) -> torch.Tensor:
    n = exp["noise"]
    return make_sigmas(n["schedule"], n["sigma_begin"], n["sigma_end"], n["num_levels"])


def model_spec(exp: dict) -> dict[str, Any]:
    """The network spec of an experiment: params' model block plus what the dataset and noise levels imply."""
    from scorerepro.models import ARCH_KEYS

    spec = copy.deepcopy(exp["model"])
    c, h, _ = IMAGE_SHAPES[exp["dataset"]]
    keys = ARCH_KEYS[spec["arch"]]
    spec.setdefault("channels", c)
    if "image_size" in keys:
        spec.setdefault("image_size", h)
    if "num_classes" in keys and spec["arch"] != "refinenet_baseline":
        spec.setdefault("num_classes", exp["noise"]["num_levels"])
    return spec


def build_score_net(exp: dict) -> torch.nn.Module:
    from scorerepro.models import build_model

    try:
        return build_model(model_spec(exp))
    except ValueError as e:
        raise ParamsError(f"experiments.{exp['name']}.model: {e}") from None


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


def shard_range(n: int, shards: list[int], shard: int) -> tuple[int, int]:
    """Items [start, stop) of shard `shard` when n items are split evenly over len(shards) jobs."""
    k = len(shards)
    if shard not in shards:
        raise ValueError(f"shard {shard} is not one of sharding.shards {shards}")
    pos = shards.index(shard)
    return (n * pos) // k, (n * (pos + 1)) // k


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats to uint8 the way a PNG writer rounds (torchvision.utils.save_image: x*255 + 0.5, clamp)."""
    return (images * 255 + 0.5).clamp(0, 255).to(torch.uint8)


def load_train_images(dataset: str, limit: int | None = None) -> torch.Tensor:
    from scorerepro.data.loading import load_split

    d = processed_dir(dataset)
    images, _ = load_split(d / "train.pt", d / "manifest.json")
    return images[:limit] if limit else images


def load_sample_shards(folder: Path) -> torch.Tensor:
    """Concatenate a sample folder's shards in shard order (uint8)."""
    files = sorted(folder.glob("shard_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    if not files:
        raise FileNotFoundError(f"no shard_*.pt in {folder}: run the sample stage first")
    return torch.cat([torch.load(f, weights_only=True)["images"] for f in files])


def model_summary(name: str | None, spec_json: str | None = None, params_path: str = "params.yaml") -> dict:
    from scorerepro.models import PRESETS, build_model, input_shape
    from scorerepro.models.summary import summarize

    if spec_json:
        spec = json.loads(spec_json)
    elif name in PRESETS:
        spec = copy.deepcopy(PRESETS[name])
    elif name:
        params = load_params(params_path)
        spec = model_spec(experiment(params, name))
    else:
        raise ValueError("give a preset name, an experiment name or --spec (see --list)")
    model = build_model(spec)
    summary = summarize(model, input_shape(spec))
    return {"name": name, "spec": model.spec, **summary}


def use_profile(profile: str, params_path: str = "params.yaml") -> None:
    src = Path("workflow/params") / f"{profile}.yaml"
    if not src.is_file():
        available = sorted(p.stem for p in Path("workflow/params").glob("*.yaml"))
        raise ValueError(f"no profile {profile!r} in workflow/params/ (available: {', '.join(available)})")
    load_params(src)  # refuse to install an invalid profile
    shutil.copyfile(src, params_path)
    print(f"params.yaml is now the {profile} profile ({src})")


__all__ = [
    "resolve_device", "sigmas_of", "model_spec", "build_score_net", "load_score_net", "shard_range", "to_uint8",
    "load_train_images", "load_sample_shards", "experiment", "model_dir",
]
