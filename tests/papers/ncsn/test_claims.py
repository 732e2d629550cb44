"""NCSN's claims table (papers/ncsn/claims.py) on the tiny profile's kind of run (issue #16): a claim judged on
too little data, or on another setting than the one it is about, says `untested` and why; the notes describe the
run that was made (a 3-level model is not called 10-level)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scorerepro.config import load_params
from scorerepro.papers.ncsn import claims
from scorerepro.papers.ncsn.toy_studies import OFFICIAL_FIG3

REPO = Path(__file__).resolve().parents[3]


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def _fig3(n_points: int, annealed: dict, plain_steps: int, w: float, wl: float) -> dict:
    return {"settings": {"n_points": n_points, "annealed": {"official": annealed}},
            "results": {"exact": {"mode_fractions": {"(5, 5)": 0.8}},
                        "langevin": {"eps": 0.1, "n_steps": plain_steps, "mode_fractions": {"(5, 5)": wl}},
                        "official": {"mode_fractions": {"(5, 5)": w}}}}


def _fig3_rows(tmp_path, monkeypatch, **kw):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "results/ncsn/toy/fig3_langevin/metrics.json", _fig3(**kw))
    rows = {r["claim"].split(" ")[0]: r for r in claims._toy_claims()}
    return rows["Annealed"], rows["Plain"]


def test_official_setting_is_the_toy_studies_one():
    assert claims.OFFICIAL_FIG3 == OFFICIAL_FIG3


def test_points_needed():
    assert claims.points_needed(0.03) == 683 and claims.points_needed(0.1) == 62


def test_fig3_claims_on_the_tiny_run_are_untested_with_the_reason(tmp_path, monkeypatch):
    tiny = dict(OFFICIAL_FIG3, num_levels=3, n_steps_each=5)
    annealed, plain = _fig3_rows(tmp_path, monkeypatch, n_points=64, annealed=tiny, plain_steps=10, w=0.531,
                                 wl=0.531)
    assert annealed["holds"] == "untested" and plain["holds"] == "untested"
    assert "64 points" in annealed["note"] and "683" in annealed["note"]
    assert "num_levels 3 (paper: 10)" in annealed["note"] and "n_steps_each 5 (paper: 100)" in annealed["note"]
    assert "n_steps 10 (paper: 1000)" in plain["note"]


def test_fig3_claims_on_enough_points_of_the_official_setting_are_judged(tmp_path, monkeypatch):
    annealed, plain = _fig3_rows(tmp_path, monkeypatch, n_points=1280, annealed=dict(OFFICIAL_FIG3),
                                 plain_steps=1000, w=0.79, wl=0.5)
    assert (annealed["holds"], plain["holds"]) == ("yes", "yes") and not annealed["note"] and not plain["note"]
    annealed, _ = _fig3_rows(tmp_path, monkeypatch, n_points=1280, annealed=dict(OFFICIAL_FIG3), plain_steps=1000,
                             w=0.6, wl=0.5)
    assert annealed["holds"] == "no"
    # enough points but another setting: still untested
    annealed, _ = _fig3_rows(tmp_path, monkeypatch, n_points=1280, annealed=dict(OFFICIAL_FIG3, eps=0.05),
                             plain_steps=1000, w=0.79, wl=0.5)
    assert annealed["holds"] == "untested" and "eps 0.05 (paper: 0.1)" in annealed["note"]


def test_image_claim_notes_describe_the_profiles_model(tmp_path, monkeypatch):
    params = load_params(REPO / "tests" / "fixtures" / "tiny_params.yaml")
    levels = params["ncsn"]["defaults"]["noise"]["num_levels"]
    assert levels == 3
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "results/ncsn/tiny_ncsn/metrics.json",
           {"fid_mnist_classifier_real_same_n": 0.02, "fid_mnist_classifier_real_n_used": 40})
    _write(tmp_path / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv", "iteration,fid\n2,9.8\n4,9.7\n")
    _write(tmp_path / "results/ncsn/sensitivity/metrics.json",
           {"metric": "fid_mnist_classifier", "trained_setting": {"step_lr": 2e-5, "n_steps_each": 1},
            "grid": [{"step_lr": 2e-5, "n_steps_each": 1, "fid_mnist_classifier": 9.7, "diverged": False}]})
    rows = [{"experiment": "tiny_ncsn", "metric": "fid_mnist_classifier", "value": 9.71}]
    table = claims._image_claims(params, rows)
    notes = " ".join(r["note"] for r in table)
    assert "10-level" not in notes
    assert f"tiny_ncsn ({levels}-level model) fid_mnist_classifier 9.71" in notes
    assert all(r["holds"] == "untested" for r in table if "fid_mnist_classifier 9.71" in r["note"])


@pytest.mark.parametrize("n, tol", [(64, 0.03), (682, 0.03), (61, 0.1)])
def test_fraction_gate_says_why(n, tol):
    assert "too little data" in claims._fraction_gate(n, tol)


def _fluctuation_row(tmp_path, monkeypatch, main_fid: float, curve: str) -> dict:
    params = load_params(REPO / "tests" / "fixtures" / "tiny_params.yaml")
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "results/ncsn/tiny_ncsn/metrics.json",
           {"fid_mnist_classifier_real_same_n": 6.0, "fid_mnist_classifier_real_n_used": 100})
    _write(tmp_path / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv", "iteration,fid\n" + curve)
    rows = [{"experiment": "tiny_ncsn", "metric": "fid_mnist_classifier", "value": main_fid}]
    return next(r for r in claims._image_claims(params, rows) if r["claim"].startswith("FID fluctuates"))


def test_fid_fluctuation_of_an_undertrained_model_is_untested(tmp_path, monkeypatch):
    """A falling FID of a model far from the real-data floor is training progress, not fluctuation."""
    row = _fluctuation_row(tmp_path, monkeypatch, 700.0, "2,900\n4,800\n6,700\n")
    assert row["holds"] == "untested" and "more than 10x the floor" in row["note"]
    assert row["measured"].startswith("3 checkpoints, FID [900, 800, 700]: (max-min)/min = 0.29, largest rise after an earlier checkpoint 0.00")


@pytest.mark.parametrize("curve, holds", [("2,40\n4,30\n6,36\n", "yes"),     # rises 20% after its best
                                         ("2,30.0\n4,31.0\n6,30.5\n", "no"),  # flat within 10%
                                         ("2,60\n4,40\n6,30\n", "no")])       # falls at every checkpoint: learning
def test_fid_fluctuation_near_the_floor_is_a_rise_after_an_earlier_checkpoint(tmp_path, monkeypatch, curve, holds):
    row = _fluctuation_row(tmp_path, monkeypatch, 30.0, curve)
    assert row["holds"] == holds and "more than 10% above an earlier one" in row["note"]


def test_fid_fluctuation_needs_three_checkpoints(tmp_path, monkeypatch):
    row = _fluctuation_row(tmp_path, monkeypatch, 30.0, "2,40\n4,36\n")
    assert row["holds"] == "untested" and "needs at least 3 checkpoints" in row["note"]


def test_gate_uses_the_floor_at_the_models_sample_count(tmp_path, monkeypatch):
    """A 100-sample FID of 300 is within 10x of real digits scored at 100 (47) though not of the 500-image floor
    (6.2) the classifier stage reports: only the same-n floor decides."""
    _write(tmp_path / "results/classifier/mnist_embedded/metrics.json",
           {"applicable": True, "fid_mnist_classifier_test_split": 6.2})
    row = _fluctuation_row(tmp_path, monkeypatch, 300.0, "2,40\n4,30\n6,36\n")
    assert row["holds"] == "untested"  # the helper wrote a same-n floor of 6.0
    _write(tmp_path / "results/ncsn/tiny_ncsn/metrics.json",
           {"fid_mnist_classifier_real_same_n": 47.0, "fid_mnist_classifier_real_n_used": 100})
    params = load_params(REPO / "tests" / "fixtures" / "tiny_params.yaml")
    rows = [{"experiment": "tiny_ncsn", "metric": "fid_mnist_classifier", "value": 300.0}]
    row = next(r for r in claims._image_claims(params, rows) if r["claim"].startswith("FID fluctuates"))
    assert row["holds"] == "yes" and "vs 47 for 100 real test digits: close enough" in row["note"]
