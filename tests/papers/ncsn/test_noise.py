import math

import numpy as np
import pytest
import torch

from scorerepro.papers.ncsn.noise import geometric_sigmas, linear_sigmas, make_sigmas


def test_geometric_matches_official_numpy_closed_form():
    # The official code: np.exp(np.linspace(np.log(1), np.log(0.01), 10)), then .float().
    expected = np.exp(np.linspace(np.log(1.0), np.log(0.01), 10)).astype(np.float32)
    got = geometric_sigmas(1.0, 0.01, 10)
    assert got.dtype == torch.float32 and got.shape == (10,)
    np.testing.assert_array_equal(got.numpy(), expected)
    # A geometric sequence: constant ratio (0.01)^(1/9).
    ratios = (got[1:].double() / got[:-1].double()).numpy()
    np.testing.assert_allclose(ratios, 0.01 ** (1 / 9), rtol=1e-6)


def test_geometric_official_toy_schedule():
    expected = np.exp(np.linspace(np.log(20.0), 0.0, 10)).astype(np.float32)
    got = make_sigmas("geometric", 20.0, 1.0, 10)
    np.testing.assert_array_equal(got.numpy(), expected)
    assert got[0].item() == pytest.approx(20.0) and got[-1].item() == pytest.approx(1.0)


def test_linear_closed_form():
    got = linear_sigmas(1.0, 0.01, 10)
    expected = np.array([1.0 - k * 0.11 for k in range(10)], dtype=np.float32)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-7)
    assert got.dtype == torch.float32
    np.testing.assert_array_equal(make_sigmas("linear", 1.0, 0.01, 10).numpy(), got.numpy())
    assert torch.all(got[:-1] > got[1:])


def test_single_level_baseline():
    for schedule in ("geometric", "linear"):
        got = make_sigmas(schedule, 0.01, 0.01, 1)
        assert got.shape == (1,) and got.dtype == torch.float32
        assert got.item() == pytest.approx(0.01, rel=1e-7)


@pytest.mark.parametrize(
    "args, needle",
    [
        ((0.01, 1.0, 10), "sigma_begin=0.01"),
        ((1.0, 1.0, 10), "sigma_end=1.0"),
        ((1.0, 0.01, 0), "got 0"),
        ((1.0, 0.01, -3), "got -3"),
        ((1.0, 0.01, 2.5), "2.5"),
        ((-1.0, -2.0, 10), "-1.0"),
        ((1.0, 0.0, 10), "sigma_end"),
        ((float("nan"), 0.01, 10), "nan"),
        ((1.0, 0.01, 1), "sigma_end=0.01"),
    ],
)
def test_bad_inputs_name_the_value(args, needle):
    for fn in (geometric_sigmas, linear_sigmas):
        with pytest.raises(ValueError) as err:
            fn(*args)
        assert needle in str(err.value)


def test_unknown_schedule():
    with pytest.raises(ValueError, match="'cosine'.*geometric, linear"):
        make_sigmas("cosine", 1.0, 0.01, 10)


def test_numpy_integer_levels_accepted():
    got = geometric_sigmas(1.0, 0.01, np.int64(5))
    assert got.shape == (5,)
    assert math.isclose(got[2].item(), 0.1, rel_tol=1e-6)
