"""What several stages share: the device, an experiment's network and noise levels, loading checkpoints, and
drawing samples in reproducible, shardable batches."""

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


def sampling_score_net(net: torch.nn.Module, sampling: dict, device: torch.device):
    """`net` as the sampler calls it under params' sampling speed options (all off by default):

    - ``channels_last``: weights (and, in :func:`sample_batches`, the chain's state) in NHWC, the layout cuDNN's
      tensor-core convolutions prefer;
    - ``compile``: ``torch.compile(net, dynamic=False)``: inductor fuses the RefineNet's memory-bound instance
      norm / ELU / pooling kernels (the shape is fixed: every batch is full-size, see sample_batches);
    - ``cuda_graphs`` (needs ``compile``): compile mode "reduce-overhead", which replays each evaluation as one CUDA
      graph instead of launching its hundreds of kernels one by one. The compiled output is overwritten by the next
      evaluation; annealed_langevin consumes it at once.

    None of them changes the random numbers or the update rule; bf16 autocast is ``amp_bf16``, applied around the
    whole sampler in :func:`sample_batches`."""
    if sampling.get("cuda_graphs") and not sampling.get("compile"):
        raise ParamsError("sampling.cuda_graphs: true needs sampling.compile: true (CUDA graphs come from "
                          "torch.compile's reduce-overhead mode)")
    if sampling.get("channels_last"):
        net = net.to(memory_format=torch.channels_last)
    if sampling.get("compile"):
        mode = "reduce-overhead" if sampling.get("cuda_graphs") and device.type == "cuda" else None
        print(f"sampling: compiling the score network (torch.compile, mode={mode or 'default'}); the first batch "
              f"includes the compilation (minutes for a RefineNet)")
        return torch.compile(net, dynamic=False, mode=mode)
    return net


def sample_batches(net, exp: dict, start: int, stop: int, seed: int, device: torch.device, *,
                   n_steps_each: int | None = None, step_lr: float | None = None, batch_size: int | None = None,
                   snapshots: bool = False, progress: bool = True):
    """Samples number start..stop-1 of the experiment's sampler, in [0, 1] (clamped, as the official code saves
    images). The network runs under the experiment's sampling speed options (:func:`sampling_score_net`, amp_bf16
    on CUDA). Sample j always comes from the same random numbers, whatever the batching or sharding: batch b
    covers samples [b*B, (b+1)*B) and draws from a generator seeded by (seed, b), so shards merge into exactly
    the single-job result. Returns (samples uint8-ready float CPU tensor, snapshots or None)."""
    from tqdm import tqdm

    from scorerepro.sampling import annealed_langevin

    s = exp["sampling"]
    n_steps_each = n_steps_each or s["n_steps_each"]
    step_lr = step_lr or s["step_lr"]
    bs = batch_size or s["batch_size"]
    sigmas = sigmas_of(exp).to(device)
    shape = IMAGE_SHAPES[exp["dataset"]]
    out, snaps = [], []
    use_bf16 = bool(s.get("amp_bf16")) and device.type == "cuda"
    memory_format = torch.channels_last if s.get("channels_last") else torch.contiguous_format
    score_net = sampling_score_net(net, s, device)
    first_batch, last_batch = start // bs, (stop - 1) // bs
    bar = tqdm(range(first_batch, last_batch + 1), desc=f"sampling {exp['name']}", disable=not progress)
    for b in bar:
        g = torch.Generator(device=device).manual_seed(seed * 1_000_003 + b)
        x0 = torch.rand((bs, *shape), generator=g, device=device).contiguous(memory_format=memory_format)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            res = annealed_langevin(score_net, x0, sigmas, n_steps_each=n_steps_each, step_lr=step_lr, generator=g,
                                    snapshots=snapshots, clamp_output=True)
        lo, hi = max(start - b * bs, 0), min(stop - b * bs, bs)
        out.append(res.samples[lo:hi].float().cpu())
        if snapshots:
            snaps.append(res.snapshots[:, lo:hi].float().cpu())
    samples = torch.cat(out)
    return samples, (torch.cat(snaps, dim=1) if snapshots else None)


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


__all__ = ["resolve_device", "sigmas_of", "model_spec", "build_score_net", "load_score_net", "sample_batches",
           "sampling_score_net", "shard_range", "to_uint8", "load_train_images", "load_sample_shards", "experiment", "model_dir"]
