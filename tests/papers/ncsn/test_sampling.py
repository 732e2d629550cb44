import math
import warnings

import pytest
import torch

from scorerepro.papers.ncsn.noise import geometric_sigmas
from scorerepro.papers.ncsn.sampling import (
    SamplingDivergedError,
    SamplingResult,
    annealed_inpaint,
    annealed_langevin,
    bottom_half_mask,
    center_square_mask,
    checkerboard_mask,
    langevin,
    random_pixels_mask,
    right_half_mask,
)
from scorerepro.papers.ncsn.toy_gmm import seed000_gmm


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def _uniform_box(n, seed, lo=-8.0, hi=8.0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=g) * (hi - lo) + lo, g


# ---------------------------------------------------------------- the update rule against closed forms

def test_langevin_stationary_variance_matches_discrete_ou_closed_form():
    # Target N(mu, tau^2): x' = (1 - h/tau^2) x + h mu/tau^2 + sqrt(2h) z has stationary variance
    # 2h / (1 - (1 - h/tau^2)^2). With tau = 1, h = 0.5 that is 4/3 (a sqrt(h) noise would give 2/3).
    mu, h, n = 2.0, 0.5, 20_000
    x0 = torch.zeros(n, 1)
    x = langevin(lambda y: -(y - mu), x0, h, 60, generator=torch.Generator().manual_seed(0))
    expected_var = 2 * h / (1 - (1 - h) ** 2)
    var = x.var().item()
    assert abs(var - expected_var) < 4 * expected_var * math.sqrt(2 / n)
    assert abs(x.mean().item() - mu) < 4 * math.sqrt(expected_var / n)


