"""Stage `score_repr summary`: this paper's rows of the cross-paper claims table (results/score_repr/claims.csv) and
leaderboard (results/score_repr/leaderboard.csv), and results/score_repr/summary.md with the claims and the
numbers of every experiment. An experiment whose training diverged (its evaluation's metrics.json holds the record)
keeps its leaderboard row, with no scores and the divergence in its setting, and its line in summary.md says so."""

from __future__ import annotations

import json

import pandas as pd

from scorerepro.core.fileio import write_text
from scorerepro.papers.score_repr import claims as claims_mod
from scorerepro.papers.score_repr.experiment import experiment_settings, shape_of
from scorerepro.papers.score_repr.locations import PAPER, RESULTS, results_dir
from scorerepro.pipeline.divergence import divergence_in
from scorerepro.pipeline.tables import score_columns, to_markdown, write_paper_rows

SHOWN = ["silhouette", "silhouette_chance", "ink_correlation_max", "ink_correlation_max_untrained", "denoise_own",
         "denoise_other", "constant_empirical",
         "model_loss_at_constant_draws", "diversity"]


def leaderboard_scores(metrics: dict, exp: dict) -> dict | None:
    """An experiment's leaderboard scores from its metrics.json: None when it has no row, no scores ({}) when its
    training diverged before the samples it would have scored."""
    if divergence_in(metrics) is not None:
        return {} if exp["evaluate"]["leaderboard_samples"] > 0 else None
    return metrics.get("leaderboard")


def leaderboard_rows(params: dict) -> pd.DataFrame:
    """One row per experiment whose evaluation scored samples of the code-conditioned sampler."""
    rows = []
    for name in params[PAPER]["experiments"]:
        path = results_dir(name) / "metrics.json"
        m = json.loads(path.read_text()) if path.is_file() else {}
        exp = experiment_settings(params, name)
        lb = leaderboard_scores(m, exp)
        if lb is None:
            continue
        mod, t, ev = exp["model"], exp["training"], exp["evaluate"]
        record = divergence_in(m)
        diverged = f"; {record.text()}" if record is not None else ""
        rows.append({
            "paper": PAPER, "model": "code-conditioned VE score model (PC sampler)", "experiment": name,
            "dataset": exp["dataset"],
            "setting": (f"VE sigma {params[PAPER]['sde']['sigma_min']:g}->{params[PAPER]['sde']['sigma_max']:g}, "
                        f"{t['t_mode']}; U-Net widths {mod['widths']} x {mod['blocks']} blocks; code dim "
                        f"{mod['code_dim']} ({mod['regulariser']} {mod['reg_weight']:g}); {t['n_iters']} iterations; "
                        f"PC sampler {ev['sampler_steps']} levels, snr {ev['snr']:g}; codes of random test images"
                        f"{diverged}"),
            **score_columns(lb), "parzen_log_likelihood": None,
            "reported_fid_inception": None, "reported_is_inception_mean": None,
            "reported_by": None,  # the paper reports no sample metric
            "profile": params["profile"], "source": str(path),
        })
    return pd.DataFrame(rows)


def experiment_line(params: dict, name: str, metrics: dict) -> dict:
    """An experiment's row of summary.md's table. One whose training diverged has no measurements: its settings
    give the data columns, and a `diverged` column (only then) names the divergence."""
    m, record = metrics, divergence_in(metrics)
    if record is not None:
        exp = experiment_settings(params, name)
        m = {"dataset": exp["dataset"], "pool": exp["data"]["pool"], "image_shape": list(shape_of(exp)),
             "code_dim": exp["model"]["code_dim"], "t_mode": exp["training"]["t_mode"]}
    line = {"experiment": name, "data": f"{m['dataset']} /{m['pool']} {tuple(m['image_shape'])}",
            "code_dim": m["code_dim"], "t_mode": m["t_mode"], **{k: m.get(k) for k in SHOWN}}
    return line if record is None else {**line, "diverged": record.text()}


def run(params: dict) -> None:
    board = leaderboard_rows(params)
    table = write_paper_rows(PAPER, claims_mod.evaluate(params), board)
    per_exp, missing = [], []
    for name in params[PAPER]["experiments"]:
        path = results_dir(name) / "metrics.json"
        if not path.is_file():  # run outside DVC before every evaluation finished: its claims read `untested`
            missing.append(name)
            continue
        per_exp.append(experiment_line(params, name, json.loads(path.read_text())))
    df = pd.DataFrame(per_exp)
    write_text(RESULTS / "summary.md",
               f"# Seed 003 (score_repr): claims and measurements ({params['profile']} profile)\n\n"
               "The paper reports figures only; each claim is a directional check of a measured number, decided "
               "by its interval against the rule's threshold, from models that passed their gates (claims.csv: "
               "estimate, interval, n, gate, note).\n\n"
               + to_markdown(table, ["claim", "measured", "holds"])
               + "\n\n## Context (holds for any model, so no claim)\n\n"
               + "".join(f"- {line}\n" for line in claims_mod.context(params)) + "\n## Experiments\n\n"
               + to_markdown(df, list(df.columns))
               + (f"\n\nNot evaluated (claims that need them are untested): {', '.join(missing)}\n" if missing else ""))
    if missing:
        print(f"score_repr summary: no evaluation yet of {', '.join(missing)} (run `scorerepro score_repr evaluate "
              f"<experiment>`); the claims that need them are untested")
    print(f"score_repr summary: {len(table)} claims ({(table['holds'] == 'yes').sum()} hold), {len(board)} "
          f"leaderboard rows")
