"""Exact k nearest neighbours (L2), blocked over queries and references so memory stays bounded.

For each block of queries, the reference set is visited in blocks; torch.cdist gives a [bq, br] distance block,
which is merged with the running best k by one topk over [bq, k + br]. So at most bq x (k + br) distances exist at
once, whatever the sizes (10,000 x 60,000 MNIST or 50,000 x 50,000 CIFAR never sit in memory as a matrix).

cdist on large blocks uses the matmul form ||a||^2 + ||b||^2 - 2ab, which loses precision for near-identical
vectors; so, after selection, the k reported distances are recomputed directly from the differences and the k
are re-sorted. (Selection itself can swap neighbours whose distances differ by less than that rounding.)

:func:`knn_min_over_views` gives each query several views (a sample and its mirror image): a reference's distance
is the smallest over the views, as in the NCSN authors' later evaluation (NCSNv2, evaluation/nearest_neighbor.py:
min of the sample's and the flipped sample's Inception distances, then top-k).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .features import default_device


def _flatten(x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if x.dtype == torch.uint8:  # stored images: to the library's [0, 1] float convention
        x = x.float() / 255.0
    elif not x.is_floating_point():
        x = x.float()
    return x.reshape(x.shape[0], -1)


@torch.no_grad()
def knn(
    queries,
    references,
    k: int = 5,
    query_batch: int = 1024,
    ref_batch: int = 8192,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances [Nq, k], indices [Nq, k]) of each query's k nearest references by L2, nearest first (on CPU).

    queries / references: [N, ...] tensors or arrays (images or features; flattened; uint8 read as x / 255).
    The references are moved to `device` once (60,000 x 784 float32 is 188 MB); distance blocks are
    query_batch x (k + ref_batch).
    """
    q_all = _flatten(queries)
    r_all = _flatten(references)
    if q_all.shape[1] != r_all.shape[1]:
        raise ValueError(f"dimension mismatch: queries {q_all.shape[1]}, references {r_all.shape[1]}")
    n_ref = r_all.shape[0]
    if not 1 <= k <= n_ref:
        raise ValueError(f"k must be in [1, {n_ref}], got {k}")
    device = default_device(device)
    refs = r_all.to(device=device, dtype=dtype)
    out_d = torch.empty(q_all.shape[0], k, dtype=dtype)
    out_i = torch.empty(q_all.shape[0], k, dtype=torch.long)
    for qs in range(0, q_all.shape[0], query_batch):
        q = q_all[qs:qs + query_batch].to(device=device, dtype=dtype)
        best_d = torch.full((q.shape[0], k), float("inf"), device=device, dtype=dtype)
        best_i = torch.full((q.shape[0], k), -1, device=device, dtype=torch.long)
        for rs in range(0, n_ref, ref_batch):
            r = refs[rs:rs + ref_batch]
            d = torch.cdist(q, r)
            idx = torch.arange(rs, rs + r.shape[0], device=device).expand(q.shape[0], -1)
            cand_d = torch.cat([best_d, d], dim=1)
            cand_i = torch.cat([best_i, idx], dim=1)
            best_d, pos = torch.topk(cand_d, k, dim=1, largest=False, sorted=True)
            best_i = torch.gather(cand_i, 1, pos)
        # exact distances of the chosen k (direct differences), then re-sort
        exact = torch.stack([(q - refs[best_i[:, j]]).pow(2).sum(1).sqrt() for j in range(k)], dim=1)
        exact, order = torch.sort(exact, dim=1)
        out_d[qs:qs + q.shape[0]] = exact.cpu()
        out_i[qs:qs + q.shape[0]] = torch.gather(best_i, 1, order).cpu()
    return out_d, out_i


def knn_min_over_views(views: Sequence, references, k: int = 5, **knn_kwargs
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(distances [Nq, k], indices [Nq, k], view [Nq, k]) where a reference's distance to query q is the smallest
    over q's views (views[v][q], all of the same shape), nearest first; `view` names the view that reached it.

    Exact: a reference among the k nearest under the smallest-over-views distance is among the k nearest of the
    view that reaches it, so merging each view's exact top k (:func:`knn`) and keeping each reference once, at its
    smallest distance, gives the answer without a [Nq, Nref] matrix per view.
    """
    if not views:
        raise ValueError("views is empty: give at least one [Nq, ...] set of queries")
    per_view = [knn(v, references, k=k, **knn_kwargs) for v in views]
    n_q = per_view[0][0].shape[0]
    if any(d.shape[0] != n_q for d, _ in per_view):
        raise ValueError(f"every view needs the same number of queries, got {[d.shape[0] for d, _ in per_view]}")
    dist = torch.cat([d for d, _ in per_view], dim=1)
    idx = torch.cat([i for _, i in per_view], dim=1)
    view = torch.arange(len(views)).repeat_interleave(k).expand(n_q, -1)
    dist, order = torch.sort(dist, dim=1, stable=True)
    idx, view = torch.gather(idx, 1, order), torch.gather(view, 1, order)
    # The same reference reached by several views: keep its first (nearest) occurrence only.
    n_c = idx.shape[1]
    earlier = torch.ones(n_c, n_c, dtype=torch.bool).tril(-1)
    duplicate = ((idx[:, :, None] == idx[:, None, :]) & earlier).any(-1)
    dist = dist.masked_fill(duplicate, float("inf"))
    dist, pos = torch.topk(dist, k, dim=1, largest=False, sorted=True)
    return dist, torch.gather(idx, 1, pos), torch.gather(view, 1, pos)