def test_annealed_step_schedule_labels_and_noise_scale():
    # A constant score of 1 makes the final state x0 + n * sum_i step_i + N(0, 2 n sum_i step_i) with
    # step_i = step_lr (sigma_i / sigma_L)^2: steps 0.16, 0.04, 0.01 here.
    sigmas = torch.tensor([4.0, 2.0, 1.0])
    step_lr, n_each, n = 0.01, 10, 20_000
    seen = []

    def net(x, labels):
        seen.append(labels.clone())
        return torch.ones_like(x)

    res = annealed_langevin(net, torch.zeros(n, 1), sigmas, n_each, step_lr,
                            generator=torch.Generator().manual_seed(1), snapshots=True)
    assert isinstance(res, SamplingResult)
    total = sum(step_lr * (s / 1.0) ** 2 for s in (4.0, 2.0, 1.0))
    drift, var = n_each * total, 2 * n_each * total
    assert abs(res.samples.mean().item() - drift) < 4 * math.sqrt(var / n)
    assert abs(res.samples.var().item() - var) < 4 * var * math.sqrt(2 / n)
    assert len(seen) == 30
    for k, labels in enumerate(seen):
        assert labels.dtype == torch.long and labels.shape == (n,)
        assert torch.all(labels == k // n_each)
    assert res.snapshots.shape == (3, n, 1)
    assert torch.equal(res.snapshots[-1], res.samples)
    # Level-end means follow the cumulative drift.
    cum = [n_each * step_lr * 16, n_each * step_lr * 20, n_each * total]
    for level in range(3):
        assert abs(res.snapshots[level].mean().item() - cum[level]) < 0.1


def test_clamp_applies_to_output_only():
    sigmas = torch.tensor([1.0, 0.5])
    push = lambda x, labels: torch.full_like(x, 50.0)  # noqa: E731
    x0 = torch.rand(64, 1, 2, 2, generator=torch.Generator().manual_seed(2))
    raw = annealed_langevin(push, x0, sigmas, 5, 0.01, generator=torch.Generator().manual_seed(3), snapshots=True)
    clamped = annealed_langevin(push, x0, sigmas, 5, 0.01, generator=torch.Generator().manual_seed(3),
                                snapshots=True, clamp_output=True)
    assert raw.samples.max() > 1.5  # the chain itself is not clamped ...
    torch.testing.assert_close(clamped.samples, raw.samples.clamp(0, 1))  # ... only what is returned
    torch.testing.assert_close(clamped.snapshots, raw.snapshots.clamp(0, 1))
    assert torch.equal(x0, torch.rand(64, 1, 2, 2, generator=torch.Generator().manual_seed(2)))  # input untouched


# ---------------------------------------------------------------- Figure 3 of the paper, as numbers

def test_figure3_annealed_recovers_mode_weights_plain_langevin_does_not():
    # Official toy settings (ermongroup/ncsn runners/toy_runner.py): sigmas exp(linspace(log 20, 0, 10)),
    # lr 0.1 in the paper's convention x + lr/2 s + sqrt(lr) z, i.e. step_lr = 0.05 here; 100 steps per
    # level; U(-8, 8)^2 start; exact scores. 10,000 points (the official figure used 1,280).
    gmm = seed000_gmm()
    sigmas = geometric_sigmas(20.0, 1.0, 10)
    x0, g = _uniform_box(10_000, seed=0)
    res = annealed_langevin(gmm.score_net(sigmas), x0, sigmas, n_steps_each=100, step_lr=0.05, generator=g)
    frac_annealed = gmm.component_fraction(res.samples)[1].item()
    # Measured over 8 seeds: 0.780 +- 0.005 -- a small systematic shortfall (0.794 with 400 steps per level).
    assert abs(frac_annealed - 0.8) < 0.03, frac_annealed
    # Plain Langevin, toy runner's langevin_dynamics: lr 0.1 (step 0.05 here), 1000 steps, exact data score.
    x = langevin(gmm.score, x0, step_size=0.05, n_steps=1000, generator=torch.Generator().manual_seed(1))
    frac_plain = gmm.component_fraction(x)[1].item()
    assert abs(frac_plain - 0.8) > 0.1, frac_plain
    # Both chains end near the modes (so the difference is in the weights, not in failing to converge).
    for pts in (res.samples, x):
        _, mu, _ = gmm._params(pts)
        assert (pts - mu[gmm.assign_modes(pts)]).norm(dim=1).median() < 2.0


def test_seed000_reported_toy_setting_diverges_with_a_named_level_and_step():
    # Seed 000: "geometric sequence of 10 noise levels between 10 and 0.1, T = 100, epsilon = 0.1" (the paper's
    # epsilon, so step_lr = 0.05 here). Level 1's step is 0.05 * (10 / 0.1)^2 = 500, and with the exact score
    # -(x - mu) / 101 each update multiplies the distance to the mean by about |1 - 500/101| = 3.95.
    gmm = seed000_gmm()
    sigmas = geometric_sigmas(10.0, 0.1, 10)
    x0, g = _uniform_box(1_000, seed=3)
    with pytest.raises(SamplingDivergedError) as err:
        annealed_langevin(gmm.score_net(sigmas), x0, sigmas, n_steps_each=100, step_lr=0.05, generator=g)
    e = err.value
    assert isinstance(e, RuntimeError)
    assert e.level == 1 and e.num_levels == 10 and e.sigma == pytest.approx(10.0)
    # float32 overflows once 3.95^k times the start distance passes 3.4e38: k near 60.
    assert 40 <= e.step <= 75
    msg = str(e)
    assert "noise level 1/10" in msg and "sigma=10" in msg and f"step {e.step} of 100" in msg
    assert "step_lr" in msg


def test_langevin_divergence_reports_the_first_non_finite_step():
    x0 = torch.ones(5, 3)
    explode = lambda y: 10.0 * y  # noqa: E731
    with pytest.raises(SamplingDivergedError) as err:
        langevin(explode, x0, 0.5, 200, generator=torch.Generator().manual_seed(4), check_every=30)
    # Replay the same recursion by hand to find the first update whose result is non-finite.
    g = torch.Generator().manual_seed(4)
    x, first = x0.clone(), None
    for t in range(200):
        z = torch.randn(x.shape, generator=g)
        x = x + 0.5 * 10.0 * x + math.sqrt(1.0) * z
        if not torch.isfinite(x).all():
            first = t + 1
            break
    assert first is not None and err.value.step == first
    assert err.value.level is None and err.value.sigma is None
    assert f"step {first} of 200" in str(err.value)


def test_healthy_chain_never_returns_nan():
    gmm = seed000_gmm()
    sigmas = geometric_sigmas(20.0, 1.0, 10)
    x0, g = _uniform_box(500, seed=5)
    out = annealed_langevin(gmm.score_net(sigmas), x0, sigmas, 20, 0.05, generator=g).samples
    assert torch.isfinite(out).all()


# ---------------------------------------------------------------- reproducibility and synchronisation

def test_same_seed_same_samples_different_seed_different():
    gmm = seed000_gmm()
    sigmas = geometric_sigmas(20.0, 1.0, 3)
    x0, _ = _uniform_box(200, seed=6)
    run = lambda s: annealed_langevin(gmm.score_net(sigmas), x0, sigmas, 10, 0.05,  # noqa: E731
                                      generator=torch.Generator().manual_seed(s)).samples
    assert torch.equal(run(7), run(7))
    assert not torch.allclose(run(7), run(8))
    lv = lambda s: langevin(gmm.score, x0, 0.05, 20, generator=torch.Generator().manual_seed(s))  # noqa: E731
    assert torch.equal(lv(7), lv(7)) and not torch.allclose(lv(7), lv(8))
    ref = torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(9))
    net = lambda x, labels: -(x - 0.5)  # noqa: E731
    ip = lambda s: annealed_inpaint(net, ref, right_half_mask(ref.shape), sigmas, 5, 1e-3,  # noqa: E731
                                    generator=torch.Generator().manual_seed(s)).samples
    assert torch.equal(ip(7), ip(7)) and not torch.allclose(ip(7), ip(8))


