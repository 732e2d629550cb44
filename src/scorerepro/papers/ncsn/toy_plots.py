"""Figures of the toy studies (seed 000 Figs. 1, 2, 3 and 11), PNG.

Built on matplotlib's object-oriented ``Figure`` (no pyplot): PNG output then goes through the Agg canvas
without selecting a global backend, so importing this module changes nothing for other code and needs no
display. Each function takes a study's ``StudyResult`` (metrics + arrays) and writes one file atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from scorerepro.core.fileio import save_figure

__all__ = ["plot_fig1", "plot_fig2", "plot_fig3", "plot_fig11"]

_COLORS = {"perturbed": "tab:blue", "unperturbed": "tab:red"}


def _moving_average(y: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or y.size < k:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    out = (c[k:] - c[:-k]) / k
    return np.concatenate([np.full(k - 1, np.nan), out])


def _linthresh(x: float) -> float:
    """The smallest power of ten >= max(x, 1): symlog's linear band."""
    return float(10.0 ** np.ceil(np.log10(max(float(x), 1.0))))


def _symlog_ticks(lo: float, hi: float, linthresh: float) -> list[float]:
    """0 and +-10^k for the decades from linthresh out to the data range."""
    ticks = [0.0]
    k = int(round(np.log10(linthresh)))
    for sign, end in ((-1.0, -lo), (1.0, hi)):
        j = k
        while 10.0 ** j <= max(end, 0.0) and j < k + 30:
            ticks.append(sign * 10.0 ** j)
            j += 1
    return sorted(ticks)


