"""Synthetic distributions with exact log-densities, sampled from explicit seeds (toy studies of seeds 000 and 004).

- GaussianMixture: sum_k w_k N(mu_k, Sigma_k) in R^D with full covariances; exact log-density, score, mean and
  covariance, and the mixture convolved with N(0, sigma^2 I) (what a noise-conditional score targets).
  ncsn_toy_gmm() is the NCSN toy mixture 0.8 N((5, 5), I) + 0.2 N((-5, -5), I). (scorerepro.toy keeps its
  torch-native isotropic mixture for the samplers; this class is the general numpy one.)
- Banana and Cosine: the 2-D sets of Wenliang et al. (2019) as coded in kevin-w-li/deep-kexpfam Datasets.py,
  which seed 004 (WMVL, section 6.1) uses; extra dimensions, if asked for, are independent N(0, 1).
    Banana(b, s):  x0 ~ N(0, s^2),  x1 | x0 ~ N(b (x0^2 - s^2), 1)            (defaults b = 1, s = 1)
    Cosine(L, w, A, s):  x0 ~ U(-L, L),  x1 | x0 ~ N(A cos(w x0), s^2)        (defaults L = 4, w = 2, A = 3, s = 1)
  The WMVL paper does not say which parameters it used; the defaults are the dataset classes' defaults.
- VonMisesFisherMixture: sum_k w_k vMF(mu_k, kappa_k) on the unit sphere S^{p-1} in R^p (p = 2: the circle,
  p = 3: the sphere). Points are unit vectors in R^p. log_prob is the log-density with respect to the surface
  (Hausdorff) measure of the sphere, i.e. arc length on S^1 (= d theta) and area on S^2, so it integrates to 1
  over the sphere's 2 pi (S^1) or 4 pi (S^2); this is the convention of scipy.stats.vonmises_fisher.logpdf and of
  the hyperspherical_vae code WMVL used. log_prob(x, measure="uniform") is the density relative to the uniform
  probability measure instead (that plus log of the surface area). wmvl_circle_mixture() and
  wmvl_sphere_mixture() are the two targets of WMVL's synthetic-riem-ebm notebook.

Randomness: every sampler takes `rng`, a numpy Generator, an int seed, or a torch.Generator (one 63-bit seed is
drawn from it, so a torch training loop can drive the data stream). None is refused: a draw from global state is
not reproducible. The same rng state gives the same bytes.

log_prob and score take an (N, D) numpy array or torch tensor and return the same kind (torch: same dtype and
device). They compute in float64 numpy and do not carry autograd: they are references for tests and evaluation,
not training losses.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy.special import gammaln, ive, logsumexp

__all__ = [
    "SYNTHETIC_NAMES",
    "Banana",
    "Cosine",
    "GaussianMixture",
    "SyntheticDistribution",
    "VonMisesFisherMixture",
    "log_sphere_area",
    "make_rng",
    "ncsn_toy_gmm",
    "synthetic_distribution",
    "wmvl_circle_mixture",
    "wmvl_sphere_mixture",
]


def make_rng(rng: Any) -> np.random.Generator:
    """A numpy Generator from a Generator (returned as is), an int seed, or a torch.Generator (seeds a new one)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, torch.Generator):
        seed = torch.randint(0, 2**63 - 1, (1,), generator=rng, device=rng.device).item()
        return np.random.default_rng(int(seed))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or a torch.Generator, got {type(rng).__name__}; pass "
        "an explicit seed (an unseeded draw from global state would not be reproducible)"
    )


def _as_points(x: Any, dim: int) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """(float64 array (N, dim), a function mapping a float64 result back to the caller's array type)."""
    if isinstance(x, torch.Tensor):
        device, dtype = x.device, (x.dtype if x.is_floating_point() else torch.float64)
        arr = x.detach().to("cpu", torch.float64).numpy()

        def back(out: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(out)).to(device=device, dtype=dtype)
    else:
        arr = np.asarray(x, dtype=np.float64)

        def back(out: np.ndarray) -> np.ndarray:
            return out
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"points must have shape (N, {dim}), got {tuple(arr.shape)}")
    return arr, back