_SYNC_METHODS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


def test_no_per_step_host_synchronisation(monkeypatch):
    # Count every tensor-to-host conversion during sampling: one per level (the divergence check) plus a
    # constant few at the start; a per-step check would make it grow with the number of steps.
    gmm = seed000_gmm()
    sigmas = geometric_sigmas(20.0, 1.0, 4)
    net = gmm.score_net(sigmas)
    x0 = torch.rand(50, 2) * 16 - 8
    ref = torch.rand(2, 1, 4, 4)
    mask = checkerboard_mask(ref.shape, 1)
    calls = []
    for name in _SYNC_METHODS:
        original = getattr(torch.Tensor, name)

        def wrapped(self, *a, _orig=original, _name=name, **k):
            calls.append(_name)
            return _orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, wrapped)
    annealed_langevin(net, x0, sigmas, 25, 0.05, generator=torch.Generator().manual_seed(0))
    assert 4 <= len(calls) <= 4 + 3, calls
    calls.clear()
    annealed_inpaint(lambda x, labels: -x, ref, mask, sigmas, 25, 1e-3)
    assert 4 <= len(calls) <= 4 + 4, calls
    calls.clear()
    langevin(gmm.score, x0, 0.05, 100, check_every=50)
    assert 2 <= len(calls) <= 2 + 3, calls


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_no_per_step_sync_on_cuda():
    gmm = seed000_gmm()
    sigmas = geometric_sigmas(20.0, 1.0, 4).cuda()
    x0 = (torch.rand(50, 2) * 16 - 8).cuda()
    net = gmm.score_net(sigmas)
    annealed_langevin(net, x0, sigmas, 2, 0.05)  # warm-up (parameter cache, kernels)
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            annealed_langevin(net, x0, sigmas, 50, 0.05, generator=torch.Generator("cuda").manual_seed(0))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
    assert len(syncs) <= 4 + 3, [str(w.message) for w in syncs]


# ---------------------------------------------------------------- inpainting

def _gaussian_pixels_net(sigmas, mean=0.3, std=0.05):
    # Exact perturbed score of i.i.d. N(mean, std^2) pixels.
    def net(x, labels):
        var = std**2 + sigmas[labels] ** 2
        return -(x - mean) / var.view(-1, *([1] * (x.dim() - 1)))

    return net


@pytest.mark.parametrize("mask_name", ["right_half", "center_square", "checkerboard", "random"])
def test_inpainting_keeps_known_pixels_noisy_reference_and_fills_the_rest(mask_name):
    sigmas = geometric_sigmas(1.0, 0.01, 10)
    ref = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(10)) * 0.2 + 0.8  # far from 0.3
    shape = ref.shape
    mask = {
        "right_half": right_half_mask(shape),
        "center_square": center_square_mask(shape),
        "checkerboard": checkerboard_mask(shape, block=2),
        "random": random_pixels_mask(shape, 0.5, generator=torch.Generator().manual_seed(11)),
    }[mask_name]
    known = mask.bool().expand(shape)
    seen_known = []
    base = _gaussian_pixels_net(sigmas)

    def net(x, labels):
        seen_known.append((labels[0].item(), x[known].clone()))
        return base(x, labels)

    res = annealed_inpaint(net, ref, mask, sigmas, n_steps_each=100, generator=torch.Generator().manual_seed(12),
                           snapshots=True)
    out = res.samples
    # Known pixels: x_ref + sigma_L z, so within a few sigma_L of x_ref, with spread sigma_L.
    diff = (out - ref)[known]
    assert diff.abs().max().item() < 5 * 0.01
    assert diff.std().item() == pytest.approx(0.01, rel=0.25)
    # Each level redraws the noise on the known pixels with that level's sigma ...
    for level, sigma in enumerate(sigmas.tolist()):
        d = (res.snapshots[level] - ref)[known]
        assert d.std().item() == pytest.approx(sigma, rel=0.25)
    # ... and holds it fixed for the whole level (the official code reuses one noisy copy per level).
    by_level = {}
    for level, vals in seen_known:
        by_level.setdefault(level, []).append(vals)
    for level, vals in by_level.items():
        assert len(vals) == 100 and all(torch.equal(v, vals[0]) for v in vals)
    assert not torch.equal(by_level[0][0], by_level[1][0])
    # Unknown pixels were sampled from the model (pixel mean 0.3), not left at U(0, 1) or copied from x_ref.
    unknown = out[~known]
    assert unknown.numel() > 0
    assert abs(unknown.mean().item() - 0.3) < 0.05
    assert (out - ref)[~known].abs().mean().item() > 0.3


