"""Training one infusion model with scorerepro.training (checkpoints, exact resume)."""

from __future__ import annotations

from pathlib import Path

import torch

from scorerepro.papers.infusion.data import DequantisedBatches, scaled
from scorerepro.papers.infusion.model import InfusionModel, denoising_loss, lower_bound_loss
from scorerepro.papers.infusion.experiment import initial_networks, schedule_of
from scorerepro.training import LoopConfig, OptimizerSpec, load_model_weights, train_loop

OBJECTIVES = {"denoising": denoising_loss, "lower_bound": lower_bound_loss}
# The per-pixel Gaussian loss saturates when the weights blow up (lr 10 to 1e6: 5.6 to 6.5 x its step-1 value, on
# the tiny and quick profiles), so the shared 1e4 x bound never trips here; a sane run stays below its step-1 value
# (quick profile: at most 1.0 x, ending at -0.7 x).
DIVERGENCE_FACTOR = 4.0


def train_model(block: dict, images_uint8: torch.Tensor, seed: int, device: str, out_dir: Path,
                name: str, progress: bool = True) -> InfusionModel:
    """Train (or resume, or return a finished run of) the model `block` describes; returns it on the CPU with its
    prior fitted to the training images scaled by 1/256."""
    t = block["training"]
    dim = images_uint8[0].numel()
    model = initial_networks(block, dim, seed, name)["model"]
    # p(0) as the released code fits it: per-pixel mean and variance of u/256 (Fuel's ScaleAndShift), not of
    # dequantised pixels; the two differ by about 26 nats of test log-likelihood.
    model.prior.fit(scaled(images_uint8))
    schedule = schedule_of(block)
    loss_of = OBJECTIVES[block["objective"]]

    def step_fn(ctx):
        loss = loss_of(ctx.nets["model"], ctx.batch, schedule, block["infusion_var"], ctx.rng.generator)
        ctx.update("model", loss)
        return {"loss": loss.detach()}

    cfg = LoopConfig(n_iters=t["n_iters"], batch_size=t["batch_size"], snapshot_freq=t["snapshot_freq"],
                     log_freq=min(50, t["snapshot_freq"]), seed=seed, device=device, progress=progress)
    record = {"name": name, "model": {k: v for k, v in block.items() if k not in ("training",)},
              "training": {k: v for k, v in t.items() if k not in ("n_iters", "snapshot_freq")}, "seed": seed}
    result = train_loop({"model": model}, {"model": OptimizerSpec(params_of=("model",), lr=t["lr"])}, step_fn,
                        DequantisedBatches(images_uint8, t["batch_size"], seed), cfg, out_dir, record,
                        on_mismatch="move_aside", ignore_record_keys=(), divergence_factor=DIVERGENCE_FACTOR)
    return result.networks["model"].cpu()


def load_trained(block: dict, dim: int, seed: int, out_dir: Path, name: str) -> InfusionModel:
    model = initial_networks(block, dim, seed, name)["model"]
    load_model_weights(model, out_dir / "final.pt", network="model")
    return model
