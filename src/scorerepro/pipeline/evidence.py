"""Verdicts that are evidence: one claim-row shape for every paper, sanity gates, and decisions with an interval.

A `yes` or `no` in the claims table must come from a model that has learned (every gate of the row passed), by a
margin larger than its noise (the interval of the estimate lies wholly on one side of the rule's threshold), under a
rule that can go either way. Otherwise the verdict is `untested` (a gate failed, or the profile cannot measure the
claim; the note and the `gate` column say which and why) or `inconclusive` (the interval straddles the threshold).

Each paper's claims module builds its rows with :func:`claim_row`; the rows carry the columns of ROW_COLUMNS, which
the cross-paper `claims` stage puts together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

VERDICTS = ("yes", "no", "inconclusive", "untested")
ROW_COLUMNS = ["claim", "source", "measured", "holds", "estimate", "interval_low", "interval_high", "n", "gate",
               "note"]
#: Two-sided coverage of every interval in the claims table.
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided LEVEL interval; `n` counts the independent units behind it (samples, test
    points, seeds) and `method` says how the interval was had."""

    estimate: float
    low: float
    high: float
    n: int
    method: str

    def text(self, digits: int = 3) -> str:
        return (f"{self.estimate:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}] "
                f"({self.method}, n={self.n})")


@dataclass(frozen=True)
class Gate:
    """A sanity check a trained model passes and an untrained or broken one fails."""

    name: str
    passed: bool
    measured: str
    rule: str

    def text(self) -> str:
        return f"{self.name} {'passed' if self.passed else 'FAILED'}: {self.measured} (rule: {self.rule})"


def threshold_gate(name: str, value: float | None, limit: float, rule: str, *, below: bool = True,
                   digits: int = 4) -> Gate:
    """A gate that passes when `value` is below (or, with below=False, above) `limit`; a missing or non-finite value
    fails it."""
    ok = value is not None and math.isfinite(value) and (value < limit if below else value > limit)
    shown = "not measured" if value is None else f"{value:.{digits}g} vs {limit:.{digits}g}"
    return Gate(name, bool(ok), shown, rule)


def decide(interval: Interval, threshold: float = 0.0, *, above: bool = True) -> str:
    """`yes` when the whole interval lies beyond `threshold` in the claimed direction (above it, or below it with
    above=False), `no` when the whole interval lies on the other side, `inconclusive` when it straddles it."""
    lo, hi = interval.low, interval.high
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if above:
        return "yes" if lo > threshold else "no" if hi < threshold else "inconclusive"
    return "yes" if hi < threshold else "no" if lo > threshold else "inconclusive"


def normal_interval(estimate: float, se: float, n: int, method: str) -> Interval:
    """estimate +- z * se, the normal interval at LEVEL."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + LEVEL / 2))
    return Interval(float(estimate), float(estimate - z * se), float(estimate + z * se), int(n), method)


def difference_interval(a: float, se_a: float, b: float, se_b: float, n: int, method: str) -> Interval:
    """The interval of a - b for two independent estimates with standard errors se_a and se_b."""
    return normal_interval(a - b, math.hypot(se_a, se_b), n, method)


def mean_interval(values: Sequence[float], method: str = "t interval over repetitions") -> Interval:
    """The mean of independent repetitions (seeds, chains) with Student's t interval at LEVEL (scipy.stats.t)."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        v = float(x.mean()) if x.size else float("nan")
        return Interval(v, float("-inf"), float("inf"), int(x.size), method + " (one value: no interval)")
    lo, hi = stats.t.interval(LEVEL, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    return Interval(float(x.mean()), float(lo), float(hi), int(x.size), method)


def bootstrap_interval(statistic: Callable[..., float], *samples: np.ndarray, n_boot: int = 1000, seed: int = 0,
                       method: str | None = None) -> Interval:
    """A percentile bootstrap interval of `statistic(*samples)`, each sample resampled along its first axis,
    independently of the others (scipy.stats.bootstrap with independent samples), at LEVEL."""
    from scipy import stats

    arrays = [np.asarray(s) for s in samples]
    res = stats.bootstrap(arrays, statistic, n_resamples=n_boot, confidence_level=LEVEL, method="percentile",
                          vectorized=False, paired=False, random_state=np.random.default_rng(seed))
    n = min(len(a) for a in arrays)
    return Interval(float(statistic(*arrays)), float(res.confidence_interval.low),
                    float(res.confidence_interval.high), n,
                    method or f"percentile bootstrap, {n_boot} resamples")


def _verdict(holds: Any) -> str:
    if isinstance(holds, (bool, np.bool_)):
        return "yes" if holds else "no"
    if holds not in VERDICTS:
        raise ValueError(f"a claim's verdict must be one of {VERDICTS} or a bool, got {holds!r}")
    return holds


def claim_row(claim: str, source: str, measured: str, holds: Any, note: str = "", *,
              interval: Interval | None = None, gates: Iterable[Gate] = ()) -> dict[str, Any]:
    """One row of a paper's claims table. A `yes`/`no` whose gates did not all pass becomes `untested`, the note
    naming the failed gate and its measured value."""
    gates = list(gates)
    verdict = _verdict(holds)
    failed = [g for g in gates if not g.passed]
    if failed and verdict in ("yes", "no", "inconclusive"):
        verdict = "untested"
        note = "; ".join(["model failed its sanity gate: " + "; ".join(g.text() for g in failed)]
                         + ([note] if note else []))
    return {"claim": claim, "source": source, "measured": measured, "holds": verdict,
            "estimate": interval.estimate if interval else None,
            "interval_low": interval.low if interval else None,
            "interval_high": interval.high if interval else None,
            "n": interval.n if interval else None,
            "gate": "; ".join(g.text() for g in gates),
            "note": (note + "; " if note and interval else note) + (f"interval: {interval.method}" if interval
                                                                      else "")}



def binomial_interval(successes: int, trials: int, method: str = "wilson") -> Interval:
    """A measured fraction successes/trials with its LEVEL interval (scipy.stats.binomtest's proportion_ci:
    `wilson`, or `exact` for Clopper-Pearson)."""
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=LEVEL, method=method)
    return Interval(successes / trials, float(ci.low), float(ci.high), int(trials), f"binomial {method} interval")


def decide_band(interval: Interval, low: float, high: float, *, inside: bool = True) -> str:
    """For a claim that the quantity lies inside [low, high] (or, with inside=False, outside it): `yes` when the
    whole interval is on the claimed side, `no` when the whole interval is on the other, else `inconclusive`."""
    lo, hi = interval.low, interval.high
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    within = low <= lo and hi <= high
    beyond = hi < low or lo > high
    if within or beyond:
        return "yes" if within == inside else "no"
    return "inconclusive"
