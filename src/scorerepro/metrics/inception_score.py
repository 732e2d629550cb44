"""Inception Score: exp(E_x KL(p(y|x) || p(y))), mean and std over splits.

Follows the TF reference (openai/improved-gan, inception_score/model.py) and torch-fidelity (metric_isc.py):
  * p(y|x) = softmax of the 1008 Inception logits taken WITHOUT the fc bias (pool_3 @ W of "softmax/logits/MatMul"
    in the TF code; torch-fidelity's default IS feature 'logits_unbiased'); `FIDInceptionV3` returns these;
  * the N samples are cut in `splits` (10) consecutive parts at i*N//splits, so all samples are used;
  * per part, p(y) is the part's mean of p(y|x), the score exp(mean_x sum_y p log(p / p(y)));
  * the result is (mean, population std (ddof 0)) over the parts.
torch-fidelity shuffles the samples first (seed 2020); the TF code does not. `shuffle_seed` does the former;
the default (None) keeps the given order as the TF code does. Computation is in float64 as in torch-fidelity.
With probabilities as input (e.g. the MNIST classifier's), terms with p = 0 count as 0 (x log x -> 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class InceptionScoreUnavailable(RuntimeError):
    """The Inception weights in use have no classifier head, so there are no logits to score."""


def _as_double(x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    return x.detach().cpu().double()


def inception_score(
    logits_or_probs, splits: int = 10, kind: str = "logits", shuffle_seed: int | None = None
) -> tuple[float, float]:
    """(mean, std) of the Inception Score over `splits` parts.

    kind="logits": rows are unnormalised logits (softmax taken here); kind="probs": rows are class probabilities
    (non-negative, summing to 1), as for the MNIST classifier score.
    """
    x = _as_double(logits_or_probs)
    if x.dim() != 2:
        raise ValueError(f"expected [N, classes], got shape {tuple(x.shape)}")
    n = x.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"need at least as many samples ({n}) as splits ({splits}) and splits >= 1")
    if shuffle_seed is not None:
        perm = np.random.RandomState(shuffle_seed).permutation(n)
        x = x[torch.from_numpy(perm)]
    if kind == "logits":
        p = torch.softmax(x, dim=1)
        log_p = torch.log_softmax(x, dim=1)
    elif kind == "probs":
        if (x < 0).any() or not torch.allclose(x.sum(1), torch.ones(n, dtype=x.dtype), atol=1e-4):
            raise ValueError("kind='probs' needs non-negative rows summing to 1")
        p = x / x.sum(1, keepdim=True)
        log_p = torch.log(p)  # -inf where p == 0; masked below
    else:
        raise ValueError(f"kind must be 'logits' or 'probs', got {kind!r}")
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_part, log_p_part = p[lo:hi], log_p[lo:hi]
        log_py = torch.log(p_part.mean(dim=0, keepdim=True))
        terms = p_part * (log_p_part - log_py)
        terms = torch.where(p_part > 0, terms, torch.zeros_like(terms))
        scores.append(float(torch.exp(terms.sum(dim=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def is_unavailable_reason(source: Any) -> str | None:
    """None if an Inception Score can be computed from `source`, else the reason it cannot.

    `source`: a model from `load_inception`, the dict from `resolve_inception_weights`, or a features dict from
    `extract_features`.
    """
    if isinstance(source, dict):
        if "has_classifier" in source:
            has = bool(source["has_classifier"])
            origin = source.get("source", "unknown source")
        elif "logits" in source:
            has = source["logits"] is not None
            origin = "features without logits"
        else:
            return "cannot tell whether logits exist (no 'has_classifier' or 'logits' entry)"
    else:
        has = bool(getattr(source, "has_classifier", False))
        origin = getattr(source, "weights_info", {}).get("source", type(source).__name__)
    if has:
        return None
    return (
        f"Inception Score unavailable: the Inception weights in use ({origin}) have no 1008-way classifier head. "
        "Place pytorch-fid's pt_inception-2015-12-05-6726825d.pth (which has it) in the weights folder to get IS."
    )


def inception_score_from_features(features: dict[str, Any], splits: int = 10, shuffle_seed: int | None = None,
                                  strict: bool = False) -> dict[str, Any]:
    """{"is_mean", "is_std", "is_splits"} from `extract_features` output, or {"is_unavailable": reason} (strict:
    raise InceptionScoreUnavailable): never a number when there are no logits."""
    reason = is_unavailable_reason(features)
    if reason is not None:
        if strict:
            raise InceptionScoreUnavailable(reason)
        return {"is_unavailable": reason}
    mean, std = inception_score(features["logits"], splits=splits, kind="logits", shuffle_seed=shuffle_seed)
    return {"is_mean": mean, "is_std": std, "is_splits": splits}
