"""Figures of the image experiments (seed 000 Figs. 4-8, 12, 13, 17, 18), PNG via matplotlib/seaborn."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402

from scorerepro.core.fileio import save_figure  # noqa: E402
from scorerepro.plots.grid import image_grid  # noqa: E402
from scorerepro.plots.labels import metric_label, score_caption  # noqa: E402


def _as_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float().clamp(0, 1)


def _show(ax, images: torch.Tensor, nrow: int, padding: int = 2) -> None:
    grid = image_grid(_as_float(images), nrow=nrow, padding=padding, pad_value=1.0)
    ax.imshow(grid.permute(1, 2, 0).numpy(), vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()


def fit_title(title: str, width_in: float, fontsize: float, max_lines: int = 3) -> str:
    """`title` wrapped to a figure `width_in` inches wide at `fontsize` points (about 0.55 em per character),
    at most `max_lines` lines (the rest shortened to "..."): a caller's long description (an experiment's
    `reproduces` text, say) then neither runs off the figure nor covers the picture."""
    width = max(20, int(width_in * 72 / (fontsize * 0.55)))
    lines = []
    for part in title.splitlines() or [""]:
        lines += textwrap.wrap(part, width) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [textwrap.shorten(" ".join(lines[max_lines - 1:]), width, placeholder=" ...")]
    return "\n".join(lines)


def sample_grid(images: torch.Tensor, path: Path, title: str, nrow: int = 10, metrics: dict | None = None,
                note: str | None = None) -> None:
    """Uncurated samples (Fig. 4, 5a-c); the title carries their score and the real-data floor when `metrics` (a
    scoring.score() result) has them, and `note` (e.g. that the samples are noise-like) on a line of its own."""
    n = min(len(images), nrow * nrow)
    title = "\n".join([fit_title(title, 6, 9)] + [fit_title(t, 6, 9) for t in (score_caption(metrics), note) if t])
    extra = 0.15 * title.count("\n")
    fig, ax = plt.subplots(figsize=(6, 6 * ((n + nrow - 1) // nrow) / nrow + 0.4 + extra))
    _show(ax, images[:n], nrow)
    ax.set_title(title, fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def note_figure(path: Path, title: str, note: str) -> None:
    """A figure that is only a title and a sentence: what a stage writes where there is nothing to plot, so the
    output exists and says why instead of drawing empty axes."""
    fig = plt.figure(figsize=(6, 1.6))
    fig.text(0.5, 0.7, fit_title(title, 6, 10), ha="center", va="center", fontsize=10, weight="bold")
    fig.text(0.5, 0.3, fit_title(note, 6, 9), ha="center", va="center", fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def intermediate_grid(snapshots: torch.Tensor, sigmas, path: Path, title: str) -> None:
    """Rows: samples; columns: the state at the end of each noise level (Fig. 5d-f)."""
    levels, n = snapshots.shape[0], snapshots.shape[1]
    images = snapshots.transpose(0, 1).reshape(levels * n, *snapshots.shape[2:])
    fig, ax = plt.subplots(figsize=(levels * 0.7 + 0.5, n * 0.7 + 0.8))
    _show(ax, images, nrow=levels)
    labels = ", ".join(f"{float(s):.3g}" for s in sigmas)
    ax.set_title(f"{title}\ncolumns: end of each level, sigma = {labels}", fontsize=8)
    save_figure(path, fig)
    plt.close(fig)


def loss_curve(table, path: Path, title: str) -> None:
    """Training loss by iteration with a running mean (Fig. 12)."""
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(table["step"], table["loss"], lw=0.6, alpha=0.4, label="per step")
    window = max(1, len(table) // 50)
    ax.plot(table["step"], table["loss"].rolling(window, min_periods=1).mean(), lw=1.5,
            label=f"running mean ({window} steps)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("denoising score-matching loss\n(sigma^2-weighted)")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    save_figure(path, fig)
    plt.close(fig)


def plot_fid_by_iteration(table, path: Path, title: str, selected: int | None = None) -> None:
    """FID of each checkpoint (Fig. 13); a checkpoint whose sampler diverged (column `diverged`) has no FID and
    is marked by a dotted line instead. A run with no scored checkpoint (column `scored`; a single-checkpoint run
    is not sampled, there being nothing to choose between) gets a note saying so instead of an empty chart."""
    diverged = table["diverged"].astype(bool) if "diverged" in table else table["fid"].isna()
    scored = table["scored"].astype(bool) if "scored" in table else ~table["fid"].isna() | diverged
    metric = metric_label(str(table["metric"].iloc[0]))
    if not (scored & ~diverged).any():
        iterations = ", ".join(str(i) for i in table["iteration"])
        why = ("a single checkpoint, so nothing to choose between and no sample was scored"
               if not scored.any() else "every scored checkpoint's sampler diverged")
        note_figure(path, title.replace(str(table["metric"].iloc[0]), metric),
                    f"No {metric} curve: checkpoint(s) {iterations}; {why}."
                    + (f" Selected: iteration {selected}." if selected is not None else ""))
        return
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(table["iteration"][~diverged], table["fid"][~diverged], marker="o", label="scored checkpoint")
    for k, it in enumerate(table["iteration"][diverged]):
        ax.axvline(it, color="tab:gray", ls=":", lw=1, label="sampler diverged" if k == 0 else None)
    if selected is not None:
        ax.axvline(selected, color="tab:red", ls="--", lw=1, label=f"selected: {selected}")
    ax.legend(fontsize=8)
    ax.set_xlabel("training iteration of the checkpoint")
    ax.set_ylabel(f"{metric}\n({int(table['n_samples'][scored].max())} samples)")
    ax.set_title(title.replace(str(table["metric"].iloc[0]), metric), fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def neighbours_figure(queries: torch.Tensor, neighbours: dict[str, torch.Tensor], path: Path, title: str) -> None:
    """Each row: a sample, then its k nearest training images in each space (Fig. 6, 17)."""
    spaces = list(neighbours)
    n, k = neighbours[spaces[0]].shape[:2]
    fig, axes = plt.subplots(1, len(spaces), figsize=(len(spaces) * (k + 1) * 0.8 + 0.5, n * 0.8 + 0.8),
                             squeeze=False)
    for ax, space in zip(axes[0], spaces):
        rows = torch.cat([queries[:, None], neighbours[space]], dim=1).reshape(n * (k + 1), *queries.shape[1:])
        _show(ax, rows, nrow=k + 1)
        ax.set_title(f"{space}: sample | {k} nearest training images", fontsize=8)
    fig.suptitle(title, fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def inpainting_figure(occluded: torch.Tensor, completions: torch.Tensor, originals: torch.Tensor, path: Path,
                      title: str) -> None:
    """Each row: occluded input, completions, original (Fig. 7, 18)."""
    n, c = completions.shape[:2]
    rows = torch.cat([occluded[:, None], completions, originals[:, None]], dim=1)
    rows = rows.reshape(n * (c + 2), *originals.shape[1:])
    fig, ax = plt.subplots(figsize=((c + 2) * 0.9 + 0.5, n * 0.9 + 0.8))
    _show(ax, rows, nrow=c + 2)
    ax.set_title(f"{title}\noccluded | {c} completions | original", fontsize=8)
    save_figure(path, fig)
    plt.close(fig)


def sensitivity_heatmap(table, value: str, path: Path, title: str, sample_panels=None) -> None:
    """A metric over the (step_lr, n_steps_each) grid, with example samples per cell when given (Fig. 8)."""
    sns.set_theme(style="white")
    pivot = table.pivot(index="n_steps_each", columns="step_lr", values=value)
    ncols = 2 if sample_panels is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4), squeeze=False)
    sns.heatmap(pivot, annot=True, fmt=".3g", cmap="viridis_r", ax=axes[0][0], cbar_kws={"label": metric_label(value)})
    axes[0][0].set(xlabel="Langevin step size epsilon (step_lr)", ylabel="steps per noise level T (n_steps_each)")
    axes[0][0].set_title(f"{metric_label(value)} (diverged: blank)", fontsize=9)
    if sample_panels is not None:
        images, nrow = sample_panels
        _show(axes[0][1], images, nrow=nrow)
        axes[0][1].set_title("samples: rows steps per level T, columns step size (as the heatmap)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    save_figure(path, fig)
    plt.close(fig)
