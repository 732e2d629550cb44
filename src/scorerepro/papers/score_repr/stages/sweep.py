"""Stage `score_repr sweep`: the silhouette sweep of Fig. 4 (section 3.2.2). For each single training t and run
seed, train encoder + score net with every example at that t, encode the test images, and take the silhouette
score (Euclidean, the classes as clusters; sklearn.metrics.silhouette_score) of the codes.

Each run trains into models/score_repr/sweep/t<t>_seed<seed>/ (resumable); completed.json in the sweep folder is
written last. Results: results/score_repr/sweep/silhouette.csv, metrics.json, fig4_silhouette.png."""

from __future__ import annotations

import pandas as pd
import torch
from sklearn.metrics import silhouette_score

from scorerepro.core.fileio import save_figure, write_json
from scorerepro.papers.score_repr.experiment import (codes_of, load_images, load_networks, set_threads, sweep_settings,
                                                     train_experiment)
from scorerepro.papers.score_repr.locations import sweep_model_dir, sweep_results_dir
from scorerepro.pipeline.tables import write_csv


def silhouette_of_codes(codes: torch.Tensor, labels: torch.Tensor | None) -> float:
    """Silhouette of codes with the class labels as clusters (Euclidean, raw codes, as the paper); NaN for a
    dataset without labels (CelebA)."""
    if labels is None:
        return float("nan")
    return float(silhouette_score(codes.double().numpy(), labels.numpy(), metric="euclidean"))


def run(params: dict) -> None:
    set_threads(params)
    sweep = params["score_repr"]["sweep"]
    rows = []
    for t in sweep["t_values"]:
        for seed in sweep["seeds"]:
            exp = sweep_settings(params, t, seed)
            out = sweep_model_dir() / exp["name"]
            train_experiment(params, exp, out, progress=False)
            nets = load_networks(exp, out)
            test, labels = load_images(exp["dataset"], "test", exp["data"]["pool"])
            n = sweep["n_test"] or len(test)
            codes = codes_of(nets["encoder"], test[:n])
            sil = silhouette_of_codes(codes, labels[:n] if labels is not None else None)
            std = codes.std(dim=0)
            standardised = silhouette_of_codes((codes - codes.mean(0)) / std.clamp_min(1e-12), labels[:n] if labels is not None else None)
            rows.append({"t": t, "sigma": float(params["score_repr"]["sde"]["sigma_min"] * (
                params["score_repr"]["sde"]["sigma_max"] / params["score_repr"]["sde"]["sigma_min"]) ** t),
                "seed": seed, "silhouette": sil, "silhouette_standardised": standardised, "n_test": n})
            print(f"sweep t={t:g} seed={seed}: silhouette {sil:.3f}")
    df = pd.DataFrame(rows)
    res = sweep_results_dir()
    write_csv(df, res / "silhouette.csv")
    agg = df.groupby("t")["silhouette"].agg(["mean", "std"]).reset_index()
    write_json(res / "metrics.json", {
        "dataset": sweep["dataset"], "pool": sweep["data"]["pool"], "n_iters": sweep["training"]["n_iters"],
        "t_values": [float(v) for v in agg["t"]], "silhouette_mean": [float(v) for v in agg["mean"]],
        "silhouette_std": [float(v) for v in agg["std"].fillna(0.0)], "seeds": list(sweep["seeds"])})
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(agg["t"], agg["mean"], yerr=agg["std"].fillna(0.0), marker="o", capsize=3)
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_xlabel("training t (single time scale)")
    ax.set_ylabel("silhouette of test codes")
    ax.set_title(f"Fig. 4: {sweep['dataset']} (pool {sweep['data']['pool']}), mean ± std over "
                 f"{len(sweep['seeds'])} runs", fontsize=9)
    save_figure(res / "fig4_silhouette.png", fig)
    plt.close(fig)
    write_json(sweep_model_dir() / "completed.json", {"runs": [r["t"] for r in rows], "n_runs": len(rows)})
