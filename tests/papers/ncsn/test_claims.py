"""NCSN's claims table (papers/ncsn/claims.py) on the tiny profile's kind of run: a claim judged on
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


def test_fig3_claims_on_the_tiny_run_are_untested_with_the_reason(tmp_path, monkeypatch):
    tiny = dict(OFFICIAL_FIG3, num_levels=3, n_steps_each=5)
    annealed, plain = _fig3_rows(tmp_path, monkeypatch, n_points=64, annealed=tiny, plain_steps=10, w=0.531,
                                 wl=0.531)
    assert annealed["holds"] == "untested" and plain["holds"] == "untested"
    assert "num_levels 3 (paper: 10)" in annealed["note"] and "n_steps_each 5 (paper: 100)" in annealed["note"]
    assert "n_steps 10 (paper: 1000)" in plain["note"]


@pytest.mark.parametrize("n, w, wl, verdicts", [
    (5000, 0.80, 0.50, ("yes", "yes")),                  # both intervals well on the claimed side
    (5000, 0.60, 0.80, ("no", "no")),                    # both well on the other side
    (1280, 0.779, 0.69, ("inconclusive", "inconclusive")),  # intervals straddle 0.77 and 0.7
    (64, 0.80, 0.62, ("inconclusive", "inconclusive"))])    # too few points for +-0.03 or 0.1
def test_fig3_fractions_are_decided_by_their_binomial_interval(tmp_path, monkeypatch, n, w, wl, verdicts):
    annealed, plain = _fig3_rows(tmp_path, monkeypatch, n_points=n, annealed=dict(OFFICIAL_FIG3),
                                 plain_steps=1000, w=w, wl=wl)
    assert (annealed["holds"], plain["holds"]) == verdicts
    assert annealed["n"] == n and annealed["interval_low"] < w < annealed["interval_high"]


def test_fig3_claim_on_another_setting_is_untested(tmp_path, monkeypatch):
    annealed, _ = _fig3_rows(tmp_path, monkeypatch, n_points=5000, annealed=dict(OFFICIAL_FIG3, eps=0.05),
                             plain_steps=1000, w=0.8, wl=0.5)
    assert annealed["holds"] == "untested" and "eps 0.05 (paper: 0.1)" in annealed["note"]


MAIN = "fig5_mnist"


def _image_rows(tmp_path, monkeypatch, fids: dict, se: float = 10.0, floor: float = 50.0, curve: str | None = None,
                grid: list | None = None) -> dict:
    """The image claims of the default profile's experiments, from synthetic results files: `fids` maps an
    experiment to its classifier FID (each with standard error `se`)."""
    params = load_params(REPO / "params.yaml")
    monkeypatch.chdir(tmp_path)
    for name, fid in fids.items():
        _write(tmp_path / f"results/ncsn/{name}/metrics.json",
               {"n_samples": 100, "fid_mnist_classifier": fid, "fid_mnist_classifier_se": se,
                "is_mnist_classifier_mean": 3.0, "fid_mnist_classifier_real_same_n": floor,
                "fid_mnist_classifier_real_n_used": 100})
    _write(tmp_path / f"results/ncsn/{MAIN}/fig13_fid_by_iteration.csv",
           "iteration,fid,fid_se,n_samples,diverged\n" + (curve or "200,300,10,100,False\n400,200,10,100,False\n"
                                                             "600,100,10,100,False\n"))
    if grid is not None:
        _write(tmp_path / "results/ncsn/sensitivity/metrics.json",
               {"metric": "fid_mnist_classifier", "experiment": MAIN,
                "grid": [{"step_lr": lr, "n_steps_each": 5, "n_samples": 50, "fid_mnist_classifier": v,
                          "fid_mnist_classifier_se": e, "diverged": v is None} for lr, v, e in grid]})
    return {r["claim"].split(" ")[1]: r for r in claims._image_claims(params)}


def _four(main, base, lin, resnet):
    return {MAIN: main, "fig4_mnist_baseline": base, "sec6_2_mnist_linear": lin, "sec6_3_mnist_cond_resnet": resnet}


@pytest.mark.parametrize("base, resnet, lin, se, verdicts", [
    (500.0, 450.0, 200.0, 10.0, ("yes", "yes", "yes")),    # far worse; the linear schedule's FID a third lower
    (100.0, 150.0, 290.0, 2.0, ("no", "no", "no")),        # better; linear within 10% of the main model's
    (310.0, 320.0, 340.0, 10.0, ("inconclusive",) * 3)])   # within the noise
def test_comparisons_read_every_verdict_by_their_interval(tmp_path, monkeypatch, base, resnet, lin, se, verdicts):
    rows = _image_rows(tmp_path, monkeypatch, _four(300.0, base, lin, resnet), se=se)
    got = (rows["single-noise"]["holds"], rows["ResNet"]["holds"], rows["linear"]["holds"])
    assert got == verdicts
    r = rows["single-noise"]
    assert r["estimate"] == pytest.approx(base - 300.0) and r["interval_low"] < r["estimate"] < r["interval_high"]
    assert r["n"] == 100 and "passed" in r["gate"]


def test_an_unlearned_main_model_makes_image_claims_untested(tmp_path, monkeypatch):
    rows = _image_rows(tmp_path, monkeypatch, _four(900.0, 1900.0, 100.0, 1800.0), se=10.0, floor=50.0,
                       grid=[(2e-5, 1500.0, 10.0), (1e-4, 900.0, 10.0), (5e-4, 1500.0, 10.0)])
    for key in ("single-noise", "ResNet", "linear", "fluctuates", "small"):
        assert rows[key]["holds"] == "untested", key
        assert "FAILED" in rows[key]["note"] and "900 vs 500" in rows[key]["note"]


def test_image_claims_without_a_standard_error_are_inconclusive(tmp_path, monkeypatch):
    """Results made before the FID carried its standard error decide nothing."""
    rows = _image_rows(tmp_path, monkeypatch, _four(300.0, 900.0, 100.0, 900.0), se=None)
    assert rows["single-noise"]["holds"] == "inconclusive" and rows["linear"]["holds"] == "inconclusive"


@pytest.mark.parametrize("curve, holds", [
    ("2,40,0.5,100,False\n4,30,0.5,100,False\n6,36,0.5,100,False\n", "yes"),  # rises 20% after its best
    ("2,30.0,0.5,100,False\n4,31.0,0.5,100,False\n6,30.5,0.5,100,False\n", "no"),  # flat within 10%
    ("2,60,1,100,False\n4,40,1,100,False\n6,30,1,100,False\n", "no"),      # falls at every checkpoint: learning
    ("2,40,5,100,False\n4,30,5,100,False\n6,36,5,100,False\n", "inconclusive")])  # the rise is within noise
def test_fid_fluctuation_is_a_rise_after_an_earlier_checkpoint_beyond_its_noise(tmp_path, monkeypatch, curve,
                                                                                 holds):
    rows = _image_rows(tmp_path, monkeypatch, {MAIN: 30.0}, se=1.0, floor=6.0, curve=curve)
    assert rows["fluctuates"]["holds"] == holds and "more than 10% above an earlier one" in rows["fluctuates"]["note"]


def test_fid_fluctuation_needs_three_checkpoints(tmp_path, monkeypatch):
    rows = _image_rows(tmp_path, monkeypatch, {MAIN: 30.0}, floor=6.0,
                       curve="2,40,1,100,False\n4,36,1,100,False\n")
    assert rows["fluctuates"]["holds"] == "untested" and "needs at least 3 checkpoints" in rows["fluctuates"]["note"]


@pytest.mark.parametrize("grid, holds", [
    ([(2e-5, 800.0, 20.0), (1e-4, 400.0, 20.0), (5e-4, 800.0, 20.0)], "yes"),
    ([(2e-5, 800.0, 20.0), (1e-4, 400.0, 20.0), (5e-4, None, None)], "yes"),     # too large diverges
    ([(2e-5, 800.0, 20.0), (1e-4, 400.0, 20.0), (5e-4, 300.0, 20.0)], "no"),     # largest is best: monotone
    ([(2e-5, 800.0, 60.0), (1e-4, 400.0, 60.0), (5e-4, 450.0, 60.0)], "inconclusive")])
def test_eps_u_shape_needs_both_ends_worse_than_the_best_interior_step(tmp_path, monkeypatch, grid, holds):
    rows = _image_rows(tmp_path, monkeypatch, {MAIN: 300.0}, grid=grid)
    assert rows["small"]["holds"] == holds


def test_gate_uses_the_floor_at_the_models_sample_count(tmp_path, monkeypatch):
    """A 100-sample FID of 300 is within 10x of real digits scored at 100 (47) though not of the 500-image floor
    (6.2) the classifier stage reports: only the same-n floor decides."""
    _write(tmp_path / "results/classifier/mnist_embedded/metrics.json",
           {"applicable": True, "fid_mnist_classifier_test_split": 6.2})
    rows = _image_rows(tmp_path, monkeypatch, _four(300.0, 900.0, 100.0, 900.0), floor=47.0)
    assert rows["single-noise"]["holds"] == "yes" and "300 vs 470" in rows["single-noise"]["gate"]


def test_image_claim_gate_describes_the_profiles_model(tmp_path, monkeypatch):
    params = load_params(REPO / "tests" / "fixtures" / "tiny_params.yaml")
    assert params["ncsn"]["defaults"]["noise"]["num_levels"] == 3
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "results/ncsn/tiny_ncsn/metrics.json",
           {"fid_mnist_classifier": 9.71, "fid_mnist_classifier_real_same_n": 0.02,
            "fid_mnist_classifier_real_n_used": 40})
    _write(tmp_path / "results/ncsn/tiny_ncsn/fig13_fid_by_iteration.csv", "iteration,fid\n2,9.8\n4,9.7\n")
    table = claims._image_claims(params)
    gates = " ".join(r["gate"] for r in table)
    assert "10-level" not in gates and "tiny_ncsn (3-level model)" in gates
    assert all(r["holds"] == "untested" for r in table)


def _region(mean, se, n=500, rel=0.2):
    return {"grid_points": n, "mean_abs_error": mean, "se_abs_error": se, "mean_rel_error": rel}


@pytest.mark.parametrize("lo, hi, rel, verdict", [
    ((3.0, 0.05), (0.2, 0.01), 0.2, "yes"),            # low-density error 15x the dense one
    ((0.1, 0.005), (0.2, 0.01), 0.2, "no"),            # low-density error below the dense one
    ((0.21, 0.02), (0.2, 0.02), 0.2, "inconclusive"),  # within the noise
    ((3.0, 0.05), (0.2, 0.01), 0.9, "untested"),       # the network has not learned the dense region
])
def test_score_error_ratio_is_decided_by_its_interval_and_gated(lo, hi, rel, verdict):
    fig2 = {"error_low_density": _region(*lo), "error_high_density": _region(*hi, rel=rel),
            "regions": {"rule": "r"}}
    assert claims._score_error_claim(fig2)["holds"] == verdict


def _sweep(distances: list[float | None], std: float) -> dict:
    runs = [{"eps": e, "diverged": d is None, "energy_distance_to_exact": d}
            for e, d in zip([0.1, 0.03, 0.01, 0.003, 0.001][:len(distances)], distances)]
    return {"energy_distance_noise_floor": {"std": std, "n_points": 1280}, "settings": {"eps_grid": [0] * len(runs)},
            "runs": {"official": runs}, "summary": {"official": {"best_eps": 0.01, "diverged_eps": []}},
            "distance": "energy distance"}


@pytest.mark.parametrize("distances, std, verdict", [
    ([None, 0.5, 0.01, 0.4, 3.7], 0.002, "yes"),            # diverged at large eps, worse at small eps
    ([None, 0.5, 0.01, 0.012, 0.011], 0.002, "inconclusive"),  # the small-eps end within the noise
    ([None, 0.5, 0.3, 0.2, 0.01], 0.002, "no"),              # the best eps is the smallest: no U-shape
])
def test_step_sweep_u_shape_needs_both_ends_worse_beyond_the_noise(distances, std, verdict):
    assert claims._step_sweep_claim(_sweep(distances, std))["holds"] == verdict


def test_score_error_ratio_without_standard_errors_is_untested():
    # a region of one grid point has no standard error (the study records None, which JSON can hold)
    fig2 = {"error_low_density": _region(3.0, None, n=1), "error_high_density": _region(0.2, 0.01),
            "regions": {"rule": "r"}}
    row = claims._score_error_claim(fig2)
    assert row["holds"] == "untested" and "fewer than 2 grid points" in row["note"]
