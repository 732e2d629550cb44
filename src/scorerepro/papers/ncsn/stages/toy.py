"""Stage `toy <study>`: one toy study of seed 000 section 4 (and appendix Fig. 11).

Reads params["ncsn"]["toy"][study], params["seed"] and params["device"]; writes
results/ncsn/toy/<study>/metrics.json and results/ncsn/toy/<study>/<study>.png (the file name starts with the seed figure it reproduces).

Studies and their keys (all required; see scorerepro.papers.ncsn.toy_studies for what each means):
  fig1_manifold     dataset, n_iters, batch_size, lr, noise_std, log_every, variance_reduced, nf,
                    window_frac, rel_std_max, rel_trend_max
  fig2_scores       n_iters, batch_size, lr, variance_reduced, grid_size, high_quantile, low_quantile
  fig3_langevin     n_points, plain_eps, plain_n_steps, annealed: {name: {sigma_begin, sigma_end, num_levels,
                    eps, n_steps_each, score}}
  fig11_step_sweep  eps_grid, n_points, sigma_begin, sigma_end, num_levels, n_steps_each, score_variants
"""

from __future__ import annotations

import json
import platform
import time
from typing import Any

import torch

from scorerepro.core.fileio import write_json
from scorerepro.papers.ncsn.locations import toy_dir
from scorerepro.pipeline.common import resolve_device
from scorerepro.pipeline.paths import processed_dir

STUDIES = ("fig1_manifold", "fig2_scores", "fig3_langevin", "fig11_step_sweep")

_ANNEALED_KEYS = ("sigma_begin", "sigma_end", "num_levels", "eps", "n_steps_each", "score")


def _get(d: dict, key: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise KeyError(f"params.yaml: {where} must be a mapping, got {type(d).__name__}")
    if key not in d:
        raise KeyError(f"params.yaml: {where}.{key} is missing (see scorerepro/papers/ncsn/stages/toy.py for the keys of "
                       f"each toy study)")
    return d[key]


def _settings(cfg: dict, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: _get(cfg, k, where) for k in keys}


def _fig1(cfg: dict, seed: int, device: torch.device, where: str):
    from scorerepro.data.loading import load_split
    from scorerepro.papers.ncsn.toy_plots import plot_fig1
    from scorerepro.papers.ncsn.toy_studies import manifold_ssm_study

    s = _settings(cfg, where, ("dataset", "n_iters", "batch_size", "lr", "noise_std", "log_every",
                               "variance_reduced", "nf", "window_frac", "rel_std_max", "rel_trend_max"))
    images, _ = load_split(processed_dir(s["dataset"]) / "train.pt")
    res = manifold_ssm_study(
        images, n_iters=s["n_iters"], batch_size=s["batch_size"], lr=s["lr"], noise_std=s["noise_std"],
        log_every=s["log_every"], variance_reduced=s["variance_reduced"], seed=seed, device=device,
        model_spec={"arch": "resnet_ae", "nf": s["nf"]}, window_frac=s["window_frac"],
        rel_std_max=s["rel_std_max"], rel_trend_max=s["rel_trend_max"], progress=True)
    res.metrics["settings"]["dataset"] = s["dataset"]
    return res, plot_fig1


def _fig2(cfg: dict, seed: int, device: torch.device, where: str):
    from scorerepro.papers.ncsn.toy_plots import plot_fig2
    from scorerepro.papers.ncsn.toy_studies import score_estimation_study
    from scorerepro.papers.ncsn.toy_gmm import seed000_gmm

    s = _settings(cfg, where, ("n_iters", "batch_size", "lr", "variance_reduced", "grid_size", "high_quantile",
                               "low_quantile"))
    res = score_estimation_study(seed000_gmm(), seed=seed, device=device, progress=True, **s)
    return res, plot_fig2


def _fig3(cfg: dict, seed: int, device: torch.device, where: str):
    from scorerepro.papers.ncsn.toy_plots import plot_fig3
    from scorerepro.papers.ncsn.toy_studies import langevin_comparison_study
    from scorerepro.papers.ncsn.toy_gmm import seed000_gmm

    s = _settings(cfg, where, ("n_points", "plain_eps", "plain_n_steps", "annealed"))
    annealed = {name: _settings(block, f"{where}.annealed.{name}", _ANNEALED_KEYS)
                for name, block in _get(cfg, "annealed", where).items()}
    res = langevin_comparison_study(seed000_gmm(), n_points=s["n_points"], seed=seed, device=device,
                                    plain_eps=s["plain_eps"], plain_n_steps=s["plain_n_steps"], annealed=annealed,
                                    progress=True)
    return res, plot_fig3


def _fig11(cfg: dict, seed: int, device: torch.device, where: str):
    from scorerepro.papers.ncsn.toy_plots import plot_fig11
    from scorerepro.papers.ncsn.toy_studies import step_size_sweep_study
    from scorerepro.papers.ncsn.toy_gmm import seed000_gmm

    s = _settings(cfg, where, ("eps_grid", "n_points", "sigma_begin", "sigma_end", "num_levels", "n_steps_each",
                               "score_variants"))
    res = step_size_sweep_study(seed000_gmm(), seed=seed, device=device, progress=True, **s)
    return res, plot_fig11


_RUNNERS = {"fig1_manifold": _fig1, "fig2_scores": _fig2, "fig3_langevin": _fig3, "fig11_step_sweep": _fig11}


def run(params: dict, study: str) -> None:
    if study not in _RUNNERS:
        raise ValueError(f"unknown toy study {study!r}; choose one of {', '.join(STUDIES)}")
    toy = _get(_get(params, "ncsn", "(top level)"), "toy", "ncsn")
    cfg = _get(toy, study, "ncsn.toy")
    seed = int(_get(params, "seed", "(top level)"))
    device = resolve_device(params)
    t0 = time.perf_counter()
    res, plot = _RUNNERS[study](cfg, seed, device, f"ncsn.toy.{study}")
    wall = time.perf_counter() - t0
    res.metrics["run"] = {"wall_s": wall, "device": str(device), "torch": torch.__version__,
                          "cpu_threads": torch.get_num_threads(), "python": platform.python_version(),
                          "profile": params.get("profile")}
    # Refuse NaN/inf rather than write invalid JSON; the studies report failures as data, never as NaN.
    json.dumps(res.metrics, allow_nan=False)
    out = toy_dir() / study
    plot(res, out / f"{study}.png")
    write_json(out / "metrics.json", res.metrics)
    print(f"toy {study}: wrote {out / 'metrics.json'} and {out / (study + '.png')} in {wall:.1f} s")


def run_manifold(params: dict) -> None:
    """Stage ncsn_toy_manifold: the Fig. 1 study, apart from the others because it reads a dataset."""
    run(params, "fig1_manifold")
