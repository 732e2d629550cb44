"""Whether a set of generated images is closer to static noise than to real images, measured rather than assumed.

The measure is the mean pairwise L2 distance: Bernoulli(1/2) pixels sit about sqrt(D / 2) apart (D pixels),
real digits much closer, because most of their pixels are background. A sample set whose spread is nearer the
noise's than the real images' carries no visible structure, and a figure showing it should say so."""

from __future__ import annotations

import torch


def mean_pairwise_distance(samples: torch.Tensor) -> float:
    """Mean L2 distance over all ordered pairs of distinct rows of `samples` (flattened)."""
    flat = samples.flatten(1).double()
    d = torch.cdist(flat, flat)
    k = len(flat)
    return float(d.sum() / (k * (k - 1)))


def _unit(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float().clamp(0, 1)


def noise_check(samples: torch.Tensor, real: torch.Tensor, seed: int = 0) -> dict:
    """Mean pairwise distance of `samples`, of as many Bernoulli(1/2) images and of as many `real` images (both in
    [0, 1]); `noise_like` is True when the samples' distance is nearer the noise's than the real images'."""
    n = min(len(samples), len(real))
    if n < 2:
        raise ValueError(f"noise_check needs at least two samples and two real images, got {len(samples)}, "
                         f"{len(real)}")
    gen = torch.Generator().manual_seed(seed)
    noise = torch.bernoulli(torch.full((n, *samples.shape[1:]), 0.5), generator=gen)
    pick = torch.randperm(len(real), generator=gen)[:n]
    out = {"samples": mean_pairwise_distance(_unit(samples[:n])), "bernoulli_noise": mean_pairwise_distance(noise),
           "real": mean_pairwise_distance(_unit(real[pick])), "n": n}
    out["noise_like"] = abs(out["samples"] - out["bernoulli_noise"]) < abs(out["samples"] - out["real"])
    return out


def noise_caption(check: dict) -> str:
    """One line for a figure: the verdict and the three distances behind it."""
    verdict = ("noise-like: these samples do not look like the data" if check["noise_like"]
               else "closer to the real images than to noise")
    return (f"{verdict} (mean pairwise distance {check['samples']:.2f}; Bernoulli(1/2) noise "
            f"{check['bernoulli_noise']:.2f}, real images {check['real']:.2f})")
