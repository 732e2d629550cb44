"""Every figure function renders something legible from small synthetic inputs: the PNG is not blank (pixel variance,
share of non-background pixels), its titles and axis labels are words rather than variable names, and the layout
faults once seen in the default profile's figures stay fixed (empty charts, empty axes, overlapping titles, a legend
over the data, unlabelled noise, a heatmap without a colour bar)."""

from __future__ import annotations

import re

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import SymLogNorm

from scorerepro.metrics.noise_like import noise_caption, noise_check
from scorerepro.papers.ae_mcmc.stages import figures as ae_figures
from scorerepro.papers.infusion.stages import evaluate as infusion_evaluate
from scorerepro.papers.infusion.stages import sweep as infusion_sweep
from scorerepro.papers.score_repr.stages import evaluate as score_repr_evaluate
from scorerepro.papers.wmvl import plots as wmvl_plots
from scorerepro.plots import images
from scorerepro.plots.labels import metric_label, score_caption

SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
METRICS = {"n_samples": 100, "fid_mnist_classifier": 383.03, "fid_mnist_classifier_real_same_n": 55.73,
           "fid_mnist_classifier_real_same_n_std": 10.2}


@pytest.fixture
def captured(monkeypatch):
    """The matplotlib figures the plotting modules save (they are still written to disk)."""
    figs = []
    for module in (images, ae_figures, infusion_evaluate, infusion_sweep, score_repr_evaluate, wmvl_plots):
        real = module.save_figure

        def keep(path, fig, _real=real, **kwargs):
            figs.append(fig)
            _real(path, fig, **kwargs)
        monkeypatch.setattr(module, "save_figure", keep)
    return figs


def digits(n: int, size: int = 14, seed: int = 0) -> torch.Tensor:
    """Digit-like images in [0, 1]: one bright stroke (a random line) on a dark background."""
    gen = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 1, size, size)
    for k in range(n):
        r0, r1 = torch.randint(2, size - 2, (2,), generator=gen).tolist()
        for c in range(2, size - 2):
            r = r0 + (r1 - r0) * (c - 2) // (size - 5)
            out[k, 0, r:r + 2, c] = 1.0
    return out


def assert_not_blank(path) -> None:
    pixels = mpimg.imread(path)[..., :3]
    background = (pixels > 0.97).all(axis=-1)
    assert pixels.std() > 0.05, f"{path.name}: nearly uniform (pixel std {pixels.std():.3f})"
    assert (~background).mean() > 0.02, f"{path.name}: {(~background).mean():.1%} of the pixels drawn"


def texts(fig) -> tuple[list[str], list[str]]:
    """(titles, axis labels) of a figure, empty ones left out."""
    titles = [t.get_text() for t in fig.texts] + ([fig._suptitle.get_text()] if fig._suptitle else [])
    labels = []
    for ax in fig.axes:
        titles += [ax.get_title(loc) for loc in ("left", "center", "right")]
        labels += [ax.get_xlabel(), ax.get_ylabel()]
    return [t for t in titles if t.strip()], [t for t in labels if t.strip()]


def assert_words(fig) -> None:
    titles, labels = texts(fig)
    assert titles, "the figure has no title"
    for t in titles:
        assert len(re.findall(r"[A-Za-z]{3,}", t)) >= 2, f"title {t!r} is not words"
    for label in labels:
        bare = re.sub(r"\([^)]*\)", "", label)  # a variable name is allowed in parentheses after the words
        assert not SNAKE.search(bare), f"axis label {label!r} is a variable name"
        assert re.search(r"[A-Za-z]{3,}", bare) or len(bare.strip()) <= 2, f"axis label {label!r} is not words"


def bbox(artist, fig):
    return artist.get_window_extent(fig.canvas.get_renderer())


def draw(fig):
    FigureCanvasAgg(fig).draw()
    return fig


def test_metric_label_and_score_caption():
    assert metric_label("fid_mnist_classifier") == "FID (MNIST-classifier features)"
    assert metric_label("some_new_metric") == "some new metric"
    assert score_caption(METRICS) == "MNIST-classifier FID 383.0 at 100 samples; real-data floor 55.7 +- 10.2"
    assert score_caption({"n_samples": 5}) is None and score_caption(None) is None


