"""Stage `sensitivity`: sampling sensitivity to step_lr (epsilon) and n_steps_each (T) on one trained model
(seed 000 section 6.1, Fig. 8): a metric over the grid as a heatmap, a sample per cell, divergence recorded. A model
whose training diverged has no grid: both outputs name the divergence."""

from __future__ import annotations

import pandas as pd
import torch

from scorerepro.core.fileio import write_json
from scorerepro.papers.ncsn.experiment import experiment_settings, load_score_net, selected_checkpoint
from scorerepro.papers.ncsn.locations import model_dir, results_dir, sensitivity_dir
from scorerepro.papers.ncsn.sampling import SamplingDivergedError
from scorerepro.papers.ncsn.stages.batched_sampling import batch_size_for, sample_batches
from scorerepro.plots.images import sensitivity_heatmap
from scorerepro.pipeline.common import resolve_device, to_uint8
from scorerepro.pipeline.divergence import upstream_divergence, write_diverged_outputs
from scorerepro.pipeline.scoring import score


def run(params: dict) -> None:
    cfg = params["ncsn"]["sensitivity"]
    # From the experiment only its network (model, noise, dataset: the checkpoint) and its sampling batch and speed
    # options; never its step_lr or n_steps_each, so that changing those does not make this grid stale.
    exp = experiment_settings(params, cfg["experiment"])
    out = sensitivity_dir()
    diverged = upstream_divergence(model_dir(exp["name"]), results_dir(exp["name"]) / "selected.json")
    if diverged is not None:
        return write_diverged_outputs(diverged, [out / "fig8_sensitivity.png", out / "metrics.json"],
                                      "ncsn sensitivity")
    device = resolve_device(params)
    net = load_score_net(exp, selected_checkpoint(exp), device)
    metric = cfg["metric"]
    batch = batch_size_for(exp, cfg["n_samples"])
    rows, panels = [], []
    for t in cfg["n_steps_each"]:
        for lr in cfg["step_lr"]:
            row = {"step_lr": lr, "n_steps_each": t, "n_samples": cfg["n_samples"]}
            try:
                samples, _ = sample_batches(net, exp, 0, cfg["n_samples"], params["seed"] + 11, device,
                                            n_steps_each=t, step_lr=lr, batch_size=batch, progress=False)
                imgs = to_uint8(samples)
                m = score(imgs, exp["dataset"], params, device, inception=metric == "fid_inception",
                          classifier=metric != "fid_inception")
                row.update({metric: m[metric], f"{metric}_se": m.get(f"{metric}_se"), "diverged": False,
                            "mean_pixel": float(samples.mean()), "saturated_fraction":
                            float(((samples <= 0) | (samples >= 1)).float().mean())})
                panels.append(imgs[0])
            except SamplingDivergedError as e:
                row.update({metric: None, "diverged": True, "divergence": str(e), "diverged_level": e.level,
                            "diverged_step": e.step})
                panels.append(torch.zeros_like(panels[-1]) if panels else
                              torch.zeros((1, 1, 1), dtype=torch.uint8))
            rows.append(row)
            print(f"sensitivity: step_lr={lr:g} n_steps_each={t}: {row.get(metric)}")
    table = pd.DataFrame(rows)
    shape = next((p.shape for p in panels if p.numel() > 1), None)
    panels = [p if p.shape == shape else torch.zeros(shape, dtype=torch.uint8) for p in panels] if shape else None
    sensitivity_heatmap(table, metric, out / "fig8_sensitivity.png",
                        f"{exp['name']}: sampling sensitivity ({cfg['n_samples']} samples per cell)",
                        sample_panels=(torch.stack(panels), len(cfg["step_lr"])) if panels else None)
    finite = table[~table["diverged"]]
    best = finite.loc[finite[metric].idxmin()] if len(finite) else None
    write_json(out / "metrics.json", {
        "experiment": exp["name"], "metric": metric, "grid": rows,
        "best": None if best is None else {"step_lr": float(best["step_lr"]),
                                           "n_steps_each": int(best["n_steps_each"]), metric: float(best[metric])},
    })
