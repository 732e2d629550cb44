"""Isotropic Gaussian mixtures with exact densities and scores (the NCSN toy experiments).

Every component shares one standard deviation ``std``, so the mixture convolved with N(0, sigma^2 I) is the
same mixture with component variance std^2 + sigma^2; :meth:`GaussianMixture2D.perturbed_score` is that exact
score. Scores are computed in closed form from the responsibilities, not by autograd, so they work inside
``torch.no_grad`` and cost one small matrix product.

Fact recorded from the official toy code (ermongroup/ncsn ``models/gmm.py``, ``GMMDistAnneal.score``): for
annealed sampling it does not convolve; it replaces the component standard deviation by sigma (variance
sigma^2 instead of 1 + sigma^2). Its last level is sigma = 1 = the data std, so its final level targets the
data distribution itself. :meth:`GaussianMixture2D.official_toy_score` reproduces that choice.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["GaussianMixture2D", "seed000_gmm"]


class GaussianMixture2D:
    """Mixture sum_k w_k N(mu_k, std^2 I). Named for the 2-D toy study, but any dimension D works.

    Args:
        weights: K positive mixture weights summing to 1.
        means: K x D component means.
        std: the common component standard deviation.
    """

    def __init__(self, weights: Sequence[float] | torch.Tensor, means, std: float = 1.0):
        w = torch.as_tensor(weights, dtype=torch.float64).flatten()
        mu = torch.as_tensor(means, dtype=torch.float64)
        if mu.dim() != 2 or mu.shape[0] != w.numel() or w.numel() == 0:
            raise ValueError(
                f"means must be a K x D array matching {w.numel()} weights, got shape {tuple(mu.shape)}"
            )
        if not bool(torch.all(w > 0)) or not bool(torch.isfinite(w).all()):
            raise ValueError(f"mixture weights must be finite and positive, got {w.tolist()}")
        if abs(float(w.sum()) - 1.0) > 1e-6:
            raise ValueError(f"mixture weights must sum to 1, got {w.tolist()} (sum {float(w.sum())!r})")
        if not bool(torch.isfinite(mu).all()):
            raise ValueError(f"means must be finite, got {mu.tolist()}")
        std = float(std)
        if not math.isfinite(std) or std <= 0:
            raise ValueError(f"std must be a finite positive number, got {std!r}")
        self.weights = w
        self.means = mu
        self.std = std
        self._cache: dict = {}

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    def _params(self, ref: torch.Tensor):
        # Cached per (device, dtype): the samplers call the score thousands of times and a host-to-device
        # copy per call would cost more than the arithmetic.
        key = (ref.device, ref.dtype)
        if key not in self._cache:
            mu = self.means.to(device=ref.device, dtype=ref.dtype)
            self._cache[key] = (
                self.weights.log().to(device=ref.device, dtype=ref.dtype),
                mu,
                (mu**2).sum(dim=1),
            )
        return self._cache[key]

    def _check_x(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (N, {self.dim}), got {tuple(x.shape)}")

    @staticmethod
    def _variance(var, x: torch.Tensor) -> torch.Tensor:
        v = torch.as_tensor(var, device=x.device, dtype=x.dtype)
        if v.dim() == 0:
            return v.reshape(1, 1)
        if v.shape != (x.shape[0],):
            raise ValueError(f"sigma must be a scalar or have shape ({x.shape[0]},), got {tuple(v.shape)}")
        return v.reshape(-1, 1)

    def _log_resp_logits(self, x: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """log w_k - ||x - mu_k||^2 / (2 var) up to a k-independent term.

        ||x - mu_k||^2 = ||x||^2 - 2 x.mu_k + ||mu_k||^2 and the ||x||^2 part cancels in the softmax; leaving it
        out keeps the responsibilities finite far from the modes, where ||x||^2 would overflow first.
        """
        log_w, mu, mu_sq = self._params(x)
        return log_w + (x @ mu.T - 0.5 * mu_sq) / var

    def _score(self, x: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        _, mu, _ = self._params(x)
        resp = torch.softmax(self._log_resp_logits(x, var), dim=1)
        return (resp @ mu - x) / var

    def _log_prob(self, x: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        log_w, mu, _ = self._params(x)
        sq = ((x.unsqueeze(1) - mu.unsqueeze(0)) ** 2).sum(dim=2)
        log_norm = -0.5 * self.dim * torch.log(2 * math.pi * var)
        return torch.logsumexp(log_w + log_norm - 0.5 * sq / var, dim=1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x), shape (N,)."""
        self._check_x(x)
        return self._log_prob(x, self._variance(self.std**2, x))

    def perturbed_log_prob(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """log of p convolved with N(0, sigma^2 I), shape (N,)."""
        self._check_x(x)
        return self._log_prob(x, self.std**2 + self._variance(sigma, x) ** 2)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """grad_x log p(x), shape (N, D)."""
        self._check_x(x)
        return self._score(x, self._variance(self.std**2, x))

    def perturbed_score(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Exact score of p convolved with N(0, sigma^2 I); ``sigma`` is a number, a 0-d tensor or shape (N,)."""
        self._check_x(x)
        return self._score(x, self.std**2 + self._variance(sigma, x) ** 2)

    def official_toy_score(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """The official toy runner's annealed score: component std replaced by ``sigma`` (see module doc)."""
        self._check_x(x)
        return self._score(x, self._variance(sigma, x) ** 2)

    def score_net(self, sigmas: torch.Tensor, official: bool = False):
        """A ``net(x, labels)`` callable giving the exact perturbed score at ``sigmas[labels]``, per sample.

        With ``official=True`` it gives :meth:`official_toy_score` instead. Works with the samplers in
        :mod:`scorerepro.papers.ncsn.sampling` without host-device synchronisation.
        """
        sigmas = torch.as_tensor(sigmas)
        fn = self.official_toy_score if official else self.perturbed_score

        def net(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return fn(x, sigmas.to(device=x.device, dtype=x.dtype)[labels])

        return net

    def sample(self, n: int, generator: torch.Generator | None = None, device=None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """n i.i.d. samples, shape (n, D); ``generator`` must live on ``device`` (CPU when None)."""
        device = torch.device("cpu") if device is None else torch.device(device)
        ref = torch.empty(0, device=device, dtype=dtype)
        log_w, mu, _ = self._params(ref)
        idx = torch.multinomial(log_w.exp(), n, replacement=True, generator=generator)
        z = torch.randn((n, self.dim), generator=generator, device=device, dtype=dtype)
        return mu[idx] + self.std * z

    def assign_modes(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest mean (Euclidean) for each point, shape (N,)."""
        self._check_x(x)
        _, mu, _ = self._params(x)
        return torch.cdist(x, mu).argmin(dim=1)

    def component_fraction(self, x: torch.Tensor) -> torch.Tensor:
        """Fraction of points nearest to each mean, shape (K,), in component order (compare with ``weights``)."""
        idx = self.assign_modes(x)
        return torch.bincount(idx, minlength=self.num_components).to(torch.float64) / max(x.shape[0], 1)


def seed000_gmm() -> GaussianMixture2D:
    """0.2 N((-5, -5), I) + 0.8 N((5, 5), I): component 0 is (-5, -5), component 1 is (5, 5)."""
    return GaussianMixture2D([0.2, 0.8], [[-5.0, -5.0], [5.0, 5.0]], std=1.0)
