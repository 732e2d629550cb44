"""The shared verdict rules: each decision can read yes, no and inconclusive; gates turn verdicts into untested;
intervals against scipy's own."""

import numpy as np
import pytest
from scipy import stats

from scorerepro.pipeline.evidence import (Gate, Interval, bootstrap_interval, claim_row, decide, difference_interval,
                                          mean_interval, normal_interval, threshold_gate)


def _iv(lo, hi):
    return Interval((lo + hi) / 2, lo, hi, 10, "test")


@pytest.mark.parametrize("lo, hi, above, verdict", [
    (0.1, 0.5, True, "yes"), (-0.5, -0.1, True, "no"), (-0.1, 0.5, True, "inconclusive"),
    (-0.5, -0.1, False, "yes"), (0.1, 0.5, False, "no"), (-0.1, 0.1, False, "inconclusive"),
    (float("-inf"), float("inf"), True, "inconclusive")])
def test_decide_reads_every_verdict(lo, hi, above, verdict):
    assert decide(_iv(lo, hi), 0.0, above=above) == verdict


def test_decide_threshold_is_honoured():
    assert decide(_iv(1.1, 1.5), 1.0) == "yes"
    assert decide(_iv(1.1, 1.5), 1.2) == "inconclusive"
    assert decide(_iv(1.1, 1.5), 2.0) == "no"


def test_normal_and_difference_intervals():
    iv = normal_interval(10.0, 2.0, 50, "m")
    z = stats.norm.ppf(0.975)
    assert iv.low == pytest.approx(10 - 2 * z) and iv.high == pytest.approx(10 + 2 * z) and iv.n == 50
    d = difference_interval(5.0, 3.0, 1.0, 4.0, 20, "d")
    assert d.estimate == 4.0 and d.high - d.estimate == pytest.approx(5.0 * z)


def test_mean_interval_matches_scipy_t():
    x = [1.0, 2.0, 4.0, 3.5]
    iv = mean_interval(x)
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(x), scale=stats.sem(x))
    assert (iv.low, iv.high, iv.n) == (pytest.approx(lo), pytest.approx(hi), 4)
    one = mean_interval([3.0])
    assert decide(one, 0.0) == "inconclusive"


def test_bootstrap_interval_covers_mean_and_separates_shifted_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 1.0, 400), rng.normal(0.5, 1.0, 400)
    diff = bootstrap_interval(lambda x, y: np.mean(y) - np.mean(x), a, b, n_boot=500)
    assert diff.low > 0.2 and diff.high < 0.8 and decide(diff, 0.0) == "yes"
    same = bootstrap_interval(lambda x, y: np.mean(y) - np.mean(x), a, rng.normal(0.0, 1.0, 400), n_boot=500)
    assert decide(same, 0.0) == "inconclusive"


def test_claim_row_gate_failure_makes_untested_and_names_the_gate():
    g = threshold_gate("FID within 10x the real-data floor", 900.0, 470.0, "fid < 10 x floor")
    row = claim_row("c", "s", "m", True, "rule: x", gates=[g], interval=_iv(0.1, 0.2))
    assert row["holds"] == "untested"
    assert "FAILED" in row["note"] and "900" in row["note"] and "rule: x" in row["note"]
    ok = threshold_gate("FID within 10x the real-data floor", 300.0, 470.0, "fid < 10 x floor")
    row = claim_row("c", "s", "m", np.bool_(False), gates=[ok], interval=_iv(-0.2, -0.1))
    assert row["holds"] == "no" and row["interval_low"] == -0.2 and "passed" in row["gate"]


def test_threshold_gate_directions_and_missing_values():
    assert threshold_gate("g", 1.0, 2.0, "r").passed
    assert not threshold_gate("g", 3.0, 2.0, "r").passed
    assert threshold_gate("g", 3.0, 2.0, "r", below=False).passed
    assert not threshold_gate("g", None, 2.0, "r").passed
    assert not threshold_gate("g", float("nan"), 2.0, "r", below=False).passed


def test_claim_row_refuses_unknown_verdicts():
    with pytest.raises(ValueError, match="verdict"):
        claim_row("c", "s", "m", "maybe")
    assert Gate("g", True, "1", "r").text().startswith("g passed")


def test_binomial_interval_matches_scipy():
    from scorerepro.pipeline.evidence import binomial_interval

    iv = binomial_interval(80, 100)
    ci = stats.binomtest(80, 100).proportion_ci(confidence_level=0.95, method="wilson")
    assert (iv.estimate, iv.low, iv.high, iv.n) == (0.8, pytest.approx(ci.low), pytest.approx(ci.high), 100)


@pytest.mark.parametrize("lo, hi, inside, verdict", [
    (0.78, 0.82, True, "yes"), (0.5, 0.6, True, "no"), (0.75, 0.82, True, "inconclusive"),
    (0.5, 0.6, False, "yes"), (0.78, 0.82, False, "no"), (0.75, 0.82, False, "inconclusive"),
    (0.9, 0.95, False, "yes"), (float("nan"), 0.8, True, "inconclusive")])
def test_decide_band_reads_every_verdict(lo, hi, inside, verdict):
    from scorerepro.pipeline.evidence import decide_band

    assert decide_band(_iv(lo, hi), 0.77, 0.83, inside=inside) == verdict
