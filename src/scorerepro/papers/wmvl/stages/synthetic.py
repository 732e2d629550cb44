"""Stage `wmvl synthetic <study>`: one synthetic experiment of seed 004.

Reads params["wmvl"]["synthetic"][study] and params["seed"]; writes results/wmvl/synthetic/<study>/metrics.json and
<figure>.png; the sphere studies also write density_grid.npz (true and learned log-densities on the evaluation grid,
float32: as JSON they made a 1 MB metrics file). Studies: banana (Fig. 1), cosine (Fig. 3), circle (Fig. 2, S^1),
sphere (Fig. 4, S^2)."""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from scorerepro.core.fileio import atomic_path, write_json
from scorerepro.data.synthetic import wmvl_circle_mixture, wmvl_sphere_mixture
from scorerepro.papers.wmvl import plots
from scorerepro.papers.wmvl import synthetic_studies as studies
from scorerepro.papers.wmvl.locations import synthetic_dir

STUDIES = ("banana", "cosine", "circle", "sphere")
GRID_FILE = "density_grid.npz"
FIGURES = {"banana": "fig1_bias_variance", "cosine": "fig3_cd1", "circle": "fig2_circle", "sphere": "fig4_sphere"}


def run(params: dict, study: str) -> None:
    if study not in STUDIES:
        raise ValueError(f"unknown synthetic study {study!r}; choose one of {', '.join(STUDIES)}")
    torch.set_num_threads(params["wmvl"]["threads"])
    cfg = dict(params["wmvl"]["synthetic"][study])
    seed = int(params["seed"])
    t0 = time.perf_counter()
    if study == "banana":
        metrics = studies.bias_variance_study(seed=seed, **cfg)
        draw = plots.plot_bias_variance
    elif study == "cosine":
        metrics = studies.cd1_study(seed=seed, **cfg)
        draw = plots.plot_cd1
    else:
        dist = wmvl_circle_mixture() if study == "circle" else wmvl_sphere_mixture()
        metrics = studies.sphere_energy_study(dist, seed=seed, desc=f"Riemannian MVL on {study}", **cfg)
        def draw(m, path, study=study):
            plots.plot_sphere(m, path, "S^1 (two von Mises)" if study == "circle" else "S^2 (four vMF)")
    metrics["wall_s"] = time.perf_counter() - t0
    metrics["profile"] = params.get("profile")
    json.dumps(metrics, allow_nan=False)
    out = synthetic_dir(study)
    draw(metrics, out / f"{FIGURES[study]}.png")
    if "log_true" in metrics:
        grids = {k: np.asarray(metrics.pop(k), dtype=np.float32) for k in ("log_true", "log_model")}
        with atomic_path(out / GRID_FILE) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, grid_shape=np.asarray(metrics["grid_shape"]), **grids)
        metrics["density_grid"] = GRID_FILE
    write_json(out / "metrics.json", metrics)
    print(f"wmvl synthetic {study}: {out / 'metrics.json'} in {metrics['wall_s']:.1f} s")
