"""Seed 003's checks of params.yaml beyond the schema (run by scorerepro.config.load_params and the Snakefile)."""

from __future__ import annotations

from scorerepro.config import experiment
from scorerepro.data.registry import image_shape


def _shape_problems(where: str, dataset: str, pool: int, widths: list[int]) -> list[str]:
    _, h, w = image_shape(dataset)
    if h % pool or w % pool:
        return [f"  {where}.data.pool: {pool} does not divide the {h}x{w} images of {dataset}"]
    size = h // pool
    if size % (2 ** (len(widths) - 1)):
        return [f"  {where}.model.widths: {len(widths)} resolutions halve {size}x{size} images "
                f"{len(widths) - 1} times, which needs a size divisible by {2 ** (len(widths) - 1)}"]
    return []


def check_params(params: dict) -> list[str]:
    problems: list[str] = []
    block = params["score_repr"]
    sde = block["sde"]
    if sde["sigma_min"] >= sde["sigma_max"]:
        problems.append(f"  score_repr.sde.sigma_min: {sde['sigma_min']} must be below sigma_max {sde['sigma_max']}")
    for name in block["experiments"]:
        exp = experiment(params, "score_repr", name)
        where = f"score_repr.experiments.{name}"
        t = exp["training"]
        if t["t_mode"] == "fixed" and t["fixed_t"] is None:
            problems.append(f"  {where}.training.fixed_t: t_mode is fixed but fixed_t is null (a value may come "
                            f"from score_repr.defaults.training)")
        if t["finetune_iters"] > 0 and t["t_mode"] != "uniform_sigma":
            problems.append(f"  {where}.training.finetune_iters: {t['finetune_iters']} is for t_mode uniform_sigma "
                            f"(the frozen-encoder fine-tune of section 3.2.1), but t_mode is {t['t_mode']}")
        if t["finetune_iters"] > 0 and exp["model"]["code_dim"] == 0:
            problems.append(f"  {where}.training.finetune_iters: an unconditional model has no encoder to freeze")
        problems += _shape_problems(where, exp["dataset"], exp["data"]["pool"], exp["model"]["widths"])
        ev = exp["evaluate"]
        if ev["leaderboard_samples"] > 0 and exp["data"]["pool"] != 1:
            problems.append(f"  {where}.evaluate.leaderboard_samples: samples of pooled images (data.pool "
                            f"{exp['data']['pool']}) cannot be scored against {exp['dataset']}'s reference; set "
                            f"it to 0 or data.pool to 1")
    sweep = block["sweep"]
    if sweep["model"]["code_dim"] == 0:
        problems.append("  score_repr.sweep.model.code_dim: 0 gives no code to score; use 1 or more")
    problems += _shape_problems("score_repr.sweep", sweep["dataset"], sweep["data"]["pool"], sweep["model"]["widths"])
    return problems
