"""Stage `ae_mcmc figures`: results/ae_mcmc/fig4_samples.png (samples at every image step for the four models,
batch norm in train mode, paper Fig. 4/7), fig2_interpolation.png (slerp rows before and after MCMC, Fig. 2/5/6/8),
chain_measures.png (latent Frechet distance to the test encodings, and classifier FID, against t, both
batch-norm modes).

A model whose training diverged (its chains.json carries the record, scorerepro.pipeline.divergence) keeps its row
in the sample figures, saying so in words, and is named above the curves it has none in; the others are drawn as
usual."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from scorerepro.core.fileio import save_figure  # noqa: E402
from scorerepro.papers.ae_mcmc.locations import RESULTS, results_dir, samples_dir  # noqa: E402
from scorerepro.pipeline.divergence import upstream_divergence  # noqa: E402
from scorerepro.plots.grid import image_grid  # noqa: E402
from scorerepro.plots.images import fit_title  # noqa: E402
from scorerepro.training.divergence import Divergence  # noqa: E402


def _show(ax, images: torch.Tensor, nrow: int, title: str) -> None:
    grid = image_grid(images.clamp(0, 1), nrow=nrow, padding=1, pad_value=1.0)
    ax.imshow(grid.permute(1, 2, 0).numpy(), cmap="gray" if images.shape[1] == 1 else None, vmin=0, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _say_diverged(axes_row, name: str, record: Divergence, width_in: float) -> None:
    """A model's row of panels, with no images to show: its divergence in words across the row."""
    for ax in axes_row:
        ax.axis("off")
    axes_row[0].text(0.0, 0.5, fit_title(f"{name.upper()}: not drawn, {record.text()}", width_in, 8, max_lines=6),
                     transform=axes_row[0].transAxes, ha="left", va="center", fontsize=8)


def run(params: dict) -> None:
    names = list(params["ae_mcmc"]["experiments"])
    ch = params["ae_mcmc"]["chains"]
    mode = ch["bn_modes"][0]
    metrics = {n: json.loads((results_dir(n) / "chains.json").read_text()) for n in names}
    diverged = {n: r for n in names if (r := upstream_divergence(metrics[n])) is not None}
    drawn = [n for n in names if n not in diverged]
    shown = {n: torch.load(samples_dir(n) / "chains.pt", weights_only=True) for n in drawn}
    steps = ch["image_steps"]

    fig, axes = plt.subplots(len(names), len(steps), figsize=(2.2 * len(steps), 2.4 * len(names)), squeeze=False)
    for i, n in enumerate(names):
        if n in diverged:
            _say_diverged(axes[i], n, diverged[n], 2.2 * len(steps))
            continue
        for j, t in enumerate(steps):
            score = metrics[n]["modes"][mode]["samples"].get(str(t), {}).get("fid_mnist_classifier")
            _show(axes[i, j], shown[n][mode]["samples"][t][:16], 4,
                  f"{n.upper()}  t = {t}" + (f"\nFID {score:.0f}" if score is not None else ""))
    fig.suptitle(f"Samples decoded from the prior (t = 0) and after t MCMC steps (batch norm: {mode} mode)"
                 + (_floor_text(metrics[drawn[0]]["modes"][mode]["samples"]) if drawn else ""), fontsize=9)
    save_figure(RESULTS / "fig4_samples.png", fig, dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(len(names), 2, figsize=(8, 1.6 * len(names)), squeeze=False)
    for i, n in enumerate(names):
        if n in diverged:
            _say_diverged(axes[i], n, diverged[n], 8)
            continue
        ip = shown[n][mode]["interpolation"]
        k = ip["points_per_pair"]
        for j, key in enumerate(("before", "after")):
            _show(axes[i, j], ip[key][:4 * k], k, f"{n.upper()}: slerp interior points, {key} "
                  f"{ch['interpolation']['steps']} MCMC steps")
    save_figure(RESULTS / "fig2_interpolation.png", fig, dpi=120)
    plt.close(fig)

    _chain_measures(names, ch["bn_modes"], metrics, diverged, RESULTS / "chain_measures.png")
    print("ae_mcmc figures written to results/ae_mcmc/")


def _floor_text(samples: dict) -> str:
    """The FID scale's reference, from any step's scores (the floor depends only on the sample count)."""
    for v in samples.values():
        if v.get("fid_mnist_classifier_real_same_n") is not None:
            return (f"\nFID: MNIST-classifier features, {v['n_samples']} samples; real-data floor "
                    f"{v['fid_mnist_classifier_real_same_n']:.1f}")
    return ""


def _chain_measures(names: list[str], bn_modes: list[str], metrics: dict, diverged: dict[str, Divergence],
                    path) -> None:
    """Both measures against t on the same symlog t axis (t = 0 is the prior, then 1, 5, 10, ...); one legend below
    both panels: colour is the model, line style the batch-norm mode. A diverged model has no curve; the figure's
    title names it and its divergence."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained", sharex=True)
    colours = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    if diverged:
        fig.suptitle(fit_title("Not drawn: " + "; ".join(f"{n.upper()}: {r.text()}" for n, r in diverged.items()),
                               10, 8, max_lines=8), fontsize=8)
    for n in [n for n in names if n not in diverged]:
        for m, style in zip(bn_modes, ("-", "--")):
            d = metrics[n]["modes"][m]["latent_frechet_to_encodings"]
            axes[0].plot([int(t) for t in d], list(d.values()), style, marker="o", color=colours[n],
                         label=f"{n.upper()}, batch norm in {m} mode")
            s = metrics[n]["modes"][m]["samples"]
            axes[1].plot([int(t) for t in s], [v.get("fid_mnist_classifier", float("nan")) for v in s.values()],
                         style, marker="o", color=colours[n])
    axes[0].set(ylabel="Frechet distance of the chain's latents\nto the test images' encodings",
                title="Claim 2: the chain approaches the learned latent distribution")
    axes[1].set(ylabel="FID (MNIST-classifier features; lower is better)", title="Claim 3: sample quality")
    for ax in axes:
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("MCMC step t (0: decoded prior draws)")
        ax.title.set_fontsize(10)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(4, len(names)),
               fontsize=8)
    save_figure(path, fig, dpi=120)
    plt.close(fig)
