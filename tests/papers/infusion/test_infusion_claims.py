"""The Table 4 claims' verdicts follow from the numbers by their stated rules (both ways)."""

from __future__ import annotations

import pandas as pd

from scorerepro.papers.infusion.claims import sweep_claims


def _table(best_by_T, zero_bounds, constant_best, prior=800.0):
    rows = []
    for T in (1, 5, 10):
        for omega in (0.0, 0.03, 0.1):
            if T == 1 and omega:
                continue
            lb = zero_bounds[T] if omega == 0 else (1000.0 if best_by_T.get(T) == omega else 900.0)
            rows.append({"n_steps": T, "schedule": "increasing", "rate": omega, "test_lower_bound": lb})
        rows.append({"n_steps": T, "schedule": "constant", "rate": 0.1, "test_lower_bound": constant_best})
    t = pd.DataFrame(rows)
    t["factorial_prior_log_likelihood"] = prior
    t["dataset"], t["hidden"], t["layers"], t["n_iters"], t["n_test"] = "toy", 8, 2, 10, 5
    return t


def _verdicts(table):
    return {r["claim"][:20]: r["holds"] for r in sweep_claims(table)}


def test_claims_hold_when_the_numbers_say_so():
    v = _verdicts(_table({5: 0.1, 10: 0.03}, {1: 805.0, 5: 790.0, 10: 801.0}, 950.0))
    assert set(v.values()) == {"yes"}


def test_claims_fail_when_the_numbers_say_so():
    v = _verdicts(_table({5: 0.03, 10: 0.1}, {1: 805.0, 5: 600.0, 10: 801.0}, 1100.0))
    assert set(v.values()) == {"no"}


def test_rate_claims_untested_when_no_cell_beats_the_prior():
    v = _verdicts(_table({5: 0.1, 10: 0.03}, {1: 805.0, 5: 790.0, 10: 801.0}, 950.0, prior=5000.0))
    assert v["the best infusion ra"] == "untested" and v["an increasing infusi"] == "untested"
