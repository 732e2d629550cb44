"""Stage `select <experiment>`: per-checkpoint FID selection (paper and seed 000 section 3.3, Fig. 13).

`--shard i` draws this shard's share of select.n_samples samples from every checkpoint (the heavy part, one job
per shard on a cluster); `--merge` scores each checkpoint on all shards' samples together and picks the best.
select.metric `last` keeps the final checkpoint (the seed's choice for MNIST) but still records the curve.
A run with a single checkpoint has nothing to choose between: it is selected without selection samples (its row
says `scored: False`); the evaluate stage scores it on its own samples, as it does every selected checkpoint.

A checkpoint whose sampler diverges (sampling.SamplingDivergedError: the chain left the bounds of
batched_sampling.image_chain_bounds) is recorded as diverged, with level and step, in the FID-by-iteration table,
and is never selected: its clamped samples are all 0 or 255, which a FID may rank above real samples. If every
checkpoint diverged, the stage fails and says so. A diverged training (the model folder's diverged.json, carried
in the shard files) is another matter: both stages then write their outputs saying so, and exit 0.
"""

from __future__ import annotations

import torch

from scorerepro.core.errors import EXIT_DIVERGED, UserError
from scorerepro.core.fileio import atomic_path, write_json
from scorerepro.papers.ncsn.divergence import shards_divergence
from scorerepro.papers.ncsn.experiment import build_score_net, experiment_settings
from scorerepro.papers.ncsn.locations import model_dir, results_dir, samples_dir
from scorerepro.papers.ncsn.sampling import SamplingDivergedError
from scorerepro.papers.ncsn.shard_settings import SELECT_RERUN, checkpoint_hashes, select_settings
from scorerepro.papers.ncsn.stages.batched_sampling import batch_size_for, sample_batches
from scorerepro.pipeline.common import (read_shards, remove_unlisted_shards, resolve_device, save_shard, shard_file,
                                        shard_range, to_uint8)
from scorerepro.pipeline.divergence import upstream_divergence, write_diverged_outputs
from scorerepro.pipeline.scoring import score
from scorerepro.training import list_checkpoints, load_model_weights

class AllCheckpointsDivergedError(UserError, RuntimeError):
    """Every checkpoint's sampler diverged, so there is nothing to select."""

    label, exit_code = "sampling diverged", EXIT_DIVERGED


def _checkpoints(name: str):
    ckpts = list_checkpoints(model_dir(name))
    if not ckpts:
        raise FileNotFoundError(f"no checkpoints in {model_dir(name)}/checkpoints: run `scorerepro ncsn train {name}`")
    return ckpts


def sample_shard(params: dict, experiment: str, shard: int) -> None:
    """Stage ncsn_select_sample: shard `shard` of select.n_samples samples from every checkpoint."""
    exp = experiment_settings(params, experiment)
    shards = params["sharding"]["shards"]
    folder = samples_dir(exp["name"]) / "select"
    diverged = upstream_divergence(model_dir(exp["name"]))
    if diverged is not None:  # no checkpoint to sample: the shard says why
        return write_diverged_outputs(diverged, [shard_file(folder, shard)],
                                      f"ncsn select_sample {experiment} {shard}")
    device = resolve_device(params)
    start, stop = shard_range(exp["select"]["n_samples"], shards, shard)
    checkpoints = _checkpoints(exp["name"])
    if len(checkpoints) == 1:
        save_shard(folder, shard, select_settings(params, exp),
                   {"range": [start, stop], "images_by_step": {}, "diverged_by_step": {},
                    "unscored_steps": [checkpoints[0][0]]})
        remove_unlisted_shards(folder, shards)
        print(f"select {experiment} shard {shard}: one checkpoint ({checkpoints[0][0]}), nothing to choose between: "
              f"no selection samples")
        return
    images, diverged = {}, {}
    # One network for all checkpoints, weights copied in place: a compiled sampler (sampling.compile) is built
    # once per stage, not once per checkpoint.
    net = build_score_net(exp).to(device).eval()
    batch = batch_size_for(exp, exp["select"]["n_samples"])
    for step, path in checkpoints:
        load_model_weights(net, path, which="auto")
        try:
            samples, _ = sample_batches(net, exp, start, stop, params["seed"], device, batch_size=batch)
        except SamplingDivergedError as e:
            diverged[step] = e.record()
            print(f"select {experiment} shard {shard}: checkpoint {step} diverged: {e}")
            continue
        images[step] = to_uint8(samples)
    save_shard(folder, shard, select_settings(params, exp),
               {"range": [start, stop], "images_by_step": images, "diverged_by_step": diverged})
    remove_unlisted_shards(folder, shards)
    print(f"select {experiment} shard {shard}: samples {start}..{stop - 1} of {len(images)} checkpoints"
          + (f", {len(diverged)} diverged" if diverged else ""))


