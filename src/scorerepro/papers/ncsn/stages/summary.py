"""Stages `ncsn summary_rows <experiment>` and `ncsn summary`: results/ncsn/summary.csv (+ .md), one row per study,
experiment and metric with the paper's and seed 000's values beside ours; this paper's rows of the cross-paper
claims table (results/ncsn/claims.csv) and leaderboard (results/ncsn/leaderboard.csv).

summary_rows extracts one experiment's rows into data/ncsn/summary_rows/, so that the summary stage can depend on
one folder whatever the experiments are.

A model whose training diverged (its rows file, or the sensitivity metrics, carry the record) keeps one summary row
and its leaderboard row, both naming the divergence in place of scores, and the claims about it are untested.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from scorerepro.core.fileio import sha256_file, write_json, write_text
from scorerepro.papers.ncsn import claims as claims_mod
from scorerepro.papers.ncsn.experiment import experiment_settings
from scorerepro.papers.ncsn.locations import PAPER, RESULTS, results_dir, sensitivity_dir, summary_rows_dir, toy_dir
from scorerepro.papers.ncsn.reported import PAPER as PAPER_REPORTED
from scorerepro.papers.ncsn.reported import SEED000, describes
from scorerepro.pipeline import paths
from scorerepro.pipeline.divergence import divergence_in, upstream_divergence, write_diverged_outputs
from scorerepro.pipeline.tables import score_columns, to_markdown, write_csv, write_paper_rows
from scorerepro.training.divergence import Divergence

METRICS_SHOWN = ["fid_inception", "is_inception_mean", "is_inception_std", "is_inception_unavailable",
                 "fid_mnist_classifier", "is_mnist_classifier_mean", "is_mnist_classifier_std",
                 "selected_iteration", "n_samples", "reference_images"]


def experiment_rows(params: dict, name: str) -> list[dict[str, Any]]:
    exp = experiment_settings(params, name)
    metrics = json.loads((results_dir(name) / "metrics.json").read_text())
    comparable = describes(exp)
    rows = []
    for metric in METRICS_SHOWN:
        if metric not in metrics or metrics[metric] is None:
            continue
        key = (exp["dataset"], metric)
        rows.append({
            "study": "ncsn", "experiment": name, "reproduces": exp["reproduces"], "dataset": exp["dataset"],
            "metric": metric, "value": metrics[metric],
            "paper_value": PAPER_REPORTED.get(key) if comparable else None,
            "seed000_value": SEED000.get(key) if comparable else None,
            "profile": params["profile"], "source": str(results_dir(name) / "metrics.json"),
        })
    return rows


def _toy_rows(params: dict) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(toy_dir().glob("*/metrics.json")):
        study = path.parent.name
        flat = pd.json_normalize(json.loads(path.read_text()), sep=".").iloc[0].to_dict()
        for metric, value in flat.items():
            if isinstance(value, (int, float, bool, str)) and not isinstance(value, list):
                if isinstance(value, str) and len(value) > 120:
                    continue
                rows.append({"study": "toy", "experiment": study, "reproduces": study.split("_")[0],
                             "dataset": "gmm2d" if study != "fig1_manifold" else params["ncsn"]["toy"][study].get("dataset"),
                             "metric": metric, "value": value, "paper_value": None, "seed000_value": None,
                             "profile": params["profile"], "source": str(path)})
    return rows


def _other_rows(params: dict) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((paths.RESULTS / "classifier").glob("*/metrics.json")):
        m = json.loads(path.read_text())
        if m.get("applicable"):
            rows.append({"study": "metric", "experiment": "mnist_classifier", "reproduces": "MNIST classifier metric",
                         "dataset": m["dataset"], "metric": "test_accuracy", "value": m.get("test_accuracy"),
                         "paper_value": None, "seed000_value": None, "profile": params["profile"],
                         "source": str(path)})
    sens = sensitivity_dir() / "metrics.json"
    if sens.is_file():
        m = json.loads(sens.read_text())
        diverged = divergence_in(m)
        if diverged is not None:
            return rows + [_diverged_row(params, params["ncsn"]["sensitivity"]["experiment"], "sensitivity",
                                         "Fig. 8", None, diverged, sens)]
        for cell in m["grid"]:
            rows.append({"study": "sensitivity", "experiment": m["experiment"], "reproduces": "Fig. 8",
                         "dataset": None, "metric": f"{m['metric']}@step_lr={cell['step_lr']:g},T={cell['n_steps_each']}",
                         "value": cell.get(m["metric"]) if not cell["diverged"] else "diverged",
                         "paper_value": None, "seed000_value": None, "profile": params["profile"],
                         "source": str(sens)})
    return rows


def _diverged_row(params: dict, experiment: str, study: str, reproduces: str, dataset: str | None,
                  diverged: Divergence, source) -> dict[str, Any]:
    """The one summary row of a study whose model diverged in training: the divergence in place of its values."""
    return {"study": study, "experiment": experiment, "reproduces": reproduces, "dataset": dataset,
            "metric": "diverged", "value": diverged.text(), "paper_value": None, "seed000_value": None,
            "profile": params["profile"], "source": str(source)}


def summary_rows(params: dict, experiment: str) -> None:
    res, out = results_dir(experiment), summary_rows_dir() / f"{experiment}.json"
    diverged = upstream_divergence(res / "metrics.json", res / "selected.json")
    if diverged is not None:
        return write_diverged_outputs(diverged, [out], f"ncsn summary_rows {experiment}")
    write_json(out, {"rows": experiment_rows(params, experiment), "read_by_summary": read_by_summary(experiment)})
    print(f"summary rows of {experiment} written")


def read_by_summary(experiment: str) -> dict[str, str]:
    """The sha256 of the experiment's files the summary stage reads beside its rows (the leaderboard reads the
    metrics and the selection, the fluctuation claim the FID-by-checkpoint table). They travel in the rows file, the
    summary's declared input, so that a change to any of them reruns the summary: a new selection curve with the
    same winner changes neither the metrics nor the rows."""
    res = results_dir(experiment)
    files = (res / "metrics.json", res / "selected.json", res / "fig13_fid_by_iteration.csv")
    return {str(p): sha256_file(p) for p in files if p.is_file()}


def leaderboard_rows(params: dict, diverged: dict[str, Divergence] | None = None) -> pd.DataFrame:
    """One row per experiment: the sample metrics every paper's generators are scored by, the reported figure
    beside ours where the paper has one for this model. An experiment in `diverged` keeps its row, with no scores
    and its divergence in place of the checkpoint in its setting."""
    rows = []
    for name in params["ncsn"]["experiments"]:
        exp = experiment_settings(params, name)
        if name in (diverged or {}):
            metrics, chosen = {}, f"no checkpoint: {diverged[name].text()}"
        else:
            metrics = json.loads((results_dir(name) / "metrics.json").read_text())
            selected = json.loads((results_dir(name) / "selected.json").read_text())
            chosen = f"checkpoint {selected['iteration']}"
        noise = exp["noise"]
        model = exp["model"]
        width = ", ".join(f"{k} {v}" for k, v in model.items() if k != "arch")
        reported = describes(exp)
        rows.append({
            "paper": PAPER, "model": f"NCSN {model['arch']}", "experiment": name, "dataset": exp["dataset"],
            "setting": (f"{noise['num_levels']} {noise['schedule']} levels {noise['sigma_begin']:g}->"
                        f"{noise['sigma_end']:g}; {width}; {exp['training']['n_iters']} iterations; annealed "
                        f"Langevin {exp['sampling']['n_steps_each']} steps/level, step_lr "
                        f"{exp['sampling']['step_lr']:g}; {chosen}"),
            **score_columns(metrics),
            "parzen_log_likelihood": None,  # NCSN reports none, and its samples are not scored by one here
            "reported_fid_inception": PAPER_REPORTED.get((exp["dataset"], "fid_inception")) if reported else None,
            "reported_is_inception_mean": (PAPER_REPORTED.get((exp["dataset"], "is_inception_mean"))
                                           if reported else None),
            "reported_by": "Song & Ermon 2019 (50k samples)" if reported and (exp["dataset"], "fid_inception")
            in PAPER_REPORTED else None,
            "profile": params["profile"], "source": str(results_dir(name) / "metrics.json"),
        })
    return pd.DataFrame(rows)


def _experiments_rows(params: dict) -> tuple[list[dict[str, Any]], dict[str, Divergence]]:
    """Every experiment's summary rows (summary_rows' files), and the divergences found there by experiment."""
    rows, diverged = [], {}
    for name in params["ncsn"]["experiments"]:
        path = summary_rows_dir() / f"{name}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `scorerepro ncsn summary_rows {name}`")
        found = upstream_divergence(path)
        if found is None:
            rows += json.loads(path.read_text())["rows"]
            continue
        diverged[name] = found
        exp = experiment_settings(params, name)
        rows.append(_diverged_row(params, name, "ncsn", exp["reproduces"], exp["dataset"], found, path))
    return rows, diverged


def run(params: dict) -> None:
    ncsn, diverged = _experiments_rows(params)
    df = pd.DataFrame(ncsn + _other_rows(params) + _toy_rows(params))
    write_csv(df, RESULTS / "summary.csv")
    shown = df[df["study"] != "toy"]
    cols = ["study", "experiment", "dataset", "metric", "value", "paper_value", "seed000_value"]
    write_text(RESULTS / "summary.md",
               f"# NCSN: reproduced against reported ({params['profile']} profile)\n\n"
               "Paper: Song & Ermon 2019 (TF Inception, 50k samples). Seed 000: the TF2 reproduction report. "
               "Reported values appear only beside the experiment they describe (CIFAR-10/CelebA, 10-level "
               "RefineNet). `*_mnist_classifier` metrics use the pipeline's MNIST classifier and are not "
               "comparable with Inception numbers. Toy-study numbers are in summary.csv and results/claims.md.\n\n"
               + to_markdown(shown, cols))
    board = leaderboard_rows(params, diverged)
    table = write_paper_rows(PAPER, claims_mod.evaluate(params, diverged), board)
    print(f"ncsn summary: {len(df)} rows, {len(table)} claims ({(table['holds'] == 'yes').sum()} hold), "
          f"{len(board)} leaderboard rows")
