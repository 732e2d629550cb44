"""Blocked k-NN against brute force (float64 numpy: all distances, full sort)."""

import numpy as np
import pytest
import torch

from scorerepro.metrics.knn import knn, knn_min_over_views


def _brute(q, r, k):
    q, r = q.reshape(len(q), -1).astype(np.float64), r.reshape(len(r), -1).astype(np.float64)
    d = np.sqrt(((q[:, None, :] - r[None, :, :]) ** 2).sum(-1))
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, 1), idx


@pytest.mark.parametrize("qb,rb", [(8, 16), (5, 7), (1000, 1000), (37, 101)])
def test_matches_brute_force_with_uneven_blocks(qb, rb):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(37, 13)).astype(np.float32)
    r = rng.normal(size=(101, 13)).astype(np.float32)
    d, i = knn(q, r, k=5, query_batch=qb, ref_batch=rb, device="cpu")
    d_ref, i_ref = _brute(q, r, 5)
    np.testing.assert_array_equal(i.numpy(), i_ref)
    np.testing.assert_allclose(d.numpy(), d_ref, rtol=1e-5, atol=1e-6)
    assert d.shape == (37, 5) and i.dtype == torch.int64


def test_images_and_uint8_inputs():
    rng = np.random.default_rng(1)
    r = rng.integers(0, 256, size=(60, 1, 6, 6), dtype=np.uint8)
    q = rng.integers(0, 256, size=(9, 1, 6, 6), dtype=np.uint8)
    d, i = knn(torch.from_numpy(q), torch.from_numpy(r), k=3, query_batch=4, ref_batch=11, device="cpu")
    d_ref, i_ref = _brute(q / 255.0, r / 255.0, 3)
    np.testing.assert_array_equal(i.numpy(), i_ref)
    np.testing.assert_allclose(d.numpy(), d_ref, rtol=1e-5)


def test_exact_duplicates_found_at_distance_zero():
    # the queries are rows of the references; large blocks make cdist use its matmul form, whose cancellation
    # would give nonzero distances without the exact recomputation.
    rng = np.random.default_rng(2)
    r = (rng.normal(size=(500, 784)) * 50 + 100).astype(np.float32)
    rows = np.array([3, 77, 499, 250])
    d, i = knn(r[rows], r, k=2, query_batch=64, ref_batch=256, device="cpu")
    np.testing.assert_array_equal(i[:, 0].numpy(), rows)
    assert torch.all(d[:, 0] == 0)
    assert torch.all(d[:, 1] > 0)


def test_k_bounds():
    q, r = np.zeros((2, 3), np.float32), np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    d, i = knn(q, r, k=4, ref_batch=3, device="cpu")  # k equal to the number of references: all, sorted
    assert sorted(i[0].tolist()) == [0, 1, 2, 3] and torch.all(d[:, 1:] >= d[:, :-1])
    with pytest.raises(ValueError):
        knn(q, r, k=5, device="cpu")
    with pytest.raises(ValueError):
        knn(q, np.zeros((4, 2), np.float32), k=1, device="cpu")


@pytest.mark.parametrize("k", [1, 4, 9])
def test_min_over_views_matches_brute_force(k):
    rng = np.random.default_rng(5)
    q = rng.normal(size=(23, 2, 3, 4)).astype(np.float32)
    r = rng.normal(size=(60, 2, 3, 4)).astype(np.float32)
    r[:10] = q[:10, :, :, ::-1]  # some references are mirror images of queries: several views reach them
    views = [q, np.ascontiguousarray(q[..., ::-1])]
    d, i, v = knn_min_over_views(views, r, k=k, query_batch=7, ref_batch=16, device="cpu")
    flat = [x.reshape(len(x), -1).astype(np.float64) for x in (*views, r)]
    per_view = np.stack([np.sqrt(((a[:, None] - flat[2][None]) ** 2).sum(-1)) for a in flat[:2]])
    best = per_view.min(0)
    i_ref = np.argsort(best, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(i.numpy(), i_ref)
    np.testing.assert_allclose(d.numpy(), np.take_along_axis(best, i_ref, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(v.numpy(), np.take_along_axis(per_view.argmin(0), i_ref, 1))
    assert all(len(set(row)) == k for row in i.numpy())  # each reference once per query
    # the mirrored references are found at distance 0 by the flipped view
    assert (i[:10, 0].numpy() == np.arange(10)).all() and (d[:10, 0] < 1e-5).all() and (v[:10, 0] == 1).all()


def test_min_over_views_with_one_view_is_knn():
    rng = np.random.default_rng(6)
    q, r = rng.normal(size=(9, 5)).astype(np.float32), rng.normal(size=(30, 5)).astype(np.float32)
    d, i, v = knn_min_over_views([q], r, k=3, device="cpu")
    d0, i0 = knn(q, r, k=3, device="cpu")
    assert torch.equal(i, i0) and torch.equal(d, d0) and not v.any()
    with pytest.raises(ValueError, match="same number"):
        knn_min_over_views([q, q[:4]], r, k=3, device="cpu")