class SyntheticDistribution:
    """Common interface: dim, sample(n, rng), sample_tensor(n, rng), log_prob(x), score(x)."""

    dim: int

    def sample(self, n: int, rng: Any) -> np.ndarray:
        """n points, float64 array (n, dim)."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        return self._sample(int(n), make_rng(rng))

    def sample_tensor(self, n: int, rng: Any, dtype: torch.dtype = torch.float32,
                      device: str | torch.device = "cpu") -> torch.Tensor:
        """sample() as a torch tensor (drawn in float64, then cast)."""
        return torch.from_numpy(self.sample(n, rng)).to(device=device, dtype=dtype)

    def log_prob(self, x: Any) -> Any:
        """Exact log-density at each row of x, shape (N,)."""
        arr, back = _as_points(x, self.dim)
        return back(self._log_prob(arr))

    def score(self, x: Any) -> Any:
        """Exact grad_x log p at each row of x, shape (N, dim)."""
        arr, back = _as_points(x, self.dim)
        return back(self._score(arr))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


# ----------------------------------------------------------------------------------------------------------------
# Gaussian mixtures


class GaussianMixture(SyntheticDistribution):
    """sum_k w_k N(mu_k, Sigma_k) in R^D.

    Args:
        weights: K positive weights summing to 1.
        means: K x D component means.
        covariances: None (identity for every component), one D x D matrix shared by all, or K x D x D; each
            must be symmetric positive definite.
    """

    def __init__(self, weights: Sequence[float], means: Any, covariances: Any = None):
        w = np.asarray(weights, dtype=np.float64).ravel()
        mu = np.asarray(means, dtype=np.float64)
        if mu.ndim != 2 or mu.shape[0] != w.size or w.size == 0:
            raise ValueError(f"means must be a K x D array matching {w.size} weights, got shape {mu.shape}")
        if not (np.all(np.isfinite(w)) and np.all(w > 0)) or abs(w.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be positive and sum to 1, got {w.tolist()} (sum {w.sum()!r})")
        if not np.all(np.isfinite(mu)):
            raise ValueError(f"means must be finite, got {mu.tolist()}")
        k, d = mu.shape
        if covariances is None:
            cov = np.broadcast_to(np.eye(d), (k, d, d)).copy()
        else:
            cov = np.asarray(covariances, dtype=np.float64)
            if cov.shape == (d, d):
                cov = np.broadcast_to(cov, (k, d, d)).copy()
            if cov.shape != (k, d, d):
                raise ValueError(f"covariances must be None, {d} x {d} or {k} x {d} x {d}, got shape {cov.shape}")
        chol = np.empty_like(cov)
        for i in range(k):
            if not np.allclose(cov[i], cov[i].T, rtol=0, atol=1e-12 * max(1.0, np.abs(cov[i]).max())):
                raise ValueError(f"covariance of component {i} is not symmetric: {cov[i].tolist()}")
            try:
                chol[i] = np.linalg.cholesky(cov[i])
            except np.linalg.LinAlgError:
                raise ValueError(
                    f"covariance of component {i} is not positive definite: {cov[i].tolist()}"
                ) from None
        self.weights, self.means, self.covariances = w, mu, cov
        self.dim = d
        self._chol = chol
        self._log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)

    @property
    def num_components(self) -> int:
        return self.weights.size

    def _component_terms(self, x: np.ndarray):
        """(log w_k + log N(x; mu_k, Sigma_k) as (N, K), Sigma_k^{-1}(x - mu_k) as (K, N, D))."""
        from scipy.linalg import solve_triangular

        logs = np.empty((x.shape[0], self.num_components))
        precision_diff = np.empty((self.num_components, x.shape[0], self.dim))
        for k in range(self.num_components):
            diff = (x - self.means[k]).T  # D x N
            z = solve_triangular(self._chol[k], diff, lower=True)
            maha = (z**2).sum(axis=0)
            logs[:, k] = math.log(self.weights[k]) - 0.5 * (maha + self.dim * math.log(2 * math.pi) + self._log_det[k])
            precision_diff[k] = solve_triangular(self._chol[k].T, z, lower=False).T
        return logs, precision_diff

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        logs, _ = self._component_terms(x)
        return logsumexp(logs, axis=1)

    def _score(self, x: np.ndarray) -> np.ndarray:
        logs, precision_diff = self._component_terms(x)
        resp = np.exp(logs - logsumexp(logs, axis=1, keepdims=True))  # N x K
        return -np.einsum("nk,knd->nd", resp, precision_diff)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        ks = rng.choice(self.num_components, size=n, p=self.weights)
        z = rng.standard_normal((n, self.dim))
        return self.means[ks] + np.einsum("nij,nj->ni", self._chol[ks], z)

    def mean(self) -> np.ndarray:
        return self.weights @ self.means

    def covariance(self) -> np.ndarray:
        """Total covariance: sum_k w_k (Sigma_k + mu_k mu_k^T) - m m^T."""
        m = self.mean()
        second = np.einsum("k,kij->ij", self.weights, self.covariances + np.einsum("ki,kj->kij", self.means,
                                                                                 self.means))
        return second - np.outer(m, m)

    def convolved(self, sigma: float) -> "GaussianMixture":
        """The mixture convolved with N(0, sigma^2 I): every covariance gains sigma^2 I."""
        sigma = float(sigma)
        if not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
        return GaussianMixture(self.weights, self.means, self.covariances + sigma**2 * np.eye(self.dim))


def ncsn_toy_gmm() -> GaussianMixture:
    """NCSN's toy target (seed 000): 0.8 N((5, 5), I) + 0.2 N((-5, -5), I)."""
    return GaussianMixture([0.8, 0.2], [[5.0, 5.0], [-5.0, -5.0]])


