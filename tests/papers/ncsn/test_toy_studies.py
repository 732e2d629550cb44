"""Toy studies (seed 000 section 4, Fig. 11): measures, study functions at tiny settings, and the stage."""

import json
import math

import pytest
import torch

from scorerepro.papers.ncsn.toy_studies import (
    OFFICIAL_FIG3,
    REPORTED_FIG3,
    energy_distance,
    is_converged,
    langevin_comparison_study,
    manifold_ssm_study,
    score_estimation_study,
    step_size_sweep_study,
    window_stats,
)
from scorerepro.papers.ncsn.toy_gmm import seed000_gmm

MAIN = "(5, 5)"


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


# --------------------------------------------------------------------------------------------------- measures


def test_energy_distance_point_masses_closed_form():
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([4.0, 6.0])  # |a - b| = 5
    x, y = a.repeat(50, 1), b.repeat(70, 1)
    assert energy_distance(x, y) == pytest.approx(10.0, abs=1e-9)
    assert energy_distance(x, a.repeat(30, 1)) == pytest.approx(0.0, abs=1e-12)


def _gauss_shift_ed(mu: float) -> float:
    """ED between N(0, 1) and N(mu, 1) in 1-D: 2 E|Z| with Z ~ N(mu, 2), minus 2 E|X - X'| = 2 * 2/sqrt(pi)."""
    s = math.sqrt(2.0)
    e_abs = s * math.sqrt(2 / math.pi) * math.exp(-mu**2 / (2 * s**2)) + mu * math.erf(mu / (s * math.sqrt(2)))
    return 2 * e_abs - 2 * 2 / math.sqrt(math.pi)


# Tolerances: 4 standard deviations of the mean of 4 estimates at n = 3000 (measured: sd 4e-4, 0.011, 0.033).
@pytest.mark.parametrize("mu, tol", [(0.0, 0.002), (0.5, 0.022), (2.0, 0.07)])
def test_energy_distance_gaussians_closed_form(mu, tol):
    g = torch.Generator().manual_seed(1)
    est = sum(energy_distance(torch.randn(3000, 1, generator=g), torch.randn(3000, 1, generator=g) + mu)
              for _ in range(4)) / 4
    assert est == pytest.approx(_gauss_shift_ed(mu), abs=tol)


def test_energy_distance_grows_with_shift_in_2d():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1000, 2, generator=g)
    d = [energy_distance(x, torch.randn(1000, 2, generator=g) + torch.tensor([s, 0.0])) for s in (0.0, 0.5, 2.0)]
    assert abs(d[0]) < 0.02 and d[0] < d[1] < d[2]


def test_window_stats_and_rule():
    g = torch.Generator().manual_seed(0)
    flat = torch.full((100,), -50.0) + 0.1 * torch.randn(100, generator=g)
    ramp = -torch.arange(100, dtype=torch.float64) * 10.0
    s_flat, s_ramp = window_stats(flat, 0.2), window_stats(ramp, 0.2)
    assert s_flat["n"] == 20 and s_ramp["slope_per_iter"] == pytest.approx(-10.0)
    assert is_converged(s_flat, 0.1, 0.1)
    assert not is_converged(s_ramp, 0.1, 0.1)
    # Large minibatch noise around a flat level: per-iteration spread is big, block means are steady.
    noisy = torch.full((1000,), -50.0) + 25.0 * torch.randn(1000, generator=g)
    s_noisy = window_stats(noisy, 0.5, block=50)
    assert s_noisy["rel_std"] > 0.4 and s_noisy["n_blocks"] == 10 and s_noisy["block_rel_std"] < 0.15
    assert is_converged(s_noisy, 0.2, 0.2)
    # A level that jumps between blocks is not converged even though each block is quiet.
    steps = torch.tensor([-50.0, -100.0] * 5, dtype=torch.float64).repeat_interleave(50)
    assert not is_converged(window_stats(steps, 1.0, block=50), 0.2, 0.2)


# --------------------------------------------------------------------------------------------------- studies


def test_fig3_official_weights_and_reported_divergence():
    res = langevin_comparison_study(seed000_gmm(), n_points=3000, seed=0)
    r = res.metrics["results"]
    assert r["official"]["diverged"] is False
    assert r["official"]["mode_fractions"][MAIN] == pytest.approx(0.8, abs=0.05)
    # Plain Langevin keeps the ~50/50 split of the uniform start: weights off by more than 0.1.
    assert abs(r["langevin"]["mode_fractions"][MAIN] - 0.8) > 0.1
    rep = r["reported"]
    assert rep["diverged"] is True and rep["kind"] == "overflow"
    assert rep["level"] == 1 and 1 <= rep["step"] <= 100 and "diverged" in rep["message"]
    assert res.arrays["samples"]["reported"] is None
    assert res.metrics["settings"]["annealed"]["official"] == OFFICIAL_FIG3
    assert res.metrics["settings"]["annealed"]["reported"] == REPORTED_FIG3
    json.dumps(res.metrics, allow_nan=False)


def test_fig11_sweep_small():
    res = step_size_sweep_study(seed000_gmm(), eps_grid=[0.1, 3e-3, 1e-6], n_points=400, seed=0,
                                n_steps_each=100, score_variants=["convolved"], floor_repeats=3)
    runs = {r["eps"]: r for r in res.metrics["runs"]["convolved"]}
    assert runs[0.1]["diverged"] is True
    floor = res.metrics["energy_distance_noise_floor"]["max_abs"]
    good, tiny = runs[3e-3]["energy_distance_to_exact"], runs[1e-6]["energy_distance_to_exact"]
    # eps 1e-6 barely moves the uniform start; eps 3e-3 lands close to the data.
    assert good < 0.1 < 1.0 < tiny and floor < 0.1
    assert res.metrics["summary"]["convolved"]["best_eps"] == 3e-3
    assert res.metrics["summary"]["convolved"]["degrades_at_both_ends"] is True
    json.dumps(res.metrics, allow_nan=False)


