"""Score-matching losses: annealed denoising score matching (DSM) and sliced score matching (SSM).

:func:`dsm_loss` follows the official ``anneal_dsm_score_estimation``: one noise level per sample, drawn
uniformly when no labels are given, perturbed = x + sigma * z, target = -(perturbed - x) / sigma^2 = -z / sigma,
per-sample loss 0.5 * ||s(perturbed, label) - target||^2 summed over all non-batch dimensions and weighted by
sigma^anneal_power, then the batch mean.

:func:`ssm_loss` is sliced score matching with Gaussian projections v ~ N(0, I):
  plain:             v^T (ds/dx) v + 0.5 (v^T s)^2
  variance reduced:  v^T (ds/dx) v + 0.5 ||s||^2
Both are unbiased for the exact score-matching objective tr(ds/dx) + 0.5 ||s||^2, which
:func:`exact_score_matching_loss` computes with one backward pass per dimension (small dimensions only).
The official plain form (``sliced_score_estimation``) normalises v to unit length, which makes its expectation
1/d times this objective (same minimiser); the official VR form uses unnormalised Gaussian v, as here.
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["dsm_loss", "ssm_loss", "exact_score_matching_loss"]

_REDUCTIONS = ("mean", "none")


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    return per_sample


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def dsm_loss(
    score_net: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigmas: torch.Tensor,
    labels: torch.Tensor | None = None,
    anneal_power: float = 2.0,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Annealed denoising score matching loss (official ``anneal_dsm_score_estimation``).

    Args:
        score_net: called as ``score_net(perturbed, labels)``; returns a tensor shaped like ``x``.
        x: clean data, shape (N, ...) -- images (N, C, H, W) or points (N, D).
        sigmas: 1-D tensor of noise levels (any order; ``labels`` index into it).
        labels: LongTensor (N,) of level indices; drawn uniformly from the ``generator`` when None.
        anneal_power: the per-sample loss is weighted by sigma**anneal_power (2 in NCSN).
        generator: source of the level indices and of the Gaussian noise; must live on ``x.device``.
        reduction: "mean" (the training loss) or "none" (per-sample losses, shape (N,)).
        noise: the standard-normal perturbation z (shape of ``x``); drawn from ``generator`` when None. Passing it
            lets data-parallel training draw the whole global batch's noise once and slice it per process.
    """
    _check_reduction(reduction)
    if x.dim() < 2:
        raise ValueError(f"x must have a batch dimension and at least one data dimension, got shape {tuple(x.shape)}")
    sigmas = torch.as_tensor(sigmas)
    if sigmas.dim() != 1 or sigmas.numel() == 0:
        raise ValueError(f"sigmas must be a non-empty 1-D tensor, got shape {tuple(sigmas.shape)}")
    sigmas = sigmas.to(device=x.device, dtype=x.dtype)
    n = x.shape[0]
    if labels is None:
        labels = torch.randint(0, sigmas.numel(), (n,), generator=generator, device=x.device)
    elif labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match the batch, got {tuple(labels.shape)}")
    used = sigmas[labels].view(n, *([1] * (x.dim() - 1)))
    if noise is None:
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    elif noise.shape != x.shape:
        raise ValueError(f"noise must have the shape of x {tuple(x.shape)}, got {tuple(noise.shape)}")
    else:
        z = noise.to(device=x.device, dtype=x.dtype)
    perturbed = x + used * z
    # -(perturbed - x) / sigma^2 == -z / sigma; the latter avoids cancellation at small sigma.
    target = -z / used
    scores = score_net(perturbed, labels)
    if scores.shape != x.shape:
        raise ValueError(f"score_net returned shape {tuple(scores.shape)}, expected {tuple(x.shape)} (same as x)")
    per_sample = 0.5 * ((scores - target) ** 2).reshape(n, -1).sum(dim=1)
    per_sample = per_sample * used.reshape(n) ** anneal_power
    return _reduce(per_sample, reduction)