def test_infusion_sample_grid_shows_score_and_floor(captured, tmp_path):
    """Infusion's grids of flat images (Fig. 1, 4) carry the samples' score under the title, each line within the
    figure's width."""
    flat = digits(20).view(20, -1)
    infusion_evaluate._figure(flat, 14, 10, "Fig. 4: samples, each followed by its nearest training image",
                              tmp_path / "g.png", score_caption(METRICS))
    assert_not_blank(tmp_path / "g.png")
    fig = captured[-1]
    title = fig.axes[0].get_title()
    assert "FID 383.0" in " ".join(title.split()) and "floor 55.7" in " ".join(title.split())
    width_chars = fig.get_figwidth() * 72 / (8 * 0.55)
    assert all(len(line) <= width_chars for line in title.splitlines()), title
    assert_words(fig)


def test_noise_check_tells_noise_from_digits():
    real = digits(64, seed=1)
    noise = torch.bernoulli(torch.full((32, 1, 14, 14), 0.5), generator=torch.Generator().manual_seed(2))
    assert noise_check(noise, real)["noise_like"]
    check = noise_check(digits(32, seed=3), real)
    assert not check["noise_like"]
    assert check["real"] < check["bernoulli_noise"]
    assert "closer to the real images" in noise_caption(check)
    with pytest.raises(ValueError):
        noise_check(noise[:1], real)


def test_sample_grid_shows_score_floor_and_note(captured, tmp_path):
    images.sample_grid(digits(30), tmp_path / "s.png", "fig5_mnist: uncurated samples", metrics=METRICS,
                       note="noise-like: these samples do not look like the data")
    assert_not_blank(tmp_path / "s.png")
    title = captured[-1].axes[0].get_title()
    assert "FID 383.0" in title and "floor 55.7" in title and "noise-like" in title
    assert_words(captured[-1])


def test_fid_by_iteration_curve_and_single_checkpoint_note(captured, tmp_path):
    table = pd.DataFrame({"iteration": [200, 400, 600], "fid": [500.0, 420.0, 383.0], "diverged": [False] * 3,
                          "scored": [True] * 3, "metric": "fid_mnist_classifier", "n_samples": 100})
    images.plot_fid_by_iteration(table, tmp_path / "curve.png", "fig5_mnist: fid_mnist_classifier by checkpoint",
                                 selected=600)
    assert_not_blank(tmp_path / "curve.png")
    fig = captured[-1]
    assert "FID (MNIST-classifier features)" in fig.axes[0].get_ylabel()
    assert_words(fig)

    single = pd.DataFrame({"iteration": [600], "fid": [np.nan], "diverged": [False], "scored": [False],
                           "metric": "fid_mnist_classifier", "n_samples": 0})
    images.plot_fid_by_iteration(single, tmp_path / "single.png", "fig4_mnist_baseline: fid_mnist_classifier by "
                                 "checkpoint", selected=600)
    fig = captured[-1]
    assert not fig.axes, "a run with no scored checkpoint draws axes with no data"
    assert "single checkpoint" in " ".join(texts(fig)[0])
    assert_not_blank(tmp_path / "single.png")
    assert_words(fig)


def test_image_figures_render(captured, tmp_path):
    x = digits(12)
    images.intermediate_grid(torch.stack([x[:4]] * 3), [1.0, 0.1, 0.01], tmp_path / "i.png", "annealed Langevin")
    images.neighbours_figure(x[:3], {"pixel L2": torch.stack([x[3:6]] * 2, 1)}, tmp_path / "n.png",
                             "nearest neighbours of samples")
    images.inpainting_figure(x[:2], torch.stack([x[2:4]] * 3, 1), x[4:6], tmp_path / "p.png", "right half inpainted")
    loss = pd.DataFrame({"step": np.arange(1, 201), "loss": np.exp(-np.arange(200) / 50) + 0.1})
    images.loss_curve(loss, tmp_path / "l.png", "fig5_mnist: training loss")
    grid = pd.DataFrame([{"step_lr": lr, "n_steps_each": t, "fid_mnist_classifier": 100 * lr * 1e4 + t}
                         for lr in (1e-5, 1e-4) for t in (5, 20)])
    images.sensitivity_heatmap(grid, "fid_mnist_classifier", tmp_path / "h.png", "step-size sensitivity",
                               sample_panels=(x[:4], 2))
    for name in ("i", "n", "p", "l", "h"):
        assert_not_blank(tmp_path / f"{name}.png")
    for fig in captured:
        assert_words(fig)


