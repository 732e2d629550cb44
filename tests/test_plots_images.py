"""Image-grid figures (scorerepro.plots.images): a long title (an experiment's whole `reproduces` text, as the
fig5_samples.png title carries) is wrapped inside the figure instead of running off both sides."""

from __future__ import annotations

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from scorerepro.plots import images

REPRODUCES = "seed 000 Fig. 5b/e, 6, 7, 8, 12, 13, 15 (section 5); paper IS 8.87 FID 25.32"


def test_sample_grid_title_fits_the_figure(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(images, "save_figure", lambda path, fig: figures.append(fig))
    monkeypatch.setattr(images.plt, "close", lambda fig: None)
    samples = torch.zeros(100, 1, 28, 28, dtype=torch.uint8)
    images.sample_grid(samples, tmp_path / "s.png", f"fig5_cifar10: uncurated samples ({REPRODUCES})")
    fig = figures[-1]
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    title = ax.title.get_window_extent(renderer)
    page = fig.bbox
    assert page.x0 <= title.x0 and title.x1 <= page.x1, "the title runs off the figure"
    assert title.y1 <= page.y1 and title.y0 >= ax.get_window_extent(renderer).y1 - 1, "the title covers the grid"
    assert ax.get_title().replace("\n", " ") == f"fig5_cifar10: uncurated samples ({REPRODUCES})"


def test_fit_title_wraps_and_shortens():
    assert images.fit_title("short", 6, 9) == "short"
    long = " ".join(["word"] * 200)
    out = images.fit_title(long, 6, 9, max_lines=3)
    assert out.count("\n") == 2 and out.endswith("...")
    assert all(len(line) <= 6 * 72 / (9 * 0.55) for line in out.splitlines())
