"""Stage `score_repr sweep`: the silhouette sweep of Fig. 4 (section 3.2.2). For each single training t and run
seed, train encoder + score net with every example at that t, encode the test images, and take the silhouette
score (Euclidean, the classes as clusters; sklearn.metrics.silhouette_score) of the codes.

Each run trains into models/score_repr/sweep/t<t>_seed<seed>/ (resumable); completed.json in the sweep folder is
written last. Results: results/score_repr/sweep/silhouette.csv, metrics.json, fig4_silhouette.png.

A run whose training diverges does not stop the sweep: its row has no measurements (NaN) and names the divergence
in a `diverged` column, metrics.json lists its record under `diverged_runs`, the figure marks its t, and the claim
that reads the sweep is untested. These appear only when a run diverged; otherwise the outputs are as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import silhouette_samples, silhouette_score

from scorerepro.core.fileio import save_figure, write_json
from scorerepro.core.seeding import derive_seed
from scorerepro.papers.score_repr.experiment import (codes_of, load_images, load_networks, make_sde, set_threads,
                                                     sweep_settings)
from scorerepro.papers.score_repr.losses import dsm_per_example
from scorerepro.papers.score_repr.locations import sweep_model_dir, sweep_results_dir
from scorerepro.papers.score_repr.training import train_experiment
from scorerepro.pipeline.tables import write_csv
from scorerepro.pipeline.divergence import divergence_in, marker
from scorerepro.training.divergence import Divergence, read_divergence
from scorerepro.training.train_errors import NonFiniteLossError

# What a run's row measures; NaN in the row of a run whose training diverged.
MEASURED = ("silhouette", "silhouette_chance", "silhouette_standardised", "dsm_test", "dsm_zero_score")
# The column naming a diverged run's divergence (Divergence.text()); written only when some run diverged, so that
# a sweep without one writes the table it always wrote.
DIVERGED_COLUMN = "diverged"
# metrics.json's list of the diverged runs: t, seed and the record (pipeline.divergence.marker), when any diverged
DIVERGED_RUNS = "diverged_runs"


def silhouette_of_codes(codes: torch.Tensor, labels: torch.Tensor | None) -> float:
    """Silhouette of codes with the class labels as clusters (Euclidean, raw codes, as the paper); NaN for a
    dataset without labels (CelebA)."""
    if labels is None:
        return float("nan")
    return float(silhouette_score(codes.double().numpy(), labels.numpy(), metric="euclidean"))


def chance_silhouette(codes: torch.Tensor, labels: torch.Tensor | None, n_permutations: int = 5,
                      seed: int = 0) -> float:
    """The silhouette the same codes get when the labels carry no information: the mean over seeded label
    permutations. It is below zero for many classes (each point's b(i) is a minimum over the other clusters), about
    -0.17 for 10 balanced classes in 2-D, so "no class information" (the paper's "near zero") is this level, not 0."""
    if labels is None:
        return float("nan")
    g = torch.Generator().manual_seed(seed)
    return float(sum(silhouette_of_codes(codes, labels[torch.randperm(len(labels), generator=g)])
                     for _ in range(n_permutations)) / n_permutations)


def silhouette_points(codes: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Each test point's silhouette value (sklearn.metrics.silhouette_samples); their mean is the silhouette."""
    return silhouette_samples(codes.double().numpy(), labels.numpy(), metric="euclidean")


def chance_silhouette_points(codes: torch.Tensor, labels: torch.Tensor, n_permutations: int = 5,
                             seed: int = 0) -> np.ndarray:
    """Each point's silhouette averaged over the label permutations of chance_silhouette (same generator, so the
    mean of these values is chance_silhouette's)."""
    g = torch.Generator().manual_seed(seed)
    return sum(silhouette_points(codes, labels[torch.randperm(len(labels), generator=g)])
               for _ in range(n_permutations)) / n_permutations


@torch.no_grad()
def dsm_loss_at_t(score_net, sde, images: torch.Tensor, t: float, codes: torch.Tensor | None,
                  seed: int) -> tuple[float, float]:
    """(the model's DSM loss on `images` at time t, the loss of a zero score at the same draws). A zero score's
    loss is the noise's mean square (1 in expectation); a model that has learned the score is far below it at
    every t, an untrained network at or above it."""
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))
    tt = torch.full((len(images),), float(t))
    return float(dsm_per_example(score_net, sde, images, tt, noise, codes).mean()), float((noise ** 2).mean())


def sweep_cell(params: dict, t: float, seed: int) -> tuple[dict, Divergence | None]:
    """Train one single-t run (or find it trained) and measure its test codes: (its row of silhouette.csv, None).
    A run whose training diverged, now or in an earlier sweep (its folder's diverged.json), gets a row with no
    measurements and a `diverged` column naming the divergence, and its record; the sweep goes on."""
    sweep = params["score_repr"]["sweep"]
    sde = params["score_repr"]["sde"]
    exp = sweep_settings(params, t, seed)
    out = sweep_model_dir() / exp["name"]
    test, labels = load_images(exp["dataset"], "test", exp["data"]["pool"])
    n = min(sweep["n_test"] or len(test), len(test))
    row = {"t": t, "sigma": float(sde["sigma_min"] * (sde["sigma_max"] / sde["sigma_min"]) ** t), "seed": seed}
    try:
        train_experiment(params, exp, out, progress=False)
    except NonFiniteLossError:  # also a rerun: it raises the recorded divergence again without training
        record = read_divergence(out)
        print(f"sweep t={t:g} seed={seed}: {record.text()}")
        return {**row, **dict.fromkeys(MEASURED, float("nan")), "n_test": n, DIVERGED_COLUMN: record.text()}, record
    nets = load_networks(exp, out)
    codes = codes_of(nets["encoder"], test[:n])
    test_labels = labels[:n] if labels is not None else None
    sil = silhouette_of_codes(codes, test_labels)
    chance = chance_silhouette(codes, test_labels, seed=seed)
    std = codes.std(dim=0)
    standardised = silhouette_of_codes((codes - codes.mean(0)) / std.clamp_min(1e-12), test_labels)
    dsm, dsm_zero = dsm_loss_at_t(nets["score"], make_sde(params), test[:n], t, codes,
                                  derive_seed(seed, f"score_repr:sweep:{t}"))
    print(f"sweep t={t:g} seed={seed}: silhouette {sil:.3f} (labels permuted: {chance:.3f})")
    return {**row, "silhouette": sil, "silhouette_chance": chance, "silhouette_standardised": standardised,
            "dsm_test": dsm, "dsm_zero_score": dsm_zero, "n_test": n}, None


def run(params: dict) -> None:
    set_threads(params)
    sweep = params["score_repr"]["sweep"]
    cells = [sweep_cell(params, t, seed) for t in sweep["t_values"] for seed in sweep["seeds"]]
    rows = [row for row, _ in cells]
    diverged = [{"t": row["t"], "seed": row["seed"], **marker(record)} for row, record in cells
                if record is not None]
    noted = {DIVERGED_RUNS: diverged} if diverged else {}  # absent when none diverged: the files as they were
    df = pd.DataFrame(rows)
    res = sweep_results_dir()
    write_csv(df, res / "silhouette.csv")
    agg = df.groupby("t")["silhouette"].agg(["mean", "std"]).reset_index()
    chance_by_t = df.groupby("t")["silhouette_chance"].mean()
    write_json(res / "metrics.json", {
        "dataset": sweep["dataset"], "pool": sweep["data"]["pool"], "n_iters": sweep["training"]["n_iters"],
        "t_values": [float(v) for v in agg["t"]], "silhouette_mean": [float(v) for v in agg["mean"]],
        "silhouette_std": [float(v) for v in std_of_means(agg, diverged)],
        "silhouette_chance_mean": [float(chance_by_t[v]) for v in agg["t"]], "seeds": list(sweep["seeds"]),
        "n_test": int(df["n_test"].iloc[0]), **noted})
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(agg["t"], agg["mean"], yerr=agg["std"].fillna(0.0), marker="o", capsize=3)
    ax.axhline(0.0, color="grey", lw=0.5)
    # A t whose every run diverged has no chance level: the line joins its neighbours rather than breaking there.
    chance_t = [v for v in agg["t"] if not np.isnan(chance_by_t[v])] if diverged else agg["t"]
    ax.plot(chance_t, [chance_by_t[v] for v in chance_t], "k--", lw=1, label="same codes, labels permuted (chance)")
    _mark_diverged(ax, diverged)
    ax.legend(fontsize=7)
    ax.set_xlabel("training t (single time scale)")
    ax.set_ylabel("silhouette of test codes")
    ax.set_title(f"Fig. 4: {sweep['dataset']} (pool {sweep['data']['pool']}), mean ± std over "
                 f"{len(sweep['seeds'])} runs", fontsize=9)
    save_figure(res / "fig4_silhouette.png", fig)
    plt.close(fig)
    write_json(sweep_model_dir() / "completed.json", {"runs": [r["t"] for r in rows], "n_runs": len(rows), **noted})


def std_of_means(agg: pd.DataFrame, diverged: list) -> pd.Series:
    """The spread over seeds of each t's mean: 0 for one run; none (NaN) where every run at that t diverged."""
    std = agg["std"].fillna(0.0)
    return std.mask(agg["mean"].isna()) if diverged else std


def diverged_runs(metrics: dict) -> list[tuple[float, int, Divergence]]:
    """(t, seed, divergence) of each sweep run whose training diverged, from the sweep's metrics.json."""
    return [(run["t"], run["seed"], divergence_in(run)) for run in metrics.get(DIVERGED_RUNS, [])]


def _mark_diverged(ax, diverged: list[dict]) -> None:
    """A diverged run has no silhouette: its t gets a red dotted line and the divergence in words (the means at
    that t are over the runs that finished)."""
    import textwrap

    for i, run in enumerate(diverged):
        ax.axvline(run["t"], color="tab:red", ls=":", lw=1, label="a run diverged (no silhouette)" if i == 0 else None)
    if diverged:
        text = "\n".join(textwrap.fill(f"t={r['t']:g} seed {r['seed']}: {divergence_in(r).text()}", 80)
                         for r in diverged)
        ax.text(0.01, 0.01, text, transform=ax.transAxes, fontsize=5, color="tab:red", va="bottom")