def _score_repr_inputs(tmp_path, code_dim: int):
    gen = torch.Generator().manual_seed(0)
    fixed = torch.rand(32, 1, 14, 14, generator=gen).round()
    out = {"image_shape": [1, 14, 14], "constant_empirical": 0.005,
           "samples_noise_check": noise_check(fixed, digits(64))}
    codes = labels = grid = None
    if code_dim:
        codes, labels = torch.randn(100, code_dim, generator=gen), torch.arange(100) % 10
        out.update({"silhouette": -0.18, "silhouette_chance": -0.14, "denoise_t": [0.1, 0.5, 1.0],
                    "denoise_own_per_t": [0.3, 0.1, 0.006], "denoise_other_per_t": [0.32, 0.11, 0.006],
                    "denoise_gap": 0.01})
        grid = digits(16) if code_dim == 2 else None
    loss = tmp_path / "loss.csv"
    pd.DataFrame({"step": np.arange(1, 201), "dsm": np.exp(-np.arange(200) / 50) + 0.1}).to_csv(loss, index=False)
    exp = {"name": "uniform_t" if code_dim else "unconditional", "dataset": "mnist_embedded", "data": {"pool": 2},
           "model": {"code_dim": code_dim}, "training": {"t_mode": "uniform_t"}}
    return exp, out, codes, labels, grid, fixed, loss


@pytest.mark.parametrize("code_dim", [0, 2])
def test_score_repr_figure(captured, tmp_path, code_dim):
    exp, out, codes, labels, grid, fixed, loss = _score_repr_inputs(tmp_path, code_dim)
    score_repr_evaluate._figure(exp, out, codes, labels, grid, fixed, loss, tmp_path / "f.png")
    assert_not_blank(tmp_path / "f.png")
    fig = draw(captured[-1])
    assert_words(fig)
    plotted = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for ax in plotted:
        assert ax.lines or ax.images or ax.collections, f"empty axes titled {ax.get_title()!r}"
    fixed_ax = next(ax for ax in plotted if "samples" in ax.get_title() and "fixed code" in ax.get_title()
                    or ax.get_title().startswith("samples (no code)"))
    assert "noise-like" in fixed_ax.get_title(), "noise shown without saying so"
    if code_dim:
        fig10 = next(ax for ax in plotted if ax.get_title().startswith("Fig. 10"))
        own, other = fig10.lines
        assert own.get_linestyle() != other.get_linestyle() and other.get_markerfacecolor() == "none"
        left = next(ax for ax in plotted if ax.get_position().x1 <= fig10.get_position().x0
                    and ax.images and ax is not fig10)
        ticks = [bbox(t, fig) for t in fig10.get_yticklabels() if t.get_visible() and t.get_text()]
        assert all(t.x0 >= bbox(left, fig).x1 for t in ticks), "Fig. 10 tick labels sit on the image to its left"


def test_ae_mcmc_chain_measures(captured, tmp_path):
    names, modes = ["vae", "dvae", "aae", "daae"], ["train", "eval"]
    metrics = {n: {"modes": {m: {"latent_frechet_to_encodings": {"0": 3.0 + i, "1": 1.0, "5": 0.5, "10": 0.4,
                                                                 "50": 0.4 + j},
                                  "samples": {str(t): {"fid_mnist_classifier": 900.0 - 10 * t + 50 * j + i}
                                              for t in (0, 1, 5, 10)}}
                             for j, m in enumerate(modes)}} for i, n in enumerate(names)}
    ae_figures._chain_measures(names, modes, metrics, {}, tmp_path / "c.png")
    assert_not_blank(tmp_path / "c.png")
    fig = draw(captured[-1])
    assert_words(fig)
    assert {ax.get_xscale() for ax in fig.axes} == {"symlog"}
    legend = fig.legends[0]
    assert len(legend.get_texts()) == 8 and legend.get_texts()[0].get_fontsize() >= 8
    for ax in fig.axes:
        assert not bbox(legend, fig).overlaps(bbox(ax, fig)), "the legend covers a panel"