def ssm_loss(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    n_particles: int = 1,
    variance_reduced: bool = False,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Sliced score matching with Gaussian projections; differentiable w.r.t. the parameters of ``score_fn``.

    Each sample is repeated ``n_particles`` times with independent projections, and its per-sample loss is
    the mean over its particles (as in the official code). Gradients are not propagated back into ``x``.

    Args:
        score_fn: ``score_fn(x) -> score`` with the shape of ``x`` (wrap a conditional net with a lambda).
        x: data, shape (N, ...).
        n_particles: projections per sample.
        variance_reduced: use 0.5 ||s||^2 instead of 0.5 (v^T s)^2 (official ``sliced_score_estimation_vr``).
        generator: source of the projections; must live on ``x.device``.
        reduction: "mean" or "none" (per-sample losses, shape (N,)).
    """
    _check_reduction(reduction)
    if int(n_particles) != n_particles or n_particles < 1:
        raise ValueError(f"n_particles must be a positive integer, got {n_particles!r}")
    if x.dim() < 2:
        raise ValueError(f"x must have a batch dimension and at least one data dimension, got shape {tuple(x.shape)}")
    n = x.shape[0]
    # enable_grad so the loss can be evaluated (e.g. on a validation batch) inside a no_grad block.
    with torch.enable_grad():
        dup = x.detach().repeat(n_particles, *([1] * (x.dim() - 1))).requires_grad_(True)
        v = torch.randn(dup.shape, generator=generator, device=x.device, dtype=x.dtype)
        s = score_fn(dup)
        if s.shape != dup.shape:
            raise ValueError(f"score_fn returned shape {tuple(s.shape)}, expected {tuple(dup.shape)} (same as x)")
        # d(v^T s)/dx = J^T v, so v . (J^T v) = v^T J v.
        jtv = torch.autograd.grad((s * v).sum(), dup, create_graph=True)[0]
        trace_term = (v * jtv).reshape(dup.shape[0], -1).sum(dim=1)
        s_flat = s.reshape(dup.shape[0], -1)
        if variance_reduced:
            norm_term = 0.5 * (s_flat**2).sum(dim=1)
        else:
            norm_term = 0.5 * (s_flat * v.reshape(dup.shape[0], -1)).sum(dim=1) ** 2
        per_sample = (trace_term + norm_term).view(n_particles, n).mean(dim=0)
    return _reduce(per_sample, reduction)


def exact_score_matching_loss(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    reduction: str = "mean",
    max_dim: int = 1024,
) -> torch.Tensor:
    """Exact (Hyvarinen) score matching: tr(ds/dx) + 0.5 ||s||^2, one backward pass per data dimension.

    Meant as a reference for small dimensions; refuses data with more than ``max_dim`` dimensions.
    """
    _check_reduction(reduction)
    if x.dim() < 2:
        raise ValueError(f"x must have a batch dimension and at least one data dimension, got shape {tuple(x.shape)}")
    n = x.shape[0]
    d = x[0].numel()
    if d > max_dim:
        raise ValueError(
            f"exact score matching needs {d} backward passes for data of dimension {d} > max_dim={max_dim}; "
            "use ssm_loss for high-dimensional data or raise max_dim"
        )
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        s = score_fn(xg)
        if s.shape != xg.shape:
            raise ValueError(f"score_fn returned shape {tuple(s.shape)}, expected {tuple(xg.shape)} (same as x)")
        s_flat = s.reshape(n, d)
        trace = torch.zeros(n, device=x.device, dtype=s.dtype)
        for i in range(d):
            # Samples are independent, so the gradient of sum_b s_b[i] w.r.t. x_b is row i of x_b's Jacobian.
            row = torch.autograd.grad(s_flat[:, i].sum(), xg, create_graph=True)[0].reshape(n, d)
            trace = trace + row[:, i]
        per_sample = trace + 0.5 * (s_flat**2).sum(dim=1)
    return _reduce(per_sample, reduction)
