"""Fréchet distance: closed forms, self-distance, pytorch-fid's handling of singular / complex sqrtm, stats files."""

import warnings

import numpy as np
import pytest
from scipy import linalg
from scipy.stats import ortho_group

from scorerepro.metrics.fid import (
    compute_statistics,
    fid_from_features,
    frechet_distance,
    load_statistics,
    save_statistics,
)


def _pytorch_fid(mu1, s1, mu2, s2):
    from pytorch_fid.fid_score import calculate_frechet_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calculate_frechet_distance(mu1, s1, mu2, s2)


def _psd_sqrt(s):
    """Symmetric PSD square root by eigendecomposition (independent of scipy's sqrtm)."""
    w, v = linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(0)
    d = 7
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.1, 3, size=d), rng.uniform(0.1, 3, size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_commuting_covariances_closed_form():
    # S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T commute: tr((S1 S2)^1/2) = sum sqrt(a_i b_i).
    d = 10
    q = ortho_group.rvs(d, random_state=1)
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.05, 4, size=d), rng.uniform(0.05, 4, size=d)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_general_covariances_match_symmetric_formula():
    # tr((S1 S2)^1/2) = tr((S1^1/2 S2 S1^1/2)^1/2), computed here with eigh only.
    rng = np.random.default_rng(2)
    d = 12
    x, y = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = x @ x.T / d + 0.1 * np.eye(d), y @ y.T / d + 0.1 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    r1 = _psd_sqrt(s1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(_psd_sqrt(r1 @ s2 @ r1))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_pytorch_fid(mu1, s1, mu2, s2), rel=1e-10)


