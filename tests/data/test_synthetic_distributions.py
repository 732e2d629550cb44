"""scorerepro.data.synthetic: exact log-densities against independent computations, normalisation on grids,
scores against finite differences, sample moments against closed forms, and seeded determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import iv, logsumexp

from scorerepro.data import synthetic as syn
from scorerepro.data.synthetic import Banana, Cosine, GaussianMixture, VonMisesFisherMixture

N_MOMENTS = 100_000


def finite_difference_score(dist, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    g = np.empty_like(x)
    for j in range(x.shape[1]):
        e = np.zeros(x.shape[1])
        e[j] = h
        g[:, j] = (dist.log_prob(x + e) - dist.log_prob(x - e)) / (2 * h)
    return g


def check_moments(samples: np.ndarray, mean: np.ndarray, cov: np.ndarray, z: float = 5.0) -> None:
    """Sample mean and covariance within z standard errors (errors estimated from the sample's own moments)."""
    n = samples.shape[0]
    centred = samples - samples.mean(axis=0)
    se_mean = samples.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(samples.mean(axis=0) - mean) <= z * se_mean + 1e-12), (samples.mean(axis=0), mean)
    prods = np.einsum("ni,nj->nij", centred, centred)
    se_cov = prods.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(prods.mean(axis=0) - cov) <= z * se_cov + 1e-12), (prods.mean(axis=0), cov)


def grid_integral_2d(dist, lo, hi, step, moments: bool = False):
    """Trapezoid-rule integral of the density over a box; with moments, also (mean, covariance) on that grid."""
    xs = np.arange(lo[0], hi[0] + step / 2, step)
    ys = np.arange(lo[1], hi[1] + step / 2, step)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    p = np.exp(dist.log_prob(np.stack([gx.ravel(), gy.ravel()], axis=1))).reshape(gx.shape)

    def integrate(f):
        return np.trapezoid(np.trapezoid(f, ys, axis=1), xs)

    total = integrate(p)
    if not moments:
        return total
    mean = np.array([integrate(gx * p), integrate(gy * p)])
    dx, dy = gx - mean[0], gy - mean[1]
    cov = np.array([[integrate(dx * dx * p), integrate(dx * dy * p)], [integrate(dx * dy * p), integrate(dy * dy * p)]])
    return total, mean, cov


# ---------------------------------------------------------------------------------------------------------------
# Gaussian mixtures


@pytest.fixture
def full_cov_gmm():
    rng = np.random.default_rng(11)
    covs = []
    for _ in range(3):
        a = rng.normal(size=(2, 2))
        covs.append(a @ a.T + 0.3 * np.eye(2))
    return GaussianMixture([0.5, 0.3, 0.2], [[0.0, 0.0], [3.0, -1.0], [-2.0, 2.5]], np.array(covs))


def test_gmm_log_prob_and_score_match_scipy(full_cov_gmm):
    g = full_cov_gmm
    x = np.random.default_rng(0).normal(scale=3.0, size=(50, 2))
    ref = logsumexp([math.log(w) + stats.multivariate_normal(m, c).logpdf(x)
                     for w, m, c in zip(g.weights, g.means, g.covariances)], axis=0)
    assert np.allclose(g.log_prob(x), ref, rtol=1e-12, atol=1e-12)
    assert np.allclose(g.score(x), finite_difference_score(g, x), rtol=1e-6, atol=1e-6)

    conv = g.convolved(0.7)
    ref = logsumexp([math.log(w) + stats.multivariate_normal(m, c + 0.49 * np.eye(2)).logpdf(x)
                     for w, m, c in zip(g.weights, g.means, g.covariances)], axis=0)
    assert np.allclose(conv.log_prob(x), ref, rtol=1e-12, atol=1e-12)


def test_gmm_integrates_to_one_and_moments(full_cov_gmm):
    g = full_cov_gmm
    total, mean, cov = grid_integral_2d(g, (-14, -14), (14, 14), 0.04, moments=True)
    assert total == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(mean, g.mean(), atol=1e-5) and np.allclose(cov, g.covariance(), atol=1e-4)
    check_moments(g.sample(N_MOMENTS, 3), g.mean(), g.covariance())