def test_infusion_heatmap_has_colour_bar_and_symlog_scale(captured, tmp_path):
    rows = [{"n_steps": t, "schedule": "increasing", "rate": r, "test_lower_bound": v}
            for (t, r), v in {(1, 0.0): 75, (5, 0.0): 76, (5, 0.03): -84, (5, 0.1): -981, (10, 0.1): -7081}.items()]
    rows += [{"n_steps": t, "schedule": "constant", "rate": r, "test_lower_bound": v}
             for (t, r), v in {(1, 0.05): 38, (1, 0.2): -107, (5, 0.2): -824}.items()]
    infusion_sweep.heatmap(pd.DataFrame(rows), tmp_path / "h.png", "mnist_embedded")
    assert_not_blank(tmp_path / "h.png")
    fig = captured[-1]
    assert_words(fig)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and "nats" in bars[0].get_ylabel()
    meshes = [ax.collections[0] for ax in fig.axes if ax not in bars]
    assert all(isinstance(m.norm, SymLogNorm) for m in meshes)
    # -84 and 76 must not get the same colour as each other merely because -7081 stretches the scale
    norm = meshes[0].norm
    assert abs(float(norm(76)) - float(norm(-84))) > 0.2


def test_wmvl_figures(captured, tmp_path):
    n = 64
    theta = (np.arange(n) + 0.5) * 2 * np.pi / n
    log_true = np.log(np.exp(2 * np.cos(theta - 1.5)) / 30)
    circle = {"grid_shape": [n], "log_true": log_true.tolist(), "log_model": (log_true + 0.05).tolist(),
              "kl_true_to_model": 0.0035, "max_abs_log_density_error": 0.169}
    wmvl_plots.plot_sphere(circle, tmp_path / "circle.png", "S^1 (two von Mises)")
    fig = draw(captured[-1])
    sup = bbox(fig._suptitle, fig)
    for ax in fig.axes:
        assert not sup.overlaps(bbox(ax.title, fig)), "the figure title overlaps a panel title"
    sphere = {"grid_shape": [8, 16], "log_true": np.linspace(-3, 0, 128).tolist(),
              "log_model": np.linspace(-3.1, 0.1, 128).tolist(), "kl_true_to_model": 0.01,
              "max_abs_log_density_error": 0.2}
    wmvl_plots.plot_sphere(sphere, tmp_path / "sphere.png", "S^2")
    rows = [{"estimator": e, "control_variate": cv, "eps": eps, "squared_bias": eps * (2 - cv), "variance": 1 / eps}
            for e in ("mvl", "dsm") for cv in (True, False) for eps in (1e-3, 1e-2, 1e-1)]
    wmvl_plots.plot_bias_variance({"rows": rows, "ssm_variance_of_batch_mean": 10.0}, tmp_path / "bv.png")
    rows = [{"control_variate": cv, "step_size": s, "sm_loss": s + cv + 0.1 * r} for cv in (True, False)
            for s in (0.01, 0.1) for r in range(3)]
    wmvl_plots.plot_cd1({"rows": rows, "settings": {"n_runs": 3}}, tmp_path / "cd1.png")
    for name in ("circle", "sphere", "bv", "cd1"):
        assert_not_blank(tmp_path / f"{name}.png")
    for fig in captured:
        assert_words(fig)


def test_ae_mcmc_floor_text():
    samples = {"0": {"n_samples": 200, "fid_mnist_classifier": 931.4, "fid_mnist_classifier_real_same_n": 23.1}}
    assert ae_figures._floor_text(samples).endswith("200 samples; real-data floor 23.1")
    assert ae_figures._floor_text({"0": {"n_samples": 200}}) == ""