def test_masks_shapes_and_contents():
    shape = (2, 3, 32, 32)
    r = right_half_mask(shape)
    assert r.shape == (32, 32) and torch.all(r[:, :16] == 1) and torch.all(r[:, 16:] == 0)
    b = bottom_half_mask(shape)
    assert torch.all(b[:16] == 1) and torch.all(b[16:] == 0)
    c = center_square_mask(shape)
    assert (c == 0).sum().item() == 16 * 16 and c[8:24, 8:24].sum().item() == 0 and c[0, 0] == 1
    k = checkerboard_mask(shape, block=4)
    assert k.sum().item() == 32 * 32 / 2 and k[0, 0] == 1 and k[0, 4] == 0 and k[4, 4] == 1
    p = random_pixels_mask((64, 64), 0.25, generator=torch.Generator().manual_seed(0))
    assert abs((p == 0).float().mean().item() - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 4096)
    with pytest.raises(ValueError, match="1.5"):
        random_pixels_mask(shape, 1.5)
    with pytest.raises(ValueError, match="size must be between 1 and 32.*got 40"):
        center_square_mask(shape, size=40)


def test_inpaint_refuses_bad_masks():
    ref = torch.rand(2, 1, 4, 4)
    net = lambda x, labels: -x  # noqa: E731
    with pytest.raises(ValueError, match="binary"):
        annealed_inpaint(net, ref, torch.full((4, 4), 0.5), [1.0, 0.1], 2, 1e-3)
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(2, 1, 4, 4\)"):
        annealed_inpaint(net, ref, torch.ones(3, 3), [1.0, 0.1], 2, 1e-3)


def test_bad_arguments_are_named():
    net = lambda x, labels: -x  # noqa: E731
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="-0.1"):
        annealed_langevin(net, x, [1.0, 0.1], 10, -0.1)
    with pytest.raises(ValueError, match="n_steps_each must be a positive integer, got 0"):
        annealed_langevin(net, x, [1.0, 0.1], 0, 0.1)
    with pytest.raises(ValueError, match="non-finite"):
        annealed_langevin(net, torch.full((4, 2), float("nan")), [1.0, 0.1], 10, 0.1)
    with pytest.raises(ValueError, match="sigmas must be finite and positive"):
        annealed_langevin(net, x, [1.0, 0.0], 10, 0.1)


# ---------------------------------------------------------------- divergence before overflow

def _bounded_score(x, labels):
    # Like a RefineNet far from its data (instance norms make its output scale-free): the score stays bounded,
    # so a huge step gives a finite random walk of size ~sqrt(2 step), never an overflow.
    return -torch.tanh(x - 0.5)


def _image_chain(n=8, seed=11):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 6, 6, generator=g), g


def test_escape_bounds_widen_the_data_range_by_the_factor():
    from scorerepro.papers.ncsn.sampling import ESCAPE_FACTOR, escape_bounds

    assert ESCAPE_FACTOR == 50.0
    assert escape_bounds((0.0, 1.0), 1.0) == (-100.0, 101.0)  # images, sigma_1 = 1
    assert escape_bounds((-8.0, 8.0), 20.0) == (-1808.0, 1808.0)  # the toy box, sigma_1 = 20
    with pytest.raises(ValueError, match="lo < hi"):
        escape_bounds((1.0, 0.0), 1.0)


