"""Stage `ae_mcmc figures`: results/ae_mcmc/fig4_samples.png (samples at every image step for the four models,
batch norm in train mode, paper Fig. 4/7), fig2_interpolation.png (slerp rows before and after MCMC, Fig. 2/5/6/8),
chain_measures.png (latent Frechet distance to the test encodings, and classifier FID, against t, both
batch-norm modes)."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from scorerepro.core.fileio import save_figure  # noqa: E402
from scorerepro.papers.ae_mcmc.locations import RESULTS, results_dir, samples_dir  # noqa: E402
from scorerepro.plots.grid import image_grid  # noqa: E402


def _show(ax, images: torch.Tensor, nrow: int, title: str) -> None:
    grid = image_grid(images.clamp(0, 1), nrow=nrow, padding=1, pad_value=1.0)
    ax.imshow(grid.permute(1, 2, 0).numpy(), cmap="gray" if images.shape[1] == 1 else None, vmin=0, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def run(params: dict) -> None:
    names = list(params["ae_mcmc"]["experiments"])
    ch = params["ae_mcmc"]["chains"]
    mode = ch["bn_modes"][0]
    shown = {n: torch.load(samples_dir(n) / "chains.pt", weights_only=True) for n in names}
    metrics = {n: json.loads((results_dir(n) / "chains.json").read_text()) for n in names}
    steps = ch["image_steps"]

    fig, axes = plt.subplots(len(names), len(steps), figsize=(2.2 * len(steps), 2.4 * len(names)), squeeze=False)
    for i, n in enumerate(names):
        for j, t in enumerate(steps):
            _show(axes[i, j], shown[n][mode]["samples"][t][:16], 4, f"{n.upper()}  t = {t}")
    fig.suptitle(f"Samples decoded from the prior (t = 0) and after t MCMC steps (batch norm: {mode} mode)",
                 fontsize=9)
    save_figure(RESULTS / "fig4_samples.png", fig, dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(len(names), 2, figsize=(8, 1.6 * len(names)), squeeze=False)
    for i, n in enumerate(names):
        ip = shown[n][mode]["interpolation"]
        k = ip["points_per_pair"]
        for j, key in enumerate(("before", "after")):
            _show(axes[i, j], ip[key][:4 * k], k, f"{n.upper()}: slerp interior points, {key} "
                  f"{ch['interpolation']['steps']} MCMC steps")
    save_figure(RESULTS / "fig2_interpolation.png", fig, dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for n in names:
        for m, style in zip(ch["bn_modes"], ("-", "--")):
            d = metrics[n]["modes"][m]["latent_frechet_to_encodings"]
            ts = [int(t) for t in d]
            axes[0].plot(ts, list(d.values()), style, marker="o", label=f"{n} ({m} BN)")
            s = metrics[n]["modes"][m]["samples"]
            axes[1].plot([int(t) for t in s], [v.get("fid_mnist_classifier", float("nan")) for v in s.values()],
                         style, marker="o", label=f"{n} ({m} BN)")
    axes[0].set(xscale="symlog", xlabel="MCMC step t", ylabel="Frechet distance of {z_t} to {e(x_test)}",
                title="Claim 2: the chain approaches the learned latent distribution")
    axes[1].set(xlabel="MCMC step t", ylabel="MNIST-classifier FID (lower is better)", title="Claim 3: sample quality")
    for ax in axes:
        ax.legend(fontsize=6)
    save_figure(RESULTS / "chain_measures.png", fig, dpi=120)
    plt.close(fig)
    print("ae_mcmc figures written to results/ae_mcmc/")
