"""Stage `infusion sweep`: the reduced Table 4 / Fig. 6 -- the test lower bound of models trained with each number
of steps T and infusion schedule (increasing: alpha(t) = omega t from alpha(0) = 0; constant: alpha(t) = alpha),
with the factorial prior's log-likelihood of the same test points beside them. Each cell is a small training run
under models/infusion/sweep/<cell>/ (resumable; a finished cell is not retrained; sweep.json, written last, marks
the folder complete). Every cell is scored on the same dequantised test points, so two cells' bounds can be compared
point by point: results/infusion/table4_points.csv holds each cell's bound per test point beside the best
x-independent output's log-likelihood of that point. Writes results/infusion/table4.csv, table4_points.csv and
table4_heatmap.png. A cell whose training diverges does not stop the sweep: its run folder keeps the record
(diverged.json), its rows have empty bounds and name the divergence (columns DIVERGED and DIVERGENCE_RECORD, present
only when a cell diverged), and the heatmap hatches it."""

from __future__ import annotations

import json
import math
import warnings

import matplotlib

matplotlib.use("Agg")
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.colors import SymLogNorm  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402

from scorerepro.core.fileio import save_figure, write_json  # noqa: E402
from scorerepro.core.seeding import derive_seed  # noqa: E402
from scorerepro.papers.infusion.data import dequantise, hold_out_validation, load_images  # noqa: E402
from scorerepro.papers.infusion.diverged_cells import DIVERGED, DIVERGENCE_RECORD  # noqa: E402
from scorerepro.papers.infusion.model import (InfusionModel, best_independent_log_likelihood,  # noqa: E402
                                              calibrate_batch_norm, log_likelihood_estimates)
from scorerepro.papers.infusion.experiment import schedule_of  # noqa: E402
from scorerepro.papers.infusion.locations import RESULTS, sweep_dir  # noqa: E402
from scorerepro.papers.infusion.training import train_model  # noqa: E402
from scorerepro.pipeline.tables import write_csv  # noqa: E402
from scorerepro.training.divergence import Divergence, read_divergence  # noqa: E402
from scorerepro.training.train_errors import NonFiniteLossError  # noqa: E402


def cells(sweep: dict) -> list[dict]:
    """(T, schedule, rate) of every run: increasing schedules for each omega (T = 1 has no step after the prior
    draw, so only omega = 0 there), constant schedules for each alpha."""
    out = []
    for T in sweep["n_steps"]:
        for omega in sweep["omegas"]:
            if T == 1 and omega != 0:
                continue
            out.append({"n_steps": T, "schedule": "increasing", "rate": float(omega)})
        for alpha in sweep["constant_alphas"]:
            out.append({"n_steps": T, "schedule": "constant", "rate": float(alpha)})
    return out


def cell_block(model: dict, sweep: dict, cell: dict) -> dict:
    block = {**model, "hidden": sweep["hidden"], "layers": sweep["layers"], "n_steps": cell["n_steps"],
             "schedule": cell["schedule"], "training": {**model["training"], **sweep["training"]}}
    if cell["schedule"] == "increasing":
        block.update(alpha0=0.0, omega=cell["rate"])
    else:
        block.update(alpha0=cell["rate"], omega=0.0)
    return block


def cell_name(cell: dict) -> str:
    return f"T{cell['n_steps']}_{cell['schedule']}_{cell['rate']:g}".replace(".", "p")


def run(params: dict) -> None:
    inf = params["infusion"]
    model, sweep = inf["model"], inf["sweep"]
    seed = params["seed"]
    train_u8, _ = hold_out_validation(load_images(model["dataset"], "train")[0], inf["eval"]["parzen_validation"])
    test_u8, _ = load_images(model["dataset"], "test")
    x_train = dequantise(train_u8, torch.Generator().manual_seed(derive_seed(seed, "sweep-bn")))
    x_test = dequantise(test_u8[:sweep["n_test"]], torch.Generator().manual_seed(derive_seed(seed, "sweep-test")))
    independent = best_independent_log_likelihood(x_test, x_train, model["eps"], model["eps"] + model["beta"])
    rows, points = [], []
    for i, cell in enumerate(cells(sweep)):
        name = cell_name(cell)
        block = cell_block(model, sweep, cell)
        print(f"sweep cell {i + 1}/{len(cells(sweep))}: {name}")
        net = train_cell(block, train_u8, seed, params["device"], name)
        if isinstance(net, Divergence):  # no model: its record
            record = net
            print(f"sweep cell {name}: {record.text()}")
            rows.append(diverged_row(cell, record, block, sweep, model["dataset"], independent))
            points += diverged_points(cell, record, independent)
            continue
        schedule = schedule_of(block)
        gen = torch.Generator().manual_seed(derive_seed(seed, f"sweep-eval:{name}"))
        calibrate_batch_norm(net, x_train, schedule, block["infusion_var"], gen)
        lb, _ = log_likelihood_estimates(net, x_test, schedule, block["infusion_var"], sweep["k"], gen)
        prior_ll = float(net.prior.log_prob(x_test).sum(1).mean())
        points += [{**cell, "point": j, "test_lower_bound": float(v), "best_independent": float(b)}
                   for j, (v, b) in enumerate(zip(lb.tolist(), independent.tolist()))]
        rows.append({**cell, "test_lower_bound": float(lb.mean()),
                     "test_lower_bound_stderr": float(lb.std() / math.sqrt(lb.numel())),
                     "factorial_prior_log_likelihood": prior_ll,
                     "best_independent_log_likelihood": float(independent.mean()), "n_test": int(lb.numel()),
                     "k": sweep["k"],
                     "hidden": sweep["hidden"], "layers": sweep["layers"],
                     "n_iters": block["training"]["n_iters"], "dataset": model["dataset"]})
    table = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_csv(table, RESULTS / "table4.csv")
    write_csv(pd.DataFrame(points), RESULTS / "table4_points.csv")
    heatmap(table, RESULTS / "table4_heatmap.png", model["dataset"])
    # Written last: the completion marker of the persistent folder (Snakemake's output for it).
    write_json(sweep_dir() / "sweep.json", {"cells": [cell_name(c) for c in cells(sweep)]})
    print(table[["n_steps", "schedule", "rate", "test_lower_bound"]].to_string(index=False))


