import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.neighbors import KernelDensity

from scorerepro.metrics.parzen import parzen_log_density, parzen_log_likelihood, parzen_with_validation, select_sigma


def test_matches_brute_force_scipy_sum_of_gaussians():
    rng = np.random.default_rng(0)
    centres, points = rng.random((60, 12)), rng.random((9, 12))
    for sigma in (0.05, 0.1, 1.0):
        per_centre = np.stack([multivariate_normal(c, sigma**2 * np.eye(12)).logpdf(points) for c in centres])
        ref = logsumexp(per_centre, axis=0) - np.log(len(centres))
        np.testing.assert_allclose(parzen_log_density(points, centres, sigma).numpy(), ref, rtol=1e-10)


def test_matches_scikit_learn_kernel_density():
    # scikit-learn's tree code loses precision when every kernel is far in the tails (sigma 0.1 in 12-D here: it
    # is off by ~14 nats against the brute-force sum above), so it is the reference only at moderate bandwidths.
    rng = np.random.default_rng(0)
    centres, points = rng.random((300, 12)), rng.random((57, 12))
    for sigma in (0.35, 1.0):
        ref = KernelDensity(bandwidth=sigma, kernel="gaussian").fit(centres).score_samples(points)
        ours = parzen_log_density(points, centres, sigma, batch_size=10).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_one_centre_is_a_gaussian_log_density():
    x = np.array([[0.3, -1.2, 2.0]])
    mu = np.array([[0.1, 0.0, 1.0]])
    expect = multivariate_normal(mu[0], 0.7**2 * np.eye(3)).logpdf(x[0])
    assert parzen_log_density(x, mu, 0.7).item() == pytest.approx(expect, rel=1e-12)


def test_stderr_and_images_are_flattened():
    rng = np.random.default_rng(1)
    centres, points = rng.random((40, 1, 4, 4)), rng.random((30, 1, 4, 4))
    res = parzen_log_likelihood(torch.tensor(points), torch.tensor(centres), 0.2)
    ll = parzen_log_density(points.reshape(30, -1), centres.reshape(40, -1), 0.2).numpy()
    assert res.mean == pytest.approx(ll.mean()) and res.stderr == pytest.approx(ll.std() / math.sqrt(30))
    assert (res.n_points, res.n_centres) == (30, 40)


def test_sigma_selection_picks_the_validation_best():
    rng = np.random.default_rng(2)
    centres = rng.normal(0, 1, (500, 2))
    valid = rng.normal(0, 1, (200, 2))
    sigma, means = select_sigma(valid, centres, sigmas=(0.01, 0.3, 5.0))
    assert sigma == 0.3 and means[0.3] > means[0.01] and means[0.3] > means[5.0]
    res = parzen_with_validation(valid, valid, centres, sigmas=(0.01, 0.3, 5.0))
    assert res.sigma == 0.3 and res.validation_by_sigma == means


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="sigma"):
        parzen_log_density(np.zeros((1, 2)), np.zeros((1, 2)), 0.0)
    with pytest.raises(ValueError, match="dimensions"):
        parzen_log_density(np.zeros((1, 2)), np.zeros((1, 3)), 0.1)