def _row(step: int, parts: list[dict], exp: dict, params: dict, device, curve_metric: str) -> dict:
    """One row of the FID-by-iteration table: the checkpoint's score on all shards, or where it diverged."""
    n = exp["select"]["n_samples"]
    if any(step in p.get("unscored_steps", ()) for p in parts):
        return {"iteration": step, "fid": float("nan"), "fid_se": float("nan"), "metric": curve_metric,
                "n_samples": 0, "diverged": False, "divergence": "", "scored": False}
    bad = next((p["diverged_by_step"][step] for p in parts if step in p.get("diverged_by_step", {})), None)
    if bad is not None:
        return {"iteration": step, "fid": float("nan"), "fid_se": float("nan"), "metric": curve_metric,
                "n_samples": n, "diverged": True,
                "divergence": f"level {bad['level']}, step {bad['step']}: {bad['message']}", "scored": True}
    use_inception = curve_metric == "fid_inception"
    imgs = torch.cat([p["images_by_step"][step] for p in parts])
    m = score(imgs, exp["dataset"], params, device, inception=use_inception, classifier=not use_inception)
    if curve_metric not in m:
        raise ValueError(f"select.metric {curve_metric} is not available for {exp['dataset']} "
                         f"(have: {sorted(m)}); use fid_inception")
    # the bootstrap standard error over this checkpoint's samples (NaN where the metric has none): the claims
    # table needs it to tell a fluctuation between checkpoints from sampling noise
    return {"iteration": step, "fid": m[curve_metric], "fid_se": m.get(curve_metric + "_se", float("nan")),
            "metric": curve_metric, "n_samples": len(imgs), "diverged": False, "divergence": "", "scored": True}


def _choose(table, metric: str, name: str):
    """The selected row: never a diverged checkpoint; an error when every checkpoint diverged."""
    ok = table[~table["diverged"]]
    if ok.empty:
        where = "; ".join(f"checkpoint {r.iteration}: {r.divergence}" for r in table.itertuples())
        raise AllCheckpointsDivergedError(
            f"every checkpoint of {name} diverged while sampling, so none can be selected ({where}). Lower "
            f"sampling.step_lr (or raise noise.sigma_end) for this experiment and rerun `scorerepro ncsn "
            f"select_sample {name} <shard>` for each shard, then `scorerepro ncsn select {name}`")
    if metric == "last" and bool(table["diverged"].iloc[-1]):
        print(f"select {name}: the last checkpoint diverged; keeping the last one that did not")
    if len(ok) == 1:  # also the one unscored checkpoint of a single-checkpoint run
        return ok.iloc[0]
    return ok.loc[ok["fid"].idxmin()] if metric != "last" else ok.iloc[-1]


def _rule(table, metric: str, curve_metric: str, scored: bool) -> str:
    """Why the selected checkpoint was chosen. It names a divergence only where one changed the choice (the last
    checkpoint diverged under the `last` rule): the lowest score is never a diverged checkpoint's anyway."""
    if not scored:
        return "the only checkpoint (not sampled: nothing to choose between)"
    if metric != "last":
        return "lowest " + curve_metric
    return "last checkpoint" + (" that did not diverge" if bool(table["diverged"].iloc[-1]) else "")


def run(params: dict, experiment: str) -> None:
    """Stage ncsn_select: score every checkpoint's samples (all shards) and pick one."""
    import pandas as pd

    from scorerepro.plots.images import plot_fid_by_iteration

    exp = experiment_settings(params, experiment)
    name = exp["name"]
    res = results_dir(name)
    diverged = shards_divergence(samples_dir(name) / "select", params["sharding"]["shards"])
    if diverged is not None:
        return write_diverged_outputs(diverged, [res / "selected.json", res / "fig13_fid_by_iteration.png",
                                                 res / "fig13_fid_by_iteration.csv"], f"ncsn select {name}")
    hashes = checkpoint_hashes(name)
    parts = read_shards(samples_dir(name) / "select", params["sharding"]["shards"],
                        select_settings(params, exp, hashes), SELECT_RERUN.format(name=name))
    steps = sorted(set(parts[0]["images_by_step"]) | set(parts[0].get("diverged_by_step", {}))
                   | set(parts[0].get("unscored_steps", ())))
    device = resolve_device(params)
    metric = exp["select"]["metric"]
    curve_metric = "fid_mnist_classifier" if metric == "last" else metric
    table = pd.DataFrame([_row(step, parts, exp, params, device, curve_metric) for step in steps])
    with atomic_path(res / "fig13_fid_by_iteration.csv") as tmp:
        table.to_csv(tmp, index=False)
    best = _choose(table, metric, name)
    iteration = int(best["iteration"])
    ckpt = dict(list_checkpoints(model_dir(name)))[iteration]
    rule = _rule(table, metric, curve_metric, bool(best["scored"]))
    # The choice alone: inpaint, sensitivity, figures and evaluate read this file, so a score that moves while the
    # choice stays (another sampling step size) must not rerun them. The scores are in fig13_fid_by_iteration.csv.
    write_json(res / "selected.json", {
        "experiment": name, "rule": rule, "iteration": iteration, "checkpoint": str(ckpt),
        "checkpoint_sha256": hashes[str(iteration)],
    })
    plot_fid_by_iteration(table, res / "fig13_fid_by_iteration.png", title=f"{name}: {curve_metric} by checkpoint",
                          selected=iteration)
    print(f"select {name}: iteration {iteration} ({rule}; {curve_metric} {best['fid']:.3f})")