# ----------------------------------------------------------------------------------------------------------------
# banana and cosine (Wenliang et al. 2019; seed 004)


def _normal_logpdf(x: np.ndarray, mean: Any, std: float) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


class Banana(SyntheticDistribution):
    """x0 ~ N(0, sigma^2), x1 | x0 ~ N(bananicity (x0^2 - sigma^2), 1), x2.. ~ N(0, 1) independently."""

    def __init__(self, bananicity: float = 1.0, sigma: float = 1.0, dim: int = 2):
        if dim < 2:
            raise ValueError(f"Banana needs dim >= 2, got {dim}")
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma!r}")
        self.bananicity, self.sigma, self.dim = float(bananicity), float(sigma), int(dim)

    def _residual(self, x: np.ndarray) -> np.ndarray:
        return x[:, 1] - self.bananicity * (x[:, 0] ** 2 - self.sigma**2)

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        out = _normal_logpdf(x[:, 0], 0.0, self.sigma) + _normal_logpdf(self._residual(x), 0.0, 1.0)
        return out + _normal_logpdf(x[:, 2:], 0.0, 1.0).sum(axis=1)

    def _score(self, x: np.ndarray) -> np.ndarray:
        r = self._residual(x)
        g = -x.copy()
        g[:, 0] = -x[:, 0] / self.sigma**2 + r * 2.0 * self.bananicity * x[:, 0]
        g[:, 1] = -r
        return g

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x = rng.standard_normal((n, self.dim))
        x[:, 0] *= self.sigma
        x[:, 1] += self.bananicity * (x[:, 0] ** 2 - self.sigma**2)
        return x

    def mean(self) -> np.ndarray:
        return np.zeros(self.dim)

    def covariance(self) -> np.ndarray:
        """Diagonal: Var x0 = s^2, Var x1 = 1 + b^2 Var(x0^2) = 1 + 2 b^2 s^4 (Cov(x0, x1) = b E x0^3 = 0)."""
        c = np.eye(self.dim)
        c[0, 0] = self.sigma**2
        c[1, 1] = 1.0 + 2.0 * self.bananicity**2 * self.sigma**4
        return c