def plot_fig1(result, path: str | Path) -> None:
    """Loss curves with and without perturbation: one panel per run (own linear scale) and both on symlog."""
    m, arrays = result.metrics, result.arrays
    bound = m["perturbed_loss_lower_bound"]["value"]
    fig = Figure(figsize=(15, 4.2))
    axes = fig.subplots(1, 3, gridspec_kw={"wspace": 0.3})
    for ax, name in zip(axes[:2], ("perturbed", "unperturbed")):
        y = np.asarray(arrays[name], dtype=np.float64)
        run = m["runs"][name]
        it = np.arange(1, y.size + 1)
        ax.plot(it, y, color=_COLORS[name], lw=0.6, alpha=0.45, label="per iteration")
        k = max(1, y.size // 50)
        ax.plot(it, _moving_average(y, k), color="k", lw=1.2, label=f"moving mean ({k})")
        if run.get("last_window"):
            n = run["last_window"]["n"]
            ax.axvspan(y.size - n + 1, y.size, color="0.85", zorder=0, label="last window")
        std = run["noise_std"]
        verdict = "converged" if run["converged"] else "not converged"
        ax.set_title(f"{name} (noise std {std:g}): {verdict}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("SSM loss")
        ax.legend(fontsize=8, loc="best")
    ax = axes[2]
    for name in ("perturbed", "unperturbed"):
        y = np.asarray(arrays[name], dtype=np.float64)
        ax.plot(np.arange(1, y.size + 1), y, color=_COLORS[name], lw=0.6, label=name)
    ax.axhline(bound, color="k", ls="--", lw=1, label=f"perturbed bound {bound:.3g}")
    # Ticks: 0 and the decades outside the linear band only (matplotlib's own symlog ticks put a decade inside
    # the band a hair away from 0, and the two labels overlapped).
    values = np.concatenate([np.asarray(arrays[n], dtype=np.float64) for n in ("perturbed", "unperturbed")]
                            + [np.array([bound])])
    linthresh = _linthresh(abs(bound) * 1e-4)
    ax.set_yscale("symlog", linthresh=linthresh)
    ax.set_yticks(_symlog_ticks(float(np.nanmin(values)), float(np.nanmax(values)), linthresh))
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"SSM loss (linear within ±{linthresh:g})")
    ax.set_title("both runs (symlog)")
    ax.legend(fontsize=8)
    fig.suptitle("SSM on images with and without N(0, s^2) perturbation: " + m["verdict"], fontsize=10, y=1.04)
    save_figure(path, fig)


def plot_fig2(result, path: str | Path) -> None:
    """Data density, exact scores, SSM-estimated scores and the error map with the two region boundaries."""
    a, m = result.arrays, result.metrics
    lin = a["grid_lin"].numpy()
    ext = (lin[0], lin[-1], lin[0], lin[-1])
    fig = Figure(figsize=(18, 4.6))
    axes = fig.subplots(1, 4)
    axes[0].imshow(a["log_density"].exp().numpy(), origin="lower", extent=ext, cmap="inferno")
    axes[0].set_title("data density")
    pts = a["quiver_points"].numpy()
    for ax, key, title in ((axes[1], "quiver_true", "exact scores"), (axes[2], "quiver_est", "estimated scores (SSM)")):
        s = a[key].numpy()
        ax.quiver(pts[:, 0], pts[:, 1], s[:, 0], s[:, 1], width=0.005)
        ax.set_title(title)
        ax.set_xlim(ext[0] - 0.5, ext[1] + 0.5)
        ax.set_ylim(ext[2] - 0.5, ext[3] + 0.5)
    err = np.log10(a["abs_error"].numpy().clip(1e-6))
    im = axes[3].imshow(err, origin="lower", extent=ext, cmap="viridis")
    fig.colorbar(im, ax=axes[3], label="log10 ||s_theta - grad log p||")
    xx, yy = np.meshgrid(lin, lin)
    lp = a["log_density"].numpy()
    cs = axes[3].contour(xx, yy, lp, levels=sorted([a["q_low"], a["q_high"]]), colors=["w", "r"], linewidths=1)
    axes[3].clabel(cs, fmt={a["q_low"]: "low", a["q_high"]: "high"}, fontsize=8)
    hi, lo = m["error_high_density"], m["error_low_density"]
    # Three short lines: the panel is narrower than the other three (its colorbar takes room), and a longer
    # line ran under the colorbar.
    axes[3].set_title(f"score error, mean: high-density {hi['mean_abs_error']:.3g},\n"
                      f"low-density {lo['mean_abs_error']:.3g}\n"
                      "boundaries: red high-, white low-density", fontsize=9)
    for ax in axes:
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    save_figure(path, fig)


def _scatter(ax, x: torch.Tensor | None, bound: float, title: str, record: dict | None = None) -> None:
    if x is None:
        ax.set_axis_off()
        msg = "DIVERGED"
        if record is not None and record.get("kind") == "overflow":
            lvl = record.get("level")
            where = f"level {lvl}/{record['num_levels']}\nsigma {record['sigma']:.3g}\n" if lvl else ""
            msg = (f"DIVERGED (overflow)\n{where}step {record['step']}/{record['n_steps']}\n"
                   f"eps there {record['eps_at_divergence']:.3g}")
        elif record is not None:
            msg = f"DIVERGED\n(|x| reached\n{record.get('max_abs_coordinate', float('nan')):.3g})"
        ax.text(0.5, 0.5, msg, ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_title(title, fontsize=9)
        return
    x = x.numpy()
    ax.scatter(x[:, 0], x[:, 1], s=0.3, alpha=0.6)
    ax.set_xlim(-bound, bound)
    ax.set_ylim(-bound, bound)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)


def _weights_text(rec: dict) -> str:
    f = rec.get("mode_fractions")
    return "" if not f else ", ".join(f"{k}: {v:.3f}" for k, v in f.items())


def plot_fig3(result, path: str | Path, bound: float = 8.0) -> None:
    """Exact samples, plain Langevin, each annealed setting; a text panel where a chain diverged."""
    samples, res = result.arrays["samples"], result.metrics["results"]
    names = list(samples)
    fig = Figure(figsize=(4.2 * len(names), 4.6))
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        rec = res[name]
        title = {"exact": "exact GMM samples", "langevin": "Langevin"}.get(name, f"annealed Langevin ({name})")
        if name not in ("exact", "langevin"):
            s = rec["sigmas"]
            title += f"\nsigma {s[0]:.3g} -> {s[-1]:.3g}, eps {rec['eps']:g}, {rec['score']} score"
        title += "\n" + _weights_text(rec)
        _scatter(ax, samples[name], bound, title, rec)
    save_figure(path, fig)


def plot_fig11(result, path: str | Path, bound: float = 8.0) -> None:
    """Energy distance vs eps (log x) per score variant with the noise floor; sample panels per (variant, eps)."""
    m, samples = result.metrics, result.arrays["samples"]
    variants = list(m["runs"])
    eps_grid = m["settings"]["eps_grid"]
    ncols = len(eps_grid)
    fig = Figure(figsize=(max(10.0, 2.1 * ncols), 4.5 + 2.4 * len(variants)))
    gs = fig.add_gridspec(1 + len(variants), ncols, height_ratios=[2.2] + [1.0] * len(variants), hspace=0.7)
    ax = fig.add_subplot(gs[0, :])
    floor = m["energy_distance_noise_floor"]
    lo = 0.3 * floor["max_abs"]
    finite = [r["energy_distance_to_exact"] for rs in m["runs"].values() for r in rs if not r["diverged"]]
    top = 3.0 * max(finite + [floor["max_abs"]])
    for k, variant in enumerate(variants):
        recs = m["runs"][variant]
        ok = [(r["eps"], r["energy_distance_to_exact"]) for r in recs if not r["diverged"]]
        line = None
        if ok:
            e, d = zip(*ok)
            (line,) = ax.plot(e, np.maximum(d, lo), "o-", label=f"{variant} score")
        div = [r["eps"] for r in recs if r["diverged"]]
        if div:
            # Diverged runs have no distance: marked above every finite point, one row per variant.
            ax.plot(div, [top * (1.6 ** k)] * len(div), "x", ms=10, mew=2,
                    color=None if line is None else line.get_color(), label=f"{variant}: diverged")
    ax.axhline(floor["max_abs"], color="0.4", ls="--", lw=1,
               label=f"exact vs exact: max |ED| over {floor['repeats']} pairs")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(lo * 0.8, top * 1.6 ** len(variants))
    ax.set_xlabel("eps (paper convention)")
    ax.set_ylabel("energy distance to exact samples")
    ax.set_title("annealed Langevin, reported sigmas " + f"{m['settings']['sigmas'][0]:.3g} -> "
                 f"{m['settings']['sigmas'][-1]:.3g}, exact scores (values below {lo:.2g} drawn at {lo:.2g})",
                 fontsize=9)
    ax.legend(fontsize=8)
    for row, variant in enumerate(variants, start=1):
        recs = {r["eps"]: r for r in m["runs"][variant]}
        for col, eps in enumerate(eps_grid):
            sub = fig.add_subplot(gs[row, col])
            rec = recs[eps]
            title = f"{variant}, eps {eps:g}"
            if not rec["diverged"]:
                title += f"\nED {rec['energy_distance_to_exact']:.3g}"
            _scatter(sub, samples[variant][eps], bound, title, rec)
            sub.set_xticks([])
            sub.set_yticks([])
    save_figure(path, fig)
