"""Stage `infusion summary`: results/infusion/summary.md (ours beside the paper's, labelled with their data),
this paper's rows of the cross-paper claims table (results/infusion/claims.csv) and leaderboard
(results/infusion/leaderboard.csv)."""

from __future__ import annotations

import json

import pandas as pd

from scorerepro.core.fileio import write_text
from scorerepro.papers.infusion import claims as claims_mod
from scorerepro.papers.infusion import reported as R
from scorerepro.papers.infusion.locations import PAPER, RESULTS
from scorerepro.pipeline.tables import score_columns, to_markdown, write_csv, write_paper_rows


def _read(path):
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `dvc repro infusion_evaluate infusion_sweep`")
    return path


def comparison_table(m: dict, table4: pd.DataFrame) -> pd.DataFrame:
    ours = f"{m['dataset']} (quick model)"
    rows = []

    def add(what, key, paper):
        rows.append({"quantity": what, "ours": f"{m[key]['mean']:.2f} +- {m[key]['std']:.2f}", "ours_data": ours,
                     "paper": f"{paper[0]} +- {paper[1]}", "paper_data": "MNIST 60k"})

    add("lower bound, test", "lower_bound_test", R.LB_TEST)
    add("IS estimate, test", "is_estimate_test", R.IS_TEST)
    add("lower bound, train", "lower_bound_train", R.LB_TRAIN)
    add("IS estimate, train", "is_estimate_train", R.IS_TRAIN)
    add("isotropic output IS, test", "isotropic_is_estimate_test", R.ISOTROPIC_IS_TEST)
    add("isotropic output IS, train", "isotropic_is_estimate_train", R.ISOTROPIC_IS_TRAIN)
    pv, pf = m["parzen_validation_sigma"], m["parzen_fixed_sigma"]
    rows.append({"quantity": f"Parzen, sigma chosen on validation ({pv['sigma']:.3f})",
                 "ours": f"{pv['mean']:.1f} +- {pv['stderr']:.1f}", "ours_data": ours, "paper": "",
                 "paper_data": ""})
    rows.append({"quantity": f"Parzen, fixed sigma {pf['sigma']:g}", "ours": f"{pf['mean']:.1f} +- {pf['stderr']:.1f}",
                 "ours_data": ours, "paper": f"{R.PARZEN_TEST[0]} +- {R.PARZEN_TEST[1]}",
                 "paper_data": "MNIST 60k, sigma 0.17"})
    rows.append({"quantity": "factorial prior log-likelihood, test", "ours":
                 f"{m['factorial_prior_log_likelihood_test']:.1f}", "ours_data": ours,
                 "paper": "", "paper_data": ""})
    rows.append({"quantity": "best x-independent output log-likelihood, test (the sanity gate's reference)",
                 "ours": f"{sum(m['test_points']['best_independent']) / len(m['test_points']['best_independent']):.1f}",
                 "ours_data": ours, "paper": "", "paper_data": ""})
    for T, (rate, value) in R.TABLE4_BEST.items():
        sub = table4[table4["n_steps"] == T]
        if sub.empty:
            ours_v, ours_d = "", ""
        else:
            best = sub.loc[sub["test_lower_bound"].idxmax()]
            ours_v = f"{best['test_lower_bound']:.1f} ({best['schedule']} {best['rate']:g})"
            ours_d = f"{best['dataset']} (sweep model)"
        rows.append({"quantity": f"Table 4 best test lower bound, T={T}", "ours": ours_v, "ours_data": ours_d,
                     "paper": f"{value} ({rate})", "paper_data": "MNIST 60k"})
    return pd.DataFrame(rows)


def leaderboard_rows(params: dict, m: dict) -> pd.DataFrame:
    s = m["scores"]
    pv = m["parzen_validation_sigma"]
    return pd.DataFrame([{
        "paper": PAPER, "model": "Infusion MLP", "experiment": "main", "dataset": m["dataset"],
        "setting": f"{m['setting']}; samples are the last step's means; Parzen at the validation-chosen sigma "
                   f"{pv['sigma']:.3f}",
        **score_columns(s), "parzen_log_likelihood": pv["mean"],
        "reported_fid_inception": None, "reported_is_inception_mean": None,
        "reported_by": "Bordes et al. report no FID; Parzen 312 +- 1.7 on MNIST 60k (sigma 0.17)",
        "profile": params["profile"], "source": str(RESULTS / "metrics.json"),
    }])


def run(params: dict) -> None:
    m = json.loads(_read(RESULTS / "metrics.json").read_text())
    table4 = pd.read_csv(_read(RESULTS / "table4.csv"))
    _read(RESULTS / "table4_points.csv")
    comp = comparison_table(m, table4)
    write_csv(comp, RESULTS / "summary.csv")
    write_text(RESULTS / "summary.md",
               f"# Infusion training: ours beside the paper's ({params['profile']} profile)\n\n"
               f"Ours: {m['setting']} on {m['dataset']}; k = {m['k']} chains per point. The paper's: "
               f"{R.PAPER_DATA}. Log-likelihoods are continuous densities of dequantised pixels in [0, 1] (nats, "
               f"higher is better).\n\n" + to_markdown(comp, list(comp.columns)) +
               "\n\nTable 4 sweep: results/infusion/table4.csv, table4_heatmap.png; per test point: "
               "table4_points.csv.\n\n## Context (not claims)\n\n"
               + "\n".join(claims_mod.context_lines(m, table4)) + "\n")
    board = leaderboard_rows(params, m)
    table = write_paper_rows(PAPER, claims_mod.evaluate(params), board)
    print(f"infusion summary: {len(table)} claims ({table['holds'].value_counts().to_dict()}), {len(board)} "
          f"leaderboard row")