class Cosine(SyntheticDistribution):
    """x0 ~ U(-xlim, xlim), x1 | x0 ~ N(amplitude cos(omega x0), sigma^2), x2.. ~ N(0, 1) independently.

    The support is the strip |x0| <= xlim: log_prob is -inf outside it, and score is NaN there (the density is
    not differentiable across the edge; mask with in_support()).
    """

    def __init__(self, xlim: float = 4.0, omega: float = 2.0, amplitude: float = 3.0, sigma: float = 1.0,
                 dim: int = 2):
        if dim < 2:
            raise ValueError(f"Cosine needs dim >= 2, got {dim}")
        if not (xlim > 0 and sigma > 0):
            raise ValueError(f"xlim and sigma must be positive, got xlim={xlim!r}, sigma={sigma!r}")
        self.xlim, self.omega, self.amplitude, self.sigma = float(xlim), float(omega), float(amplitude), float(sigma)
        self.dim = int(dim)

    def in_support(self, x: Any) -> Any:
        arr, _ = _as_points(x, self.dim)
        inside = np.abs(arr[:, 0]) <= self.xlim
        return torch.from_numpy(inside).to(x.device) if isinstance(x, torch.Tensor) else inside

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        mean1 = self.amplitude * np.cos(self.omega * x[:, 0])
        out = -math.log(2 * self.xlim) + _normal_logpdf(x[:, 1], mean1, self.sigma)
        out = out + _normal_logpdf(x[:, 2:], 0.0, 1.0).sum(axis=1)
        return np.where(np.abs(x[:, 0]) <= self.xlim, out, -np.inf)

    def _score(self, x: np.ndarray) -> np.ndarray:
        r = (x[:, 1] - self.amplitude * np.cos(self.omega * x[:, 0])) / self.sigma**2
        g = -x.copy()
        g[:, 0] = -r * self.amplitude * self.omega * np.sin(self.omega * x[:, 0])
        g[:, 1] = -r
        g[np.abs(x[:, 0]) > self.xlim] = np.nan
        return g

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x0 = rng.uniform(-self.xlim, self.xlim, size=n)
        x = rng.standard_normal((n, self.dim))
        x[:, 1] = self.amplitude * np.cos(self.omega * x0) + self.sigma * x[:, 1]
        x[:, 0] = x0
        return x

    def mean(self) -> np.ndarray:
        m = np.zeros(self.dim)
        m[1] = self.amplitude * np.sinc(self.omega * self.xlim / math.pi)  # E cos(w x0) = sin(wL) / (wL)
        return m

    def covariance(self) -> np.ndarray:
        """Diagonal (x0 cos(w x0) is odd): Var x0 = L^2/3, Var x1 = s^2 + A^2 (E cos^2 - (E cos)^2)."""
        wl = self.omega * self.xlim
        e_cos = np.sinc(wl / math.pi)
        e_cos2 = 0.5 + 0.5 * np.sinc(2 * wl / math.pi)
        c = np.eye(self.dim)
        c[0, 0] = self.xlim**2 / 3.0
        c[1, 1] = self.sigma**2 + self.amplitude**2 * (e_cos2 - e_cos**2)
        return c


# ----------------------------------------------------------------------------------------------------------------
# von Mises-Fisher mixtures on S^{p-1}


def log_sphere_area(p: int) -> float:
    """log of the surface area of the unit sphere S^{p-1} in R^p: 2 pi^{p/2} / Gamma(p/2) (2 pi, 4 pi, ...)."""
    return math.log(2.0) + 0.5 * p * math.log(math.pi) - float(gammaln(0.5 * p))


def _vmf_log_normalizer(kappa: np.ndarray, p: int) -> np.ndarray:
    """log C_p(kappa) = (p/2 - 1) log kappa - (p/2) log 2 pi - log I_{p/2-1}(kappa), w.r.t. surface measure.

    ive(v, k) = I_v(k) exp(-k) keeps the Bessel function finite for large kappa.
    """
    v = 0.5 * p - 1.0
    return v * np.log(kappa) - 0.5 * p * math.log(2 * math.pi) - (np.log(ive(v, kappa)) + kappa)


