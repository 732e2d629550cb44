"""The variance-exploding SDE of seed 003 (section 3): sigma(t) = sigma_min (sigma_max / sigma_min)^t, t in [0, 1].

Forward: dx = sigma(t) sqrt(2 ln(sigma_max / sigma_min)) dw. The perturbation kernel is x_t | x_0 ~ N(x_0,
sigma(t)^2 I), score_sde's convention (the paper writes sigma(t)^2 - sigma(0)^2; the difference, 1e-4, is below a
pixel level, and sigma(t)^2 keeps Eq. 6's closed form short). Training weight lambda(t) = sigma(t)^2.
"""

from __future__ import annotations

import math

import torch


class VESDE:
    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"VE SDE needs 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self.log_ratio = math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * torch.exp(t * self.log_ratio)

    def t_of_sigma(self, sigma: torch.Tensor) -> torch.Tensor:
        return torch.log(sigma / self.sigma_min) / self.log_ratio

    def kernel_std(self, t: torch.Tensor) -> torch.Tensor:
        """Standard deviation of x_t | x_0 (score_sde's convention: sigma(t))."""
        return self.sigma(t)

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        """g(t) with g^2 = d sigma^2 / dt = 2 ln(sigma_max/sigma_min) sigma(t)^2."""
        return self.sigma(t) * math.sqrt(2 * self.log_ratio)

    def perturb(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x0 + _bcast(self.kernel_std(t), x0) * noise

    def kernel_score(self, xt: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """grad_x log p_0t(x_t | x_0) = -(x_t - x_0) / std^2."""
        return -(xt - x0) / _bcast(self.kernel_std(t), xt) ** 2

    def t_for_sigma_uniform(self, u: torch.Tensor) -> torch.Tensor:
        """t such that sigma(t) is uniform on [sigma_min, sigma_max] for u uniform on [0, 1] (section 3.2.1)."""
        return self.t_of_sigma(self.sigma_min + u * (self.sigma_max - self.sigma_min))


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.ndim - 1)))


def gaussian_constant(sde: VESDE, data_var: float, t_eps: float = 1e-5) -> float:
    """Eq. 6's non-vanishing constant per dimension for Gaussian data N(mu, s^2 I) and t ~ U(t_eps, 1):
    E_t lambda(t) E ||grad log p_0t(x_t|x_0) - grad log p_t(x_t)||^2 / d.

    Per t it is s^2 / (s^2 + sigma(t)^2); the integral over t has the antiderivative ln(u / (s^2 + u)) / (2 ln r),
    u = sigma(t)^2, r = sigma_max / sigma_min.
    """
    s2 = float(data_var)

    def anti(t: float) -> float:
        u = (sde.sigma_min * (sde.sigma_max / sde.sigma_min) ** t) ** 2
        return math.log(u / (s2 + u)) / (2 * sde.log_ratio)

    return (anti(1.0) - anti(t_eps)) / (1.0 - t_eps)
