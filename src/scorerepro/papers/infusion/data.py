"""The data as the paper uses it: pixels scaled to [0, 1) and dequantised, x = (u + U(0, 1)) / 256 for uint8 u
(Wu et al.'s protocol, which the paper follows for its test points; the released code also dequantises its
training targets)."""

from __future__ import annotations

import torch

from scorerepro.data.loading import StepBatchSampler, load_split
from scorerepro.pipeline.paths import processed_dir


def dequantise(images_uint8: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    u = images_uint8.reshape(images_uint8.shape[0], -1).to(torch.float32)
    return (u + torch.rand(u.shape, generator=generator)) / 256.0


def scaled(images_uint8: torch.Tensor) -> torch.Tensor:
    """u / 256 without dequantisation noise: what the released code fits the factorial prior p(0) on."""
    return images_uint8.reshape(images_uint8.shape[0], -1).to(torch.float32) / 256.0


def load_images(dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    d = processed_dir(dataset)
    return load_split(d / f"{split}.pt", d / "manifest.json")


def hold_out_validation(train_uint8: torch.Tensor, n_validation: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(images the models are fitted on, the last n_validation training images) -- the validation split that
    chooses the Parzen sigma must be images no model was trained on (the released code: train[0:50000],
    valid[50000:60000])."""
    if not 0 < n_validation < train_uint8.shape[0]:
        raise ValueError(f"infusion.eval.parzen_validation: {n_validation} must leave training images (the "
                         f"training split has {train_uint8.shape[0]})")
    return train_uint8[:-n_validation], train_uint8[-n_validation:]


class DequantisedBatches:
    """batch_for_step for scorerepro.training: a deterministic choice of training images, freshly dequantised."""

    def __init__(self, images_uint8: torch.Tensor, batch_size: int, seed: int):
        self.images = images_uint8
        self.sampler = StepBatchSampler(len(images_uint8), batch_size, seed, drop_last=True)

    def batch_for_step(self, step: int, generator: torch.Generator) -> torch.Tensor:
        return dequantise(self.images[self.sampler.indices(step)], generator)