class VonMisesFisherMixture(SyntheticDistribution):
    """sum_k w_k vMF(mu_k, kappa_k) on the unit sphere S^{p-1} in R^p; points are unit vectors (N, p).

    Density of one component w.r.t. the surface measure: C_p(kappa) exp(kappa mu.x), with
    C_p(kappa) = kappa^{p/2-1} / ((2 pi)^{p/2} I_{p/2-1}(kappa)) (p = 2: 1 / (2 pi I_0(kappa));
    p = 3: kappa / (4 pi sinh kappa)). The means are normalised to unit length.

    score(x) is the Riemannian gradient of log p on the sphere: the ambient gradient sum_k r_k kappa_k mu_k
    projected onto the tangent space at x.
    """

    # Points farther than this from the unit sphere are refused: the density is defined on the sphere only, and a
    # float32 unit vector is within about 1e-7 of it.
    ON_SPHERE_TOL = 1e-4

    def __init__(self, weights: Sequence[float], means: Any, kappas: Sequence[float]):
        w = np.asarray(weights, dtype=np.float64).ravel()
        mu = np.asarray(means, dtype=np.float64)
        kap = np.asarray(kappas, dtype=np.float64).ravel()
        if mu.ndim != 2 or mu.shape[0] != w.size or kap.size != w.size or w.size == 0 or mu.shape[1] < 2:
            raise ValueError(
                f"need K weights, K x p means (p >= 2) and K kappas; got {w.size} weights, means of shape "
                f"{mu.shape}, {kap.size} kappas"
            )
        if not (np.all(np.isfinite(w)) and np.all(w > 0)) or abs(w.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be positive and sum to 1, got {w.tolist()} (sum {w.sum()!r})")
        if not (np.all(np.isfinite(kap)) and np.all(kap > 0)):
            raise ValueError(f"kappas must be finite and positive, got {kap.tolist()}")
        norms = np.linalg.norm(mu, axis=1)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise ValueError(f"means must be finite and non-zero (they are normalised), got {mu.tolist()}")
        self.weights, self.means, self.kappas = w, mu / norms[:, None], kap
        self.dim = mu.shape[1]
        self._log_norm = _vmf_log_normalizer(kap, self.dim)

    @property
    def num_components(self) -> int:
        return self.weights.size

    def _check_on_sphere(self, x: np.ndarray) -> None:
        off = np.abs(np.linalg.norm(x, axis=1) - 1.0)
        if off.size and off.max() > self.ON_SPHERE_TOL:
            i = int(off.argmax())
            raise ValueError(
                f"row {i} of the points has norm {np.linalg.norm(x[i])!r}; vMF densities are defined on the unit "
                "sphere only: normalise the points (x / |x|) first"
            )

    def _component_logs(self, x: np.ndarray) -> np.ndarray:
        self._check_on_sphere(x)
        return np.log(self.weights) + self._log_norm + (x @ self.means.T) * self.kappas

    def log_prob(self, x: Any, measure: str = "area") -> Any:
        """log-density at each row; measure "area" (surface measure, the default) or "uniform" (relative to the
        uniform probability measure on the sphere: the area density times the sphere's surface area)."""
        if measure not in ("area", "uniform"):
            raise ValueError(f"measure must be 'area' or 'uniform', got {measure!r}")
        arr, back = _as_points(x, self.dim)
        out = self._log_prob(arr)
        return back(out + log_sphere_area(self.dim) if measure == "uniform" else out)

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        return logsumexp(self._component_logs(x), axis=1)

    def _score(self, x: np.ndarray) -> np.ndarray:
        logs = self._component_logs(x)
        resp = np.exp(logs - logsumexp(logs, axis=1, keepdims=True))
        ambient = (resp * self.kappas) @ self.means
        return ambient - (ambient * x).sum(axis=1, keepdims=True) * x

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        try:
            from scipy.stats import vonmises_fisher
        except ImportError as err:  # added in SciPy 1.11
            raise ImportError(
                "sampling a von Mises-Fisher mixture needs scipy.stats.vonmises_fisher (SciPy >= 1.11): "
                "pip install 'scipy>=1.11'"
            ) from err
        ks = rng.choice(self.num_components, size=n, p=self.weights)
        out = np.empty((n, self.dim))
        for k in range(self.num_components):
            idx = np.flatnonzero(ks == k)
            if idx.size:
                draw = vonmises_fisher(self.means[k], self.kappas[k]).rvs(idx.size, random_state=rng)
                out[idx] = np.asarray(draw).reshape(idx.size, self.dim)
        return out

    @staticmethod
    def from_angles(theta: Any) -> np.ndarray:
        """Points (cos theta, sin theta) on S^1 from angles, shape (N, 2)."""
        theta = np.asarray(theta, dtype=np.float64).ravel()
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)

    @staticmethod
    def from_spherical(polar: Any, azimuth: Any) -> np.ndarray:
        """Points on S^2 from the polar angle (from +z, 0..pi) and the azimuth; area element sin(polar)."""
        polar = np.asarray(polar, dtype=np.float64).ravel()
        azimuth = np.asarray(azimuth, dtype=np.float64).ravel()
        s = np.sin(polar)
        return np.stack([s * np.cos(azimuth), s * np.sin(azimuth), np.cos(polar)], axis=1)


