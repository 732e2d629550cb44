"""Fréchet distance between Gaussian fits of features (FID when the features are Inception pool3).

`frechet_distance` follows pytorch-fid 0.3.0's calculate_frechet_distance (pytorch_fid/fid_score.py, the TTUR
reference's "stable version by Dougal J. Sutherland") step for step:
  covmean = sqrtm(sigma1 @ sigma2); if it is not finite, add eps*I to both covariances and retry;
  if covmean is complex and any diagonal imaginary part exceeds 1e-3 raise ValueError, else keep the real part;
  d^2 = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(covmean).
It is re-written rather than called because pytorch-fid passes sqrtm's `disp` argument, which SciPy deprecated in
1.16 and removes in 1.18; the tests check that both give the same numbers.
Statistics are float64 with the unbiased covariance (np.cov(rowvar=False)), as pytorch-fid computes them, and are
stored in pytorch-fid's .npz layout (keys `mu`, `sigma`), so either tool can read the other's files.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import linalg

from scorerepro.core import fileio


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def compute_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """features [N, D] -> (mu [D], sigma [D, D]) in float64; sigma is the unbiased covariance (divides by N - 1)."""
    act = _to_numpy(features).astype(np.float64)
    if act.ndim != 2:
        raise ValueError(f"features must be [N, D], got shape {act.shape}")
    if act.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {act.shape[0]}")
    return act.mean(axis=0), np.cov(act, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), handled as pytorch-fid does (module docstring)."""
    mu1, mu2 = np.atleast_1d(_to_numpy(mu1)).astype(np.float64), np.atleast_1d(_to_numpy(mu2)).astype(np.float64)
    sigma1 = np.atleast_2d(_to_numpy(sigma1)).astype(np.float64)
    sigma2 = np.atleast_2d(_to_numpy(sigma2)).astype(np.float64)
    if mu1.shape != mu2.shape:
        raise ValueError(f"mean vectors have different lengths: {mu1.shape} vs {mu2.shape}")
    if sigma1.shape != sigma2.shape:
        raise ValueError(f"covariances have different dimensions: {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # SciPy warns "Matrix is singular" for rank-deficient products; the isfinite check below is what decides.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            warnings.warn(f"fid calculation produces singular product; adding {eps} to diagonal of cov estimates",
                          RuntimeWarning, stacklevel=2)
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def save_statistics(path: str | Path, mu, sigma, meta: dict[str, Any] | None = None) -> None:
    """Write mu and sigma (pytorch-fid's .npz keys) plus an optional JSON `meta` string, atomically."""
    mu, sigma = _to_numpy(mu).astype(np.float64), _to_numpy(sigma).astype(np.float64)
    arrays: dict[str, np.ndarray] = {"mu": mu, "sigma": sigma}
    if meta is not None:
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    with fileio.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the temporary name
            np.savez(f, **arrays)


def load_statistics(path: str | Path, with_meta: bool = False):
    """(mu, sigma) from an .npz written by `save_statistics` or by pytorch-fid (`--save-stats`).

    with_meta: return (mu, sigma, meta dict) instead."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FID statistics file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        if "mu" not in data or "sigma" not in data:
            raise ValueError(f"{path} has no 'mu'/'sigma' arrays (keys: {list(data.keys())})")
        mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
        meta = json.loads(str(data["meta"])) if "meta" in data else {}
    return (mu, sigma, meta) if with_meta else (mu, sigma)


def fid_from_features(features, ref_stats) -> float:
    """FID of `features` [N, D] against reference statistics: a (mu, sigma) pair or a path to a statistics file."""
    if isinstance(ref_stats, (str, Path)):
        ref_stats = load_statistics(ref_stats)
    mu_ref, sigma_ref = ref_stats[0], ref_stats[1]
    mu, sigma = compute_statistics(features)
    return frechet_distance(mu, sigma, mu_ref, sigma_ref)


def fid_of_subsets(features, ref_stats, n: int, repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """FID of random n-subsets of `features` (real held-out data) against the reference: the floor a perfect
    generator reaches when scored with n samples. FID is biased upwards by a term that shrinks with n (MNIST
    classifier, 500 held-out digits: about 107 at n = 50, 47 at 100, 6.2 at 500), so a generator's FID is only
    comparable with a floor taken at its own n. n at or above the number of features: one value on all of them
    (`n_used` says so; that floor is then higher than the one at n would be)."""
    feats = _to_numpy(features)
    if n >= len(feats):
        value = fid_from_features(feats, ref_stats)
        return {"mean": value, "std": 0.0, "n_used": int(len(feats)), "repeats": 1}
    rng = np.random.default_rng(seed)
    values = [fid_from_features(feats[rng.choice(len(feats), n, replace=False)], ref_stats) for _ in range(repeats)]
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n_used": int(n), "repeats": int(repeats)}


def fid_bootstrap(features, ref_stats, n_boot: int = 200, seed: int = 0) -> np.ndarray:
    """FIDs of `n_boot` bootstrap resamples (with replacement, same size) of `features` against fixed reference
    statistics: their spread is the sampling error of a generator's FID at its sample count.

    Each replicate is the Fréchet distance of the resample, with tr sqrtm(sigma1 sigma2) taken as the sum of the
    square roots of the eigenvalues of the symmetric sqrt(sigma2) sigma1 sqrt(sigma2) (the same trace, and an
    eigvalsh per replicate instead of a general sqrtm); tests check replicates against :func:`frechet_distance`."""
    act = _to_numpy(features).astype(np.float64)
    mu2, sigma2 = (np.asarray(x, dtype=np.float64) for x in (ref_stats[0], ref_stats[1]))
    w, v = np.linalg.eigh(sigma2)
    root2 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for b in range(n_boot):
        mu1, sigma1 = compute_statistics(act[rng.integers(0, len(act), len(act))])
        eig = np.linalg.eigvalsh(root2 @ sigma1 @ root2)
        out[b] = (np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
                  - 2.0 * np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    return out