def train_cell(block: dict, train_u8: torch.Tensor, seed: int, device: str, name: str) -> InfusionModel | Divergence:
    """The cell's trained model, or the record its diverged training left (a rerun raises the recorded divergence
    again without training: caught the same way), so that one cell does not stop the sweep."""
    try:
        return train_model(block, train_u8, seed, device, sweep_dir() / name, name, progress=False)
    except NonFiniteLossError:
        record = read_divergence(sweep_dir() / name)
        if record is None:  # no record in the run folder: nothing the table could name
            raise
        return record


def diverged_row(cell: dict, record: Divergence, block: dict, sweep: dict, dataset: str,
                 independent: torch.Tensor) -> dict:
    """A table4.csv row for a cell that diverged: its settings, no measurements, the divergence."""
    return {**cell, "test_lower_bound": math.nan, "test_lower_bound_stderr": math.nan,
            "factorial_prior_log_likelihood": math.nan, "best_independent_log_likelihood": float(independent.mean()),
            "n_test": int(independent.numel()), "k": sweep["k"], "hidden": sweep["hidden"], "layers": sweep["layers"],
            "n_iters": block["training"]["n_iters"], "dataset": dataset,
            DIVERGED: record.text(), DIVERGENCE_RECORD: json.dumps(record.to_dict(), sort_keys=True)}


def diverged_points(cell: dict, record: Divergence, independent: torch.Tensor) -> list[dict]:
    """table4_points.csv rows for a cell that diverged: every test point, no bound, the divergence."""
    return [{**cell, "point": j, "test_lower_bound": math.nan, "best_independent": float(b), DIVERGED: record.text()}
            for j, b in enumerate(independent.tolist())]


def heatmap(table: pd.DataFrame, path, dataset: str) -> None:
    """Both schedules on one colour scale. The bound spans orders of magnitude (a diverging cell reaches
    thousands of nats below the rest), so the scale is symmetric-log: one outlier no longer turns every other cell
    the same colour, and each cell's number is printed in it."""
    values = table["test_lower_bound"].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    bound = float(np.abs(finite).max()) if len(finite) else 1.0
    norm = SymLogNorm(linthresh=_linthresh(finite), vmin=-bound, vmax=bound, base=10)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for ax, kind in zip(axes, ("increasing", "constant")):
        sub = table[table["schedule"] == kind]
        grid = sub.pivot(index="n_steps", columns="rate", values="test_lower_bound")
        with warnings.catch_warnings():  # every cell of a panel may have diverged: nothing to colour, no error
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            sns.heatmap(grid, annot=True, fmt=".0f", cmap="RdBu", norm=norm, ax=ax, cbar=False,
                        linewidths=0.5, linecolor="white")
        rate = "omega" if kind == "increasing" else "alpha"
        _hatch_diverged(ax, sub, grid)
        ax.set_title(f"{kind} infusion schedule (rate {rate})")
        ax.set_xlabel(f"infusion rate {rate}")
        ax.set_ylabel("sampling steps T")
    fig.colorbar(ScalarMappable(norm=norm, cmap="RdBu"), ax=axes, ticks=_ticks(norm.linthresh, bound),
                 label="test lower bound (nats, symmetric-log scale)")
    fig.suptitle(f"Test lower bound (nats; higher is better) by T and infusion rate, {dataset} (reduced Table 4)"
                 + ("; blank: not run or not finite" if table["test_lower_bound"].isna().any() else "")
                 + ("; hatched: training diverged (table4.csv names where)" if DIVERGED in table else ""))
    save_figure(path, fig)
    plt.close(fig)


def _hatch_diverged(ax, sub: pd.DataFrame, grid: pd.DataFrame) -> None:
    """Hatch and label each cell of `grid` whose training diverged (its value is blank)."""
    if DIVERGED not in sub:
        return
    for r in sub[sub[DIVERGED].notna()].itertuples():
        i, j = grid.index.get_loc(r.n_steps), grid.columns.get_loc(r.rate)
        ax.add_patch(Rectangle((j, i), 1, 1, fill=False, hatch="//", edgecolor="grey", linewidth=0))
        ax.text(j + 0.5, i + 0.5, "diverged", ha="center", va="center", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})


def _ticks(linthresh: float, bound: float) -> list[float]:
    """0 and the powers of ten outside the linear band, both signs: labels inside the band would overlap."""
    powers = [10.0 ** k for k in range(int(np.ceil(np.log10(linthresh))), int(np.floor(np.log10(bound))) + 1)]
    return sorted([-p for p in powers] + [0.0] + powers)


def _linthresh(finite: np.ndarray) -> float:
    """The symmetric-log scale is linear within +-linthresh: the smallest nonzero magnitude among the cells (at
    least 1 nat), so the cells nearest zero still differ in colour."""
    mags = np.abs(finite[finite != 0])
    return max(1.0, float(mags.min())) if len(mags) else 1.0