def wmvl_circle_mixture() -> VonMisesFisherMixture:
    """WMVL's S^1 target (seed 004, section 6.1.2): 0.7 vMF((0, 1), 2) + 0.3 vMF((0.5, -0.5)/|.|, 3)."""
    return VonMisesFisherMixture([0.7, 0.3], [[0.0, 1.0], [0.5, -0.5]], [2.0, 3.0])


def wmvl_sphere_mixture(seed: int = 23, num_components: int = 4) -> VonMisesFisherMixture:
    """WMVL's S^2 target: K = 4 components drawn from numpy's legacy generator seeded 23, in the notebook's order.

    means ~ N(0, I_3) normalised; kappa_k = sqrt(U(1, 50)) + 0.1; weights proportional to U(1, 50)^2. The notebook
    calls np.random.seed(23) and the global functions; a RandomState(23) instance draws the same stream without
    touching global state. It then rounds means, kappas and weights to float32; so does this, before the float64
    model is built (mean directions then agree with the notebook's to about 1e-7).
    """
    rs = np.random.RandomState(seed)
    k = int(num_components)
    mean = rs.normal(size=(k, 3))
    mean = (mean / np.sqrt((mean**2).sum(axis=-1))[:, None]).astype(np.float32)
    kappa = np.sqrt(rs.uniform(1, 50, size=(k,)).astype(np.float32)) + np.float32(0.1)
    prop = rs.uniform(1, 50, size=(k,)).astype(np.float32) ** 2
    prop = prop / prop.sum()
    weights = prop.astype(np.float64)
    return VonMisesFisherMixture(weights / weights.sum(), mean.astype(np.float64), kappa.astype(np.float64))


# ----------------------------------------------------------------------------------------------------------------

_FACTORIES: dict[str, Callable[[], SyntheticDistribution]] = {
    "ncsn_gmm": ncsn_toy_gmm,
    "banana": Banana,
    "cosine": Cosine,
    "vmf_circle": wmvl_circle_mixture,
    "vmf_sphere": wmvl_sphere_mixture,
}
SYNTHETIC_NAMES = tuple(_FACTORIES)


def synthetic_distribution(name: str) -> SyntheticDistribution:
    """The named distribution with its default parameters (SYNTHETIC_NAMES)."""
    try:
        factory = _FACTORIES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown synthetic distribution {name!r}; known: {', '.join(SYNTHETIC_NAMES)}. Construct "
            "GaussianMixture / Banana / Cosine / VonMisesFisherMixture directly for other parameters"
        ) from None
    return factory()
