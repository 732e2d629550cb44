"""What the claims are measured with: distances between latent distributions (Frechet distance of Gaussian fits,
as FID does for features), the per-dimension spread of encodings, how far chain steps move samples and how
realistic samples are (distance to the nearest training image)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from scorerepro.metrics.fid import compute_statistics, frechet_distance


def latent_frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between Gaussian fits of two sets of codes [N, d]."""
    return frechet_distance(*compute_statistics(a), *compute_statistics(b))


def frechet_to_prior(z: torch.Tensor) -> float:
    """Frechet distance between a Gaussian fit of codes [N, d] and the prior N(0, I)."""
    mu, sigma = compute_statistics(z)
    return frechet_distance(mu, sigma, np.zeros_like(mu), np.eye(len(mu)))


def per_dim_std(z: torch.Tensor) -> np.ndarray:
    return z.double().std(0, unbiased=True).numpy()


def movement(x_from: torch.Tensor, x_to: torch.Tensor) -> torch.Tensor:
    """Pixel-space L2 distance each sample moved, per row."""
    return (x_to - x_from).flatten(1).norm(dim=1)


def nearest_train_distance(x: torch.Tensor, train: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Pixel-space L2 distance of each row of x to its nearest training image (a measure of how unrealistic it is)."""
    t = train.flatten(1).float()
    return torch.cat([torch.cdist(x[i:i + batch].flatten(1).float(), t).min(1).values
                      for i in range(0, len(x), batch)])


def spearman(a, b, level: float = 0.95) -> dict[str, float]:
    """Spearman's rho with scipy's p-value and a `level` interval: Spearman's rho is Pearson's r of the ranks, so
    the interval is scipy's pearsonr confidence interval (Fisher z) on the ranks."""
    a, b = np.asarray(a), np.asarray(b)
    res = stats.spearmanr(a, b)
    ci = stats.pearsonr(stats.rankdata(a), stats.rankdata(b)).confidence_interval(confidence_level=level)
    return {"rho": float(res.statistic), "p_value": float(res.pvalue), "n": int(len(a)),
            "ci_low": float(ci.low), "ci_high": float(ci.high), "ci_level": level}
