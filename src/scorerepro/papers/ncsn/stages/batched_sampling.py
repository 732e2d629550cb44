"""Drawing an experiment's samples in reproducible, shardable batches, under params' sampling speed options
(select, sample, figures and sensitivity stages)."""

from __future__ import annotations

import torch

from scorerepro.config import ParamsError
from scorerepro.papers.ncsn.params_checks import sampling_options_error
from scorerepro.data.registry import image_shape
from scorerepro.papers.ncsn.experiment import sigmas_of

#: Images inside the library lie in [0, 1] (docs/DESIGN.md).
IMAGE_RANGE = (0.0, 1.0)


def image_chain_bounds(sigmas: torch.Tensor) -> tuple[float, float]:
    """The bounds an image chain must stay within (sampling.escape_bounds: [-100, 101] for sigma_1 = 1): a chain
    outside them has diverged, and its samples (all 0 or 255 once clamped) must not be scored."""
    from scorerepro.papers.ncsn.sampling import escape_bounds

    return escape_bounds(IMAGE_RANGE, float(sigmas.max()))


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
    error = sampling_options_error(sampling)
    if error:
        raise ParamsError(f"sampling.{error}")
    if sampling.get("channels_last"):
        net = net.to(memory_format=torch.channels_last)
    if sampling.get("compile"):
        mode = "reduce-overhead" if sampling.get("cuda_graphs") and device.type == "cuda" else None
        print(f"sampling: compiling the score network (torch.compile, mode={mode or 'default'}); the first batch "
              f"includes the compilation (minutes for a RefineNet)")
        return torch.compile(net, dynamic=False, mode=mode)
    return net


def batch_size_for(exp: dict, n_total: int) -> int:
    """The sampling batch for a stage that draws n_total samples in all (over every shard): sample_batches runs
    whole batches, so a batch larger than the total would run chains only to drop them (200 selection samples at
    gpu_h100's batch of 1,000 ran 1,000 chains per checkpoint). It depends on the total, never on one shard's range,
    so shards still merge into the single-job result."""
    return min(exp["sampling"]["batch_size"], n_total)


def sample_batches(net, exp: dict, start: int, stop: int, seed: int, device: torch.device, *,
                   n_steps_each: int | None = None, step_lr: float | None = None, batch_size: int | None = None,
                   snapshots: bool = False, progress: bool = True):
    """Samples number start..stop-1 of the experiment's sampler, in [0, 1] (clamped, as the official code saves
    images). The network runs under the experiment's sampling speed options (:func:`sampling_score_net`, amp_bf16
    on CUDA). Sample j always comes from the same random numbers, whatever the batching or sharding: batch b
    covers samples [b*B, (b+1)*B) and draws from a generator seeded by (seed, b), so shards merge into exactly
    the single-job result. Returns (samples uint8-ready float CPU tensor, snapshots or None).

    Raises SamplingDivergedError (level and step named) when a chain leaves :func:`image_chain_bounds`."""
    from tqdm import tqdm

    from scorerepro.papers.ncsn.sampling import annealed_langevin

    s = exp["sampling"]
    n_steps_each = n_steps_each or s["n_steps_each"]
    step_lr = step_lr or s["step_lr"]
    bs = batch_size or s["batch_size"]
    sigmas = sigmas_of(exp).to(device)
    bounds = image_chain_bounds(sigmas)
    shape = image_shape(exp["dataset"])
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
                                    snapshots=snapshots, clamp_output=True, bounds=bounds)
        lo, hi = max(start - b * bs, 0), min(stop - b * bs, bs)
        out.append(res.samples[lo:hi].float().cpu())
        if snapshots:
            snaps.append(res.snapshots[:, lo:hi].float().cpu())
    samples = torch.cat(out)
    return samples, (torch.cat(snaps, dim=1) if snapshots else None)


__all__ = ["IMAGE_RANGE", "image_chain_bounds", "sampling_score_net", "batch_size_for", "sample_batches"]