def test_ncsn_toy_gmm():
    g = syn.ncsn_toy_gmm()
    assert g.weights.tolist() == [0.8, 0.2] and g.means.tolist() == [[5, 5], [-5, -5]]
    assert np.array_equal(g.covariances, np.stack([np.eye(2)] * 2))
    x = g.sample(20_000, 0)
    assert abs((x.sum(axis=1) > 0).mean() - 0.8) < 0.02
    assert grid_integral_2d(g, (-12, -12), (12, 12), 0.05) == pytest.approx(1.0, abs=1e-6)
    # the score at a mode of the dominant component points back to it (the far component has no pull there)
    assert np.allclose(g.score(np.array([[5.0, 5.0]])), 0.0, atol=1e-12)


def test_gmm_refuses_bad_parameters():
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture([0.5, 0.6], [[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="component 1 is not positive definite"):
        GaussianMixture([0.5, 0.5], [[0, 0], [1, 1]], [np.eye(2), [[1, 2], [2, 1]]])
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        syn.ncsn_toy_gmm().log_prob(np.zeros((3, 3)))


# ---------------------------------------------------------------------------------------------------------------
# banana and cosine


def test_banana_density_score_normalisation_moments():
    b = Banana(bananicity=1.0, sigma=1.0)
    x = b.sample(40, 1) + np.random.default_rng(2).normal(size=(40, 2))
    ref = stats.norm(0, 1).logpdf(x[:, 0]) + stats.norm(x[:, 0] ** 2 - 1, 1).logpdf(x[:, 1])
    assert np.allclose(b.log_prob(x), ref, rtol=1e-12, atol=1e-12)
    assert np.allclose(b.score(x), finite_difference_score(b, x), rtol=1e-6, atol=1e-6)
    total, mean, cov = grid_integral_2d(b, (-7, -8), (7, 50), 0.02, moments=True)
    assert total == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(mean, b.mean(), atol=1e-4) and np.allclose(cov, b.covariance(), atol=1e-3)
    check_moments(b.sample(N_MOMENTS, 4), b.mean(), b.covariance())

    b3 = Banana(bananicity=0.5, sigma=1.5, dim=3)
    x3 = b3.sample(10, 5)
    ref = (stats.norm(0, 1.5).logpdf(x3[:, 0]) + stats.norm(0.5 * (x3[:, 0] ** 2 - 2.25), 1).logpdf(x3[:, 1])
           + stats.norm.logpdf(x3[:, 2]))
    assert np.allclose(b3.log_prob(x3), ref, rtol=1e-12, atol=1e-12)
    check_moments(b3.sample(N_MOMENTS, 6), b3.mean(), b3.covariance())


def test_cosine_density_support_normalisation_moments():
    c = Cosine()
    x = c.sample(40, 1)
    assert np.all(np.abs(x[:, 0]) <= 4)
    ref = stats.uniform(-4, 8).logpdf(x[:, 0]) + stats.norm(3 * np.cos(2 * x[:, 0]), 1).logpdf(x[:, 1])
    assert np.allclose(c.log_prob(x), ref, rtol=1e-12, atol=1e-12)
    inside = x[np.abs(x[:, 0]) < 4 - 1e-3]
    assert np.allclose(c.score(inside), finite_difference_score(c, inside), rtol=1e-6, atol=1e-6)
    outside = np.array([[4.5, 0.0], [-4.01, 3.0]])
    assert np.all(np.isneginf(c.log_prob(outside))) and np.all(np.isnan(c.score(outside)))
    assert c.in_support(outside).tolist() == [False, False]
    # the grid runs exactly over the support's edges, so the trapezoid rule has no outside points
    total, mean, cov = grid_integral_2d(c, (-4, -10), (4, 10), 0.01, moments=True)
    assert total == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(mean, c.mean(), atol=1e-4) and np.allclose(cov, c.covariance(), atol=1e-3)
    check_moments(c.sample(N_MOMENTS, 7), c.mean(), c.covariance())


# ---------------------------------------------------------------------------------------------------------------
# von Mises-Fisher mixtures


def scipy_vmf_mixture_logpdf(m: VonMisesFisherMixture, x: np.ndarray) -> np.ndarray:
    return logsumexp([math.log(w) + stats.vonmises_fisher(mu, k).logpdf(x)
                      for w, mu, k in zip(m.weights, m.means, m.kappas)], axis=0)


def test_circle_mixture_matches_scipy_and_integrates_to_one():
    m = syn.wmvl_circle_mixture()
    assert m.weights.tolist() == [0.7, 0.3] and m.kappas.tolist() == [2.0, 3.0]
    assert np.allclose(m.means, [[0, 1], [1 / math.sqrt(2), -1 / math.sqrt(2)]])
    theta = np.linspace(-math.pi, math.pi, 4000, endpoint=False)
    x = VonMisesFisherMixture.from_angles(theta)
    lp = m.log_prob(x)
    assert np.allclose(lp, scipy_vmf_mixture_logpdf(m, x), rtol=1e-10, atol=1e-12)
    # and against scipy's angular von Mises (density w.r.t. d theta = arc length)
    ref = np.logaddexp(math.log(0.7) + stats.vonmises.logpdf(theta, 2.0, loc=math.pi / 2),
                       math.log(0.3) + stats.vonmises.logpdf(theta, 3.0, loc=-math.pi / 4))
    assert np.allclose(lp, ref, rtol=1e-10, atol=1e-12)
    # periodic rectangle rule: integral over the circle's length 2 pi
    assert np.exp(lp).mean() * 2 * math.pi == pytest.approx(1.0, abs=1e-10)
    assert np.exp(m.log_prob(x, measure="uniform")).mean() == pytest.approx(1.0, abs=1e-10)


def test_sphere_mixture_matches_scipy_and_integrates_to_one():
    m = syn.wmvl_sphere_mixture()
    assert m.num_components == 4 and m.dim == 3
    assert np.all((m.kappas >= 1.1 - 1e-6) & (m.kappas <= math.sqrt(50) + 0.1 + 1e-6))
    assert m.weights.sum() == pytest.approx(1.0, abs=1e-15)
    # numpy's legacy stream for seed 23 starts 0.66698806, 0.02581308, -0.77761941 (the notebook's first mean)
    first = np.array([0.66698806, 0.02581308, -0.77761941])
    assert np.allclose(m.means[0], first / np.linalg.norm(first), atol=1e-7)

    polar_edges = np.linspace(0, math.pi, 401)
    polar = 0.5 * (polar_edges[1:] + polar_edges[:-1])
    azimuth = np.linspace(0, 2 * math.pi, 800, endpoint=False)
    pp, aa = np.meshgrid(polar, azimuth, indexing="ij")
    x = VonMisesFisherMixture.from_spherical(pp, aa)
    lp = m.log_prob(x)
    assert np.allclose(lp[::97], scipy_vmf_mixture_logpdf(m, x[::97]), rtol=1e-10, atol=1e-12)
    area_element = np.sin(pp).ravel() * (math.pi / 400) * (2 * math.pi / 800)
    assert (np.exp(lp) * area_element).sum() == pytest.approx(1.0, abs=1e-4)
    assert (area_element.sum()) == pytest.approx(4 * math.pi, rel=1e-4)


def test_vmf_normaliser_closed_forms_and_large_kappa():
    # p = 3: kappa / (4 pi sinh kappa); p = 2: 1 / (2 pi I0(kappa)); stable for large kappa (no overflow)
    for k in (0.5, 3.0, 40.0):
        m3 = VonMisesFisherMixture([1.0], [[0, 0, 1]], [k])
        assert m3.log_prob(np.array([[0.0, 0.0, 1.0]]))[0] == pytest.approx(
            k + math.log(k / (4 * math.pi * math.sinh(k))), rel=1e-12)
        m2 = VonMisesFisherMixture([1.0], [[1, 0]], [k])
        assert m2.log_prob(np.array([[1.0, 0.0]]))[0] == pytest.approx(k - math.log(2 * math.pi * iv(0, k)),
                                                                       rel=1e-12)
    big = VonMisesFisherMixture([1.0], [[0, 0, 1]], [5000.0])
    assert np.isfinite(big.log_prob(np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))).all()


def test_vmf_score_is_the_tangent_gradient():
    m = syn.wmvl_sphere_mixture()
    x = m.sample(30, 8)
    s = m.score(x)
    assert np.allclose((s * x).sum(axis=1), 0.0, atol=1e-12)
    rng = np.random.default_rng(9)
    for _ in range(3):  # directional derivative along random tangent directions, on the sphere
        t = rng.normal(size=x.shape)
        t -= (t * x).sum(axis=1, keepdims=True) * x
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        h = 1e-5

        def on_sphere(y):
            return y / np.linalg.norm(y, axis=1, keepdims=True)

        fd = (m.log_prob(on_sphere(x + h * t)) - m.log_prob(on_sphere(x - h * t))) / (2 * h)
        assert np.allclose((s * t).sum(axis=1), fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("factory", [syn.wmvl_circle_mixture, syn.wmvl_sphere_mixture])
def test_vmf_samples_unit_norm_and_mean_resultant(factory):
    m = factory()
    x = m.sample(N_MOMENTS, 12)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-12)
    p = m.dim
    a_p = iv(p / 2, m.kappas) / iv(p / 2 - 1, m.kappas)  # E[x] of one vMF component = A_p(kappa) mu
    mean = (m.weights * a_p) @ m.means
    se = x.std(axis=0) / math.sqrt(len(x))
    assert np.all(np.abs(x.mean(axis=0) - mean) <= 5 * se)


def test_vmf_refuses_points_off_the_sphere():
    with pytest.raises(ValueError, match="row 1 .* unit sphere"):
        syn.wmvl_circle_mixture().log_prob(np.array([[1.0, 0.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="measure"):
        syn.wmvl_circle_mixture().log_prob(np.array([[1.0, 0.0]]), measure="lebesgue")


# ---------------------------------------------------------------------------------------------------------------
# seeds, torch interop, the name table


@pytest.mark.parametrize("name", syn.SYNTHETIC_NAMES)
def test_same_seed_same_bytes(name):
    d = syn.synthetic_distribution(name)
    a, b, c = d.sample(500, 42), d.sample(500, 42), d.sample(500, 43)
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()
    assert d.sample(500, np.random.default_rng(42)).tobytes() == a.tobytes()
    t1 = d.sample_tensor(50, torch.Generator().manual_seed(5), dtype=torch.float64)
    t2 = d.sample_tensor(50, torch.Generator().manual_seed(5), dtype=torch.float64)
    assert torch.equal(t1, t2) and t1.shape == (50, d.dim)
    # one generator drives successive draws: the second differs from the first
    g = np.random.default_rng(1)
    assert d.sample(10, g).tobytes() != d.sample(10, g).tobytes()


def test_unseeded_draw_is_refused():
    with pytest.raises(TypeError, match="explicit seed"):
        Banana().sample(3, None)
    with pytest.raises(ValueError, match="non-negative"):
        Banana().sample(-1, 0)


def test_torch_in_torch_out():
    g = syn.ncsn_toy_gmm()
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    lp, sc = g.log_prob(x), g.score(x)
    assert isinstance(lp, torch.Tensor) and lp.dtype == torch.float32 and lp.shape == (6,)
    assert sc.dtype == torch.float32 and sc.shape == (6, 2)
    assert np.allclose(lp.numpy(), g.log_prob(x.double().numpy()), rtol=1e-6)
    assert Cosine().in_support(torch.tensor([[5.0, 0.0]])).tolist() == [False]


def test_unknown_synthetic_name_lists_known_ones():
    with pytest.raises(ValueError) as exc:
        syn.synthetic_distribution("swiss_roll")
    assert "'swiss_roll'" in str(exc.value) and all(n in str(exc.value) for n in syn.SYNTHETIC_NAMES)