def test_fig2_scores_tiny():
    res = score_estimation_study(seed000_gmm(), n_iters=300, batch_size=128, lr=1e-3, seed=0, grid_size=41,
                                 quiver_size=8, n_density_samples=20000)
    m = res.metrics
    hi, lo = m["error_high_density"], m["error_low_density"]
    assert hi["grid_points"] > 0 and lo["grid_points"] > 0
    assert m["regions"]["log_density_threshold_low"] < m["regions"]["log_density_threshold_high"]
    assert all(math.isfinite(v) for v in (hi["mean_abs_error"], lo["mean_abs_error"]))
    assert m["error_ratio_low_over_high"] > 1.0 and m["claim_supported"] is True
    assert res.arrays["abs_error"].shape == (41, 41)
    json.dumps(m, allow_nan=False)


def _fake_images(n=40, seed=0):
    """Digit-like 16x16 images: a bright stroke on an exactly-zero background (data on a lower-dim set)."""
    g = torch.Generator().manual_seed(seed)
    img = torch.zeros(n, 1, 16, 16, dtype=torch.uint8)
    for i in range(n):
        r = int(torch.randint(3, 12, (1,), generator=g))
        img[i, 0, r:r + 3, 4:12] = torch.randint(150, 256, (3, 8), generator=g, dtype=torch.uint8)
    return img


def test_fig1_manifold_tiny():
    res = manifold_ssm_study(_fake_images(), n_iters=12, batch_size=4, lr=1e-3, noise_std=0.01, log_every=4,
                             variance_reduced=False, seed=0, model_spec={"arch": "resnet_ae", "nf": 8})
    m = res.metrics
    for name in ("perturbed", "unperturbed"):
        run = m["runs"][name]
        assert run["iterations_run"] == 12 and run["non_finite"] is None
        assert math.isfinite(run["last_window"]["mean"]) and isinstance(run["converged"], bool)
        assert res.arrays[name].shape == (12,)
    assert m["perturbed_loss_lower_bound"]["value"] == pytest.approx(-0.5 * 256 / 1e-4)
    assert "converged iff" in m["convergence_rule"] and m["verdict"]
    # Same initial weights and batches: the two curves differ only through the perturbation.
    assert not torch.equal(res.arrays["perturbed"], res.arrays["unperturbed"])
    json.dumps(m, allow_nan=False)


# --------------------------------------------------------------------------------------------------- stage


def _params():
    return {
        "seed": 0, "device": "cpu", "profile": "test",
        "ncsn": {"toy": {
            "fig1_manifold": {"dataset": "mnist_embedded", "n_iters": 6, "batch_size": 4, "lr": 1e-3,
                              "noise_std": 0.01, "log_every": 3, "variance_reduced": False, "nf": 8,
                              "window_frac": 0.5, "rel_std_max": 0.1, "rel_trend_max": 0.1},
            "fig2_scores": {"n_iters": 20, "batch_size": 64, "lr": 1e-3, "variance_reduced": True, "grid_size": 21,
                            "high_quantile": 0.5, "low_quantile": 0.001},
            "fig3_langevin": {"n_points": 200, "plain_eps": 0.1, "plain_n_steps": 100, "annealed": {
                "official": {**OFFICIAL_FIG3, "n_steps_each": 20},
                "reported": REPORTED_FIG3}},
            "fig11_step_sweep": {"eps_grid": [0.1, 1e-2, 1e-4], "n_points": 200, "sigma_begin": 10.0,
                                 "sigma_end": 0.1, "num_levels": 10, "n_steps_each": 20,
                                 "score_variants": ["official", "convolved"]},
        }},
    }


@pytest.mark.parametrize("study", ["fig1_manifold", "fig2_scores", "fig3_langevin", "fig11_step_sweep"])
def test_stage_writes_metrics_and_png(study, tmp_path, monkeypatch):
    from scorerepro.data.preprocess import save_split
    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.papers.ncsn.stages import toy as stage

    monkeypatch.chdir(tmp_path)
    if study == "fig1_manifold":
        d = tmp_path / "data" / "processed" / "mnist_embedded"
        save_split(d / "train.pt", _fake_images(16), None)
        write_json(d / "manifest.json", {"splits": {"train": {"file": "train.pt", "shape": [16, 1, 16, 16],
                                                                 "sha256": sha256_file(d / "train.pt")}}})
    stage.run(_params(), study)
    out = tmp_path / "results" / "ncsn" / "toy" / study
    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert metrics["study"] == study and metrics["run"]["device"] == "cpu"
    png = (out / f"{study}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_stage_missing_key_names_it(tmp_path, monkeypatch):
    from scorerepro.papers.ncsn.stages import toy as stage

    monkeypatch.chdir(tmp_path)
    p = _params()
    del p["ncsn"]["toy"]["fig11_step_sweep"]["eps_grid"]
    with pytest.raises(KeyError, match="ncsn.toy.fig11_step_sweep.eps_grid"):
        stage.run(p, "fig11_step_sweep")
    with pytest.raises(ValueError, match="unknown toy study"):
        stage.run(p, "fig9")
