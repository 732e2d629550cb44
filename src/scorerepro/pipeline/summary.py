"""Stage `summary`: results/summary.csv (+ .md), one row per study, experiment and metric with the paper's and
seed 000's values beside ours, and results/claims.csv (+ .md), the papers' claims as checkable statements.

`summary --rows <experiment>` (stage summary_rows) extracts one experiment's rows into data/summary_rows/, so that
the final stage can depend on one folder whatever the experiments are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from scorerepro.config import experiment as experiment_params
from scorerepro.fileio import atomic_path, write_json, write_text
from scorerepro.pipeline import claims as claims_mod
from scorerepro.pipeline.paths import DATA, RESULTS, results_dir

ROWS_DIR = DATA / "summary_rows"

# Reported numbers (CIFAR-10 and CelebA, 50k samples, TF Inception). Keys: (dataset, metric).
PAPER = {("cifar10", "is_inception_mean"): 8.87, ("cifar10", "is_inception_std"): 0.12,
         ("cifar10", "fid_inception"): 25.32}
SEED000 = {("cifar10", "is_inception_mean"): 6.5, ("cifar10", "is_inception_std"): 0.118,
           ("cifar10", "fid_inception"): 33.0, ("cifar10", "selected_iteration"): 120000,
           ("celeba", "is_inception_mean"): 3.4, ("celeba", "is_inception_std"): 0.0395,
           ("celeba", "fid_inception"): 81.5, ("celeba", "selected_iteration"): 30000}
# Only the main model (10 geometric levels, RefineNet) is what the papers' numbers describe.
REPORTED_FOR = {"refinenet"}

METRICS_SHOWN = ["fid_inception", "is_inception_mean", "is_inception_std", "is_inception_unavailable",
                 "fid_mnist_classifier", "is_mnist_classifier_mean", "is_mnist_classifier_std",
                 "selected_iteration", "n_samples", "reference_images"]


def experiment_rows(params: dict, name: str) -> list[dict[str, Any]]:
    exp = experiment_params(params, name)
    metrics = json.loads((results_dir(name) / "metrics.json").read_text())
    comparable = (exp["model"]["arch"] in REPORTED_FOR and exp["noise"]["schedule"] == "geometric"
                  and exp["noise"]["num_levels"] > 1)
    rows = []
    for metric in METRICS_SHOWN:
        if metric not in metrics or metrics[metric] is None:
            continue
        key = (exp["dataset"], metric)
        rows.append({
            "study": "ncsn", "experiment": name, "reproduces": exp["reproduces"], "dataset": exp["dataset"],
            "metric": metric, "value": metrics[metric],
            "paper_value": PAPER.get(key) if comparable else None,
            "seed000_value": SEED000.get(key) if comparable else None,
            "profile": params["profile"], "source": str(results_dir(name) / "metrics.json"),
        })
    return rows


def _toy_rows(params: dict) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((RESULTS / "toy").glob("*/metrics.json")):
        study = path.parent.name
        flat = pd.json_normalize(json.loads(path.read_text()), sep=".").iloc[0].to_dict()
        for metric, value in flat.items():
            if isinstance(value, (int, float, bool, str)) and not isinstance(value, list):
                if isinstance(value, str) and len(value) > 120:
                    continue
                rows.append({"study": "toy", "experiment": study, "reproduces": study.split("_")[0],
                             "dataset": "gmm2d" if study != "fig1_manifold" else params["toy"][study].get("dataset"),
                             "metric": metric, "value": value, "paper_value": None, "seed000_value": None,
                             "profile": params["profile"], "source": str(path)})
    return rows


def _other_rows(params: dict) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((RESULTS / "classifier").glob("*/metrics.json")):
        m = json.loads(path.read_text())
        if m.get("applicable"):
            rows.append({"study": "metric", "experiment": "mnist_classifier", "reproduces": "MNIST classifier metric",
                         "dataset": m["dataset"], "metric": "test_accuracy", "value": m.get("test_accuracy"),
                         "paper_value": None, "seed000_value": None, "profile": params["profile"],
                         "source": str(path)})
    sens = RESULTS / "sensitivity" / "metrics.json"
    if sens.is_file():
        m = json.loads(sens.read_text())
        for cell in m["grid"]:
            rows.append({"study": "sensitivity", "experiment": m["experiment"], "reproduces": "Fig. 8",
                         "dataset": None, "metric": f"{m['metric']}@step_lr={cell['step_lr']:g},T={cell['n_steps_each']}",
                         "value": cell.get(m["metric"]) if not cell["diverged"] else "diverged",
                         "paper_value": None, "seed000_value": None, "profile": params["profile"],
                         "source": str(sens)})
    return rows


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def to_markdown(df: pd.DataFrame, columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c]).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def run(params: dict, rows: str | None = None) -> None:
    if rows is not None:
        write_json(ROWS_DIR / f"{rows}.json", experiment_rows(params, rows))
        print(f"summary rows of {rows} written")
        return
    ncsn = []
    for name in params["experiments"]:
        path = ROWS_DIR / f"{name}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `scorerepro summary --rows {name}`")
        ncsn += json.loads(path.read_text())
    df = pd.DataFrame(ncsn + _other_rows(params) + _toy_rows(params))
    _write_csv(df, RESULTS / "summary.csv")
    shown = df[df["study"] != "toy"]
    cols = ["study", "experiment", "dataset", "metric", "value", "paper_value", "seed000_value"]
    write_text(RESULTS / "summary.md",
               f"# Reproduced against reported ({params['profile']} profile)\n\n"
               "Paper: Song & Ermon 2019 (TF Inception, 50k samples). Seed 000: the TF2 reproduction report. "
               "Reported values appear only beside the experiment they describe (CIFAR-10/CelebA, 10-level "
               "RefineNet). `*_mnist_classifier` metrics use the pipeline's MNIST classifier and are not "
               "comparable with Inception numbers. Toy-study numbers are in summary.csv and claims.md.\n\n"
               + to_markdown(shown, cols))
    table = claims_mod.evaluate_claims(params, ncsn)
    _write_csv(table, RESULTS / "claims.csv")
    write_text(RESULTS / "claims.md",
               f"# Claims of the paper and of seed 000, checked ({params['profile']} profile)\n\n"
               "holds: yes / no as measured here; `untested` where this profile is too small to test the claim "
               "(the note says why).\n\n"
               + to_markdown(table, ["claim", "source", "measured", "holds", "note"]))
    print(f"summary: {len(df)} rows, {len(table)} claims ({(table['holds'] == 'yes').sum()} hold)")
