"""Figures of seed 004's synthetic experiments (Fig. 1-4 analogues)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import pandas as pd  # noqa: E402

from scorerepro.core.fileio import save_figure  # noqa: E402


def plot_bias_variance(metrics: dict, path: Path) -> None:
    df = pd.DataFrame(metrics["rows"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for (name, cv), part in df.groupby(["estimator", "control_variate"]):
        label = f"{name.upper()} {'with' if cv else 'without'} CV"
        style = "-" if cv else "--"
        axes[0].loglog(part["eps"], part["squared_bias"], style, marker="o", label=label)
        axes[1].loglog(part["eps"], part["variance"], style, marker="o", label=label)
    axes[1].axhline(metrics["ssm_variance_of_batch_mean"], color="k", lw=0.8, label="SSM")
    axes[0].set(xlabel="perturbation size eps", ylabel="squared bias against SSM (E.1.1)",
                title="banana: squared bias")
    axes[1].set(xlabel="perturbation size eps", ylabel="variance of the batch mean", title="banana: variance")
    axes[1].legend(fontsize=8)
    save_figure(path, fig)
    plt.close(fig)


def plot_cd1(metrics: dict, path: Path) -> None:
    df = pd.DataFrame(metrics["rows"]).dropna()
    fig, ax = plt.subplots(figsize=(5, 4))
    for cv, part in df.groupby("control_variate"):
        g = part.groupby("step_size")["sm_loss"]
        ax.errorbar(g.mean().index, g.mean().values, yerr=g.std().values, marker="o", capsize=3,
                    label=f"CD-1 {'with' if cv else 'without'} CV")
    ax.set(xscale="log", xlabel="step size", ylabel="score-matching loss after training",
           title=f"cosine: CD-1, {metrics['settings']['n_runs']} runs")
    ax.legend()
    save_figure(path, fig)
    plt.close(fig)


def plot_sphere(metrics: dict, path: Path, title: str) -> None:
    shape = metrics["grid_shape"]
    true, model = np.asarray(metrics["log_true"]), np.asarray(metrics["log_model"])
    if len(shape) == 1:
        theta = (np.arange(shape[0]) + 0.5) * 2 * np.pi / shape[0]
        # Constrained layout stacks the suptitle above the polar panels' titles (which sit higher than a Cartesian
        # axes' title, above the 90-degree label) instead of across them.
        fig, axes = plt.subplots(1, 2, figsize=(9, 4.6), subplot_kw={"projection": "polar"}, layout="constrained")
        for ax, vals, name in ((axes[0], true, "true"), (axes[1], model, "learned")):
            ax.plot(theta, np.exp(vals))
            # Three radial labels, placed where the densities are low, so they neither crowd nor sit on the curve.
            ax.yaxis.set_major_locator(MaxNLocator(3))
            ax.set_rlabel_position(200)
            ax.set_title(f"{name} density (radius) by angle", pad=14)
    else:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
        vmin, vmax = true.min(), true.max()
        for ax, vals, name in ((axes[0], true, "true"), (axes[1], model, "learned")):
            im = ax.imshow(vals.reshape(shape), extent=[0, 360, 180, 0], aspect="auto", vmin=vmin, vmax=vmax)
            ax.set(xlabel="azimuth (deg)", ylabel="polar angle (deg)", title=f"{name} log-density")
        fig.colorbar(im, ax=axes, label="log-density")
    fig.suptitle(f"{title}: KL {metrics['kl_true_to_model']:.4f} nats, max |log-density error| "
                 f"{metrics['max_abs_log_density_error']:.3f}")
    save_figure(path, fig)
    plt.close(fig)