def test_statistics_are_float64_unbiased():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    mu, sigma = compute_statistics(x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    xc = x.astype(np.float64) - x.astype(np.float64).mean(0)
    np.testing.assert_allclose(sigma, xc.T @ xc / (50 - 1), rtol=1e-12)
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
    import torch

    mu_t, sigma_t = compute_statistics(torch.from_numpy(x))
    np.testing.assert_allclose(sigma_t, sigma)
    with pytest.raises(ValueError):
        compute_statistics(x[:1])


def test_fid_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(4)
    feats = rng.normal(size=(300, 32)) * rng.uniform(0.1, 5, size=32)
    assert abs(fid_from_features(feats, compute_statistics(feats))) < 1e-8
    # and moving the mean by delta adds exactly |delta|^2
    shifted = feats + 0.5
    assert fid_from_features(shifted, compute_statistics(feats)) == pytest.approx(32 * 0.25, rel=1e-8)


def test_nearly_singular_fewer_samples_than_dims():
    # 6 samples in 20 dims: rank-5 covariances; sqrtm of the product comes back complex with tiny imaginary parts,
    # which pytorch-fid discards. The distance of the set with itself must still be ~0, and equal pytorch-fid's.
    rng = np.random.default_rng(5)
    a = rng.normal(size=(6, 20))
    mu, s = compute_statistics(a)
    covmean = linalg.sqrtm(s @ s)
    assert np.iscomplexobj(covmean)  # the case this test is about
    d = frechet_distance(mu, s, mu, s)
    assert isinstance(d, float) and abs(d) < 1e-5
    assert d == pytest.approx(_pytorch_fid(mu, s, mu, s), abs=1e-9)
    b = rng.normal(size=(6, 20)) + 0.3
    mu_b, s_b = compute_statistics(b)
    assert frechet_distance(mu, s, mu_b, s_b) == pytest.approx(_pytorch_fid(mu, s, mu_b, s_b), rel=1e-9)


def test_large_imaginary_component_raises_like_pytorch_fid():
    s1, s2 = np.diag([1.0, -1.0]), np.eye(2)  # not a covariance: sqrt of -1 on the diagonal
    mu = np.zeros(2)
    with pytest.raises(ValueError, match="Imaginary component"):
        frechet_distance(mu, s1, mu, s2)
    with pytest.raises(ValueError, match="Imaginary component"):
        _pytorch_fid(mu, s1, mu, s2)


def test_non_finite_sqrtm_takes_eps_path_like_pytorch_fid():
    s1, s2 = np.array([[0.0, 1.0], [0.0, 0.0]]), np.eye(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if np.isfinite(linalg.sqrtm(s1 @ s2)).all():
            pytest.skip("this SciPy returns a finite sqrtm for the nilpotent matrix; eps path not reachable")
    mu = np.zeros(2)
    with pytest.warns(RuntimeWarning, match="singular product"):
        d = frechet_distance(mu, s1, mu, s2)
    assert np.isfinite(d)
    assert d == pytest.approx(_pytorch_fid(mu, s1, mu, s2), rel=1e-9)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_statistics_file_roundtrip_and_pytorch_fid_layout(tmp_path):
    rng = np.random.default_rng(6)
    mu, sigma = compute_statistics(rng.normal(size=(40, 5)))
    path = tmp_path / "sub" / "ref_stats.npz"
    save_statistics(path, mu, sigma, meta={"n": 40, "split": "train"})
    assert sorted(p.name for p in path.parent.iterdir()) == ["ref_stats.npz"]  # no temporary left behind
    mu2, sigma2, meta = load_statistics(path, with_meta=True)
    np.testing.assert_array_equal(mu2, mu)
    np.testing.assert_array_equal(sigma2, sigma)
    assert meta == {"n": 40, "split": "train"}
    with np.load(path) as data:  # what pytorch-fid's load of a .npz reads
        np.testing.assert_array_equal(data["mu"], mu)
    # a file written the way pytorch-fid --save-stats writes it
    np.savez(tmp_path / "pf.npz", mu=mu, sigma=sigma)
    assert fid_from_features(rng.normal(size=(40, 5)), tmp_path / "pf.npz") > 0
    with pytest.raises(FileNotFoundError):
        load_statistics(tmp_path / "missing.npz")


def test_real_data_floor_shrinks_with_the_sample_count_and_matches_direct_fids():
    """Samples of the reference distribution itself: their FID is pure estimation bias, which shrinks as n grows
    (the reason a generator's FID needs a floor at its own n); each value is the plain FID of a seeded subset."""
    from scorerepro.metrics.fid import fid_of_subsets

    rng = np.random.default_rng(0)
    d = 6
    real = rng.standard_normal((2000, d))
    ref = (np.zeros(d), np.eye(d))
    floors = [fid_of_subsets(real, ref, n, repeats=5, seed=1)["mean"] for n in (50, 200, 1000)]
    assert floors[0] > floors[1] > floors[2] > 0
    # the mean term alone is d / n in expectation: the floor at 50 is at least about that
    assert floors[0] > 0.5 * d / 50
    pick = np.random.default_rng(1)
    direct = [frechet_distance(*_stats(real[pick.choice(2000, 50, replace=False)]), *ref) for _ in range(5)]
    assert fid_of_subsets(real, ref, 50, repeats=5, seed=1)["mean"] == pytest.approx(np.mean(direct), rel=1e-9)
    whole = fid_of_subsets(real, ref, 5000)
    assert whole["n_used"] == 2000 and whole["repeats"] == 1


def _stats(x):
    return x.mean(axis=0), np.cov(x, rowvar=False)


def test_fid_bootstrap_replicates_are_frechet_distances_of_resamples():
    from scorerepro.metrics.fid import compute_statistics, fid_bootstrap, frechet_distance

    rng = np.random.default_rng(3)
    ref = compute_statistics(rng.normal(size=(500, 6)))
    feats = rng.normal(0.3, 1.2, size=(80, 6))
    reps = fid_bootstrap(feats, ref, n_boot=5, seed=7)
    draw = np.random.default_rng(7)
    for r in reps:
        mu, sigma = compute_statistics(feats[draw.integers(0, 80, 80)])
        assert r == pytest.approx(frechet_distance(mu, sigma, *ref), rel=1e-7, abs=1e-9)


def test_fid_bootstrap_spread_shrinks_with_more_samples():
    from scorerepro.metrics.fid import compute_statistics, fid_bootstrap

    rng = np.random.default_rng(4)
    ref = compute_statistics(rng.normal(size=(2000, 4)))
    small = np.std(fid_bootstrap(rng.normal(0.5, 1, (50, 4)), ref, 200))
    large = np.std(fid_bootstrap(rng.normal(0.5, 1, (800, 4)), ref, 200))
    assert large < small / 2