def test_a_runaway_chain_that_stays_finite_is_stopped_where_it_leaves_the_bounds():
    from scorerepro.papers.ncsn.sampling import escape_bounds

    sigmas = geometric_sigmas(1.0, 0.01, 3)
    x0, g = _image_chain()
    # Without bounds (the old behaviour): a finite chain hundreds of thousands away, all 0 or 1 once clamped.
    free = annealed_langevin(_bounded_score, x0, sigmas, 20, 10.0, generator=torch.Generator().manual_seed(11))
    assert torch.isfinite(free.samples).all() and free.samples.abs().max() > 1e4
    bounds = escape_bounds((0.0, 1.0), float(sigmas[0]))
    with pytest.raises(SamplingDivergedError) as err:
        annealed_langevin(_bounded_score, x0, sigmas, 20, 10.0, generator=g, bounds=bounds)
    # Replay level 1 by hand: the first update whose state leaves [-100, 101].
    g = torch.Generator().manual_seed(11)
    torch.rand(x0.shape, generator=g)
    x, step, first = x0.clone(), 10.0 * (1.0 / 0.01) ** 2, None
    for t in range(20):
        x = x + step * _bounded_score(x, None) + math.sqrt(2 * step) * torch.randn(x.shape, generator=g)
        if x.min() < -100 or x.max() > 101:
            first = t + 1
            break
    e = err.value
    assert first is not None and (e.level, e.step, e.num_levels) == (1, first, 3)
    assert e.bounds == (-100.0, 101.0) and e.extent > 101
    assert "left [-100, 101]" in str(e) and f"noise level 1/3 (sigma=1), step {first} of 20" in str(e)
    assert e.record()["level"] == 1 and e.record()["step"] == first


def _nan_at_call(k):
    calls = []

    def net(x, labels=None):
        calls.append(1)
        return x * float("nan") if len(calls) == k else -x

    return net


def test_bounds_also_catch_non_finite_values_and_apply_to_plain_langevin_and_inpainting():
    x0, _ = _image_chain()
    with pytest.raises(SamplingDivergedError) as err:  # NaN passes no comparison, so it leaves any bounds
        annealed_langevin(_nan_at_call(3), x0, [1.0, 0.1], 5, 1e-3, bounds=(-100.0, 101.0))
    assert (err.value.level, err.value.step) == (1, 3)
    with pytest.raises(SamplingDivergedError) as err:
        langevin(lambda x: -torch.tanh(x), x0, 1e5, 50, check_every=10, bounds=(-100.0, 101.0))
    assert err.value.level is None and err.value.step <= 10 and "left [-100, 101]" in str(err.value)
    ref = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    with pytest.raises(SamplingDivergedError) as err:
        annealed_inpaint(_bounded_score, ref, right_half_mask(ref.shape), [1.0, 0.01], 5, 10.0,
                         bounds=(-100.0, 101.0))
    assert err.value.level == 1
    with pytest.raises(ValueError, match="lo < hi"):
        annealed_langevin(_bounded_score, x0, [1.0, 0.1], 5, 1e-3, bounds=(1.0, 0.0))


def test_the_bounds_check_changes_no_value_of_a_sane_chain():
    """The check only reads the state: with or without bounds, the same samples, snapshots and completions."""
    sigmas = geometric_sigmas(1.0, 0.01, 4)
    net = lambda x, labels: -(x - 0.5) / sigmas[labels].view(-1, 1, 1, 1) ** 2  # noqa: E731
    x0, _ = _image_chain(16)
    runs = [annealed_langevin(net, x0, sigmas, 7, 2e-5, generator=torch.Generator().manual_seed(4),
                              snapshots=True, bounds=b) for b in (None, (-100.0, 101.0))]
    assert torch.equal(runs[0].samples, runs[1].samples) and torch.equal(runs[0].snapshots, runs[1].snapshots)
    ref = torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(9))
    fills = [annealed_inpaint(net, ref, center_square_mask(ref.shape), sigmas, 5, 2e-5,
                              generator=torch.Generator().manual_seed(8), bounds=b).samples
             for b in (None, (-100.0, 101.0))]
    assert torch.equal(fills[0], fills[1])


def test_the_bounds_check_adds_no_host_synchronisation(monkeypatch):
    sigmas = geometric_sigmas(1.0, 0.01, 4)
    x0, _ = _image_chain()
    calls = []
    for name in _SYNC_METHODS:
        original = getattr(torch.Tensor, name)

        def wrapped(self, *a, _orig=original, _name=name, **k):
            calls.append(_name)
            return _orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, wrapped)
    counts = []
    for bounds in (None, (-100.0, 101.0)):
        calls.clear()
        annealed_langevin(lambda x, labels: -x, x0, sigmas, 25, 1e-5, bounds=bounds)
        counts.append(len(calls))
    assert counts[0] == counts[1] and counts[1] <= 4 + 3, counts
