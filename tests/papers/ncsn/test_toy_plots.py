"""Legibility of the toy figures: fig1_manifold's symlog panel has a y label and no overlapping tick
labels; fig2_scores' error-map title does not run under the colorbar. Checked on the drawn figure (text extents
from the Agg renderer), not on the PNG."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from scorerepro.papers.ncsn import toy_plots
from scorerepro.papers.ncsn.toy_gmm import seed000_gmm
from scorerepro.papers.ncsn.toy_studies import score_estimation_study


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """Calls a plot function and returns its figure, drawn, with the renderer."""
    figures = []
    monkeypatch.setattr(toy_plots, "save_figure", lambda path, fig: figures.append(fig))

    def draw(plot, result):
        plot(result, tmp_path / "out.png")
        fig = figures[-1]
        FigureCanvasAgg(fig).draw()
        return fig, fig.canvas.get_renderer()

    return draw


def _visible_tick_labels(ax, renderer):
    lo, hi = sorted(ax.get_ylim())
    return [(t.get_text(), t.get_window_extent(renderer)) for t, v in zip(ax.get_yticklabels(), ax.get_yticks())
            if t.get_visible() and t.get_text() and lo <= v <= hi]


@pytest.mark.parametrize("bound", [-3.92e6, -1234.0, -5.0])
def test_fig1_symlog_panel_is_labelled_and_its_ticks_do_not_overlap(drawn, bound):
    # the tiny profile's numbers: 4 iterations of losses around 100, a bound of -3.9e6
    losses = {"perturbed": [149.8, 112.1, 149.8, 4.0], "unperturbed": [142.2, 109.1, 152.7, -50.5]}
    runs = {name: {"noise_std": std, "converged": False, "last_window": {"n": 3}}
            for name, std in (("perturbed", 0.01), ("unperturbed", 0.0))}
    result = SimpleNamespace(arrays={k: np.array(v) for k, v in losses.items()},
                             metrics={"perturbed_loss_lower_bound": {"value": bound}, "runs": runs,
                                      "verdict": "inconclusive"})
    fig, renderer = drawn(toy_plots.plot_fig1, result)
    ax = fig.axes[2]
    assert ax.get_yscale() == "symlog" and ax.get_ylabel()
    labels = _visible_tick_labels(ax, renderer)
    assert len(labels) >= 2, labels
    boxes = sorted((b for _, b in labels), key=lambda b: b.y0)
    for a, b in zip(boxes, boxes[1:]):
        assert a.y1 <= b.y0, f"tick labels overlap: {[t for t, _ in labels]}"
    # its y label does not run into the middle panel
    middle = fig.axes[1].get_window_extent(renderer)
    assert ax.yaxis.label.get_window_extent(renderer).x0 > middle.x1


def test_fig2_error_map_title_clears_the_colorbar(drawn):
    result = score_estimation_study(seed000_gmm(), seed=0, n_iters=5, batch_size=16, lr=1e-3, variance_reduced=True,
                                    grid_size=11, high_quantile=0.5, low_quantile=0.001, progress=False)
    fig, renderer = drawn(toy_plots.plot_fig2, result)
    error_map, colorbar = fig.axes[3], fig.axes[4]
    title = error_map.title.get_window_extent(renderer)
    assert "high" in error_map.get_title() and "low" in error_map.get_title()
    assert title.x1 <= colorbar.get_window_extent(renderer).x0, "the title runs under the colorbar"
    assert title.x0 >= fig.axes[2].get_window_extent(renderer).x1, "the title runs into the next panel"
