"""Each infusion rule reads `yes`, `no` and `inconclusive` when the synthetic numbers say so, and `untested` when the
model it depends on fails the sanity gate (its bound does not beat the best x-independent output)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scorerepro.papers.infusion import claims as C
from scorerepro.pipeline.evidence import ROW_COLUMNS

N = 60
REF = 700.0  # the best x-independent output's mean log-likelihood
BASE = np.random.default_rng(0).normal(0.0, 30.0, N)  # what every model finds easy or hard, per test point


def _points(mean: float, noise: float, seed: int) -> np.ndarray:
    return mean + BASE + np.random.default_rng(seed).normal(0.0, noise, N)


def _sweep(means: dict, noise: float = 5.0):
    """means: {(T, schedule, rate): mean bound}; returns (table4, table4_points) as the sweep stage writes them."""
    rows, points = [], []
    for i, ((T, schedule, rate), mean) in enumerate(sorted(means.items())):
        v = _points(mean, noise, i + 1)
        cell = {"n_steps": T, "schedule": schedule, "rate": rate}
        rows.append({**cell, "test_lower_bound": float(v.mean()), "test_lower_bound_stderr": 1.0,
                     "factorial_prior_log_likelihood": 800.0, "best_independent_log_likelihood": REF,
                     "n_test": N, "k": 1, "hidden": 8, "layers": 2, "n_iters": 10, "dataset": "toy"})
        points += [{**cell, "point": j, "test_lower_bound": float(x), "best_independent": float(REF + BASE[j])}
                   for j, x in enumerate(v)]
    return pd.DataFrame(rows), pd.DataFrame(points)


def _grid(zero5, inc5, con5, zero10, inc10, con10, low5=None, low10=None):
    """T=5 and 10 with omegas 0, 0.03, 0.1 and one constant alpha; inc = the best omega's (0.1 at T=5, 0.03 at
    T=10 unless low5/low10 give the other omega's bound)."""
    return {(5, "increasing", 0.0): zero5, (5, "increasing", 0.1): inc5,
            (5, "increasing", 0.03): inc5 - 40 if low5 is None else low5, (5, "constant", 0.05): con5,
            (10, "increasing", 0.0): zero10, (10, "increasing", 0.03): inc10,
            (10, "increasing", 0.1): inc10 - 40 if low10 is None else low10, (10, "constant", 0.05): con10}


def _verdict(rule, means, noise=5.0):
    table, points = _sweep(means, noise)
    gate = C.sweep_gate(table, points)
    return rule(table, points, gate, "toy")


def test_infusion_vs_none_reads_yes_no_inconclusive():
    rule = C.infusion_vs_none
    assert _verdict(rule, _grid(650, 900, 800, 650, 880, 800))["holds"] == "yes"
    assert _verdict(rule, _grid(950, 900, 800, 650, 880, 800))["holds"] == "no"
    row = _verdict(rule, _grid(899, 900, 800, 650, 880, 800))
    assert row["holds"] == "inconclusive" and row["interval_low"] < 0 < row["interval_high"] and row["n"] == N


def test_increasing_vs_constant_reads_yes_no_inconclusive():
    rule = C.increasing_vs_constant
    assert _verdict(rule, _grid(650, 900, 800, 650, 880, 800))["holds"] == "yes"
    assert _verdict(rule, _grid(650, 900, 950, 650, 880, 800))["holds"] == "no"
    assert _verdict(rule, _grid(650, 900, 899, 650, 880, 800))["holds"] == "inconclusive"


def test_best_omega_falls_reads_yes_no_inconclusive():
    rule = C.best_omega_falls
    # best omega 0.1 at T=5, 0.03 at T=10, each clearly ahead
    row = _verdict(rule, _grid(650, 900, 800, 650, 880, 800))
    assert row["holds"] == "yes" and row["interval_low"] > 0
    # 0.1 best at both T
    row = _verdict(rule, _grid(650, 900, 800, 650, 840, 800, low10=880))
    assert row["holds"] == "no" and row["interval_high"] < 0
    # at T=10 the two omegas are within noise of each other
    row = _verdict(rule, _grid(650, 900, 800, 650, 880, 800, low10=879))
    assert row["holds"] == "inconclusive" and row["interval_low"] < 0 < row["interval_high"]


@pytest.mark.parametrize("rule", [C.infusion_vs_none, C.increasing_vs_constant, C.best_omega_falls])
def test_sweep_rules_untested_when_no_cell_beats_the_x_independent_output(rule):
    row = _verdict(rule, _grid(400, 650, 550, 400, 640, 550))
    assert row["holds"] == "untested" and C.GATE in row["note"]


def _metrics(bound_mean: float) -> dict:
    stats = {"mean": bound_mean, "std": 1.0, "repetitions": 3}
    keys = ("lower_bound_test", "is_estimate_test", "lower_bound_train", "is_estimate_train",
            "isotropic_is_estimate_test", "isotropic_is_estimate_train")
    return {"dataset": "toy", "setting": "T=2", "k": 2, "n_test": N, "n_train": 4, **{k: stats for k in keys},
            "isotropic_variance": 0.05, "factorial_prior_log_likelihood_test": 800.0,
            "test_points": {"lower_bound": list(_points(bound_mean, 5.0, 9)),
                            "best_independent": list(REF + BASE)},
            "parzen_validation_sigma": {"sigma": 0.2, "mean": 1.0, "stderr": 1.0, "n_test": 5, "n_samples": 5,
                                        "n_validation": 5},
            "parzen_fixed_sigma": {"sigma": 0.17, "mean": 1.0, "stderr": 1.0, "n_test": 5, "n_samples": 5}}


def test_main_gate_passes_a_trained_model_and_fails_an_untrained_one():
    assert C.main_gate(_metrics(900.0)).passed
    failed = C.main_gate(_metrics(400.0))
    assert not failed.passed and "-300" in failed.measured


def test_main_model_rows_show_the_gate():
    rows = C.model_claims(_metrics(400.0))
    assert all(r["holds"] == "untested" for r in rows)
    assert "FAILED" in rows[0]["gate"]


def test_evaluate_reads_results_files(tmp_path):
    table, points = _sweep(_grid(650, 900, 800, 650, 880, 800))
    (tmp_path / "metrics.json").write_text(json.dumps(_metrics(900.0)))
    table.to_csv(tmp_path / "table4.csv", index=False)
    points.to_csv(tmp_path / "table4_points.csv", index=False)
    out = C.evaluate({}, tmp_path)
    assert list(out.columns) == ROW_COLUMNS
    assert set(out["holds"]) == {"yes", "untested"}
    lines = C.context_lines(_metrics(900.0), table)
    assert any("Jensen" in line for line in lines)
