"""Stage `infusion summary`: results/infusion/summary.md (ours beside the paper's, labelled with their data),
this paper's rows of the cross-paper claims table (results/infusion/claims.csv) and leaderboard
(results/infusion/leaderboard.csv). A main model or sweep cell whose training diverged is shown as diverged, its
leaderboard row keeps its place with empty scores, and the claims it feeds are untested (claims.py)."""

from __future__ import annotations

import json

import pandas as pd

from scorerepro.core.fileio import write_text
from scorerepro.papers.infusion import claims as claims_mod
from scorerepro.papers.infusion import reported as R
from scorerepro.papers.infusion.diverged_cells import trained
from scorerepro.papers.infusion.locations import PAPER, RESULTS
from scorerepro.pipeline.divergence import divergence_in
from scorerepro.pipeline.tables import score_columns, to_markdown, write_csv, write_paper_rows


def _read(path):
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `dvc repro infusion_evaluate infusion_sweep`")
    return path


def comparison_table(m: dict, table4: pd.DataFrame) -> pd.DataFrame:
    ours = f"{m['dataset']} (quick model)"
    rows = []
    record = divergence_in(m)

    def add(what, key, paper):
        if record is None:
            shown, data = f"{m[key]['mean']:.2f} +- {m[key]['std']:.2f}", ours
        else:
            shown, data = "diverged", record.text()
        rows.append({"quantity": what, "ours": shown, "ours_data": data,
                     "paper": f"{paper[0]} +- {paper[1]}", "paper_data": "MNIST 60k"})

    add("lower bound, test", "lower_bound_test", R.LB_TEST)
    add("IS estimate, test", "is_estimate_test", R.IS_TEST)
    add("lower bound, train", "lower_bound_train", R.LB_TRAIN)
    add("IS estimate, train", "is_estimate_train", R.IS_TRAIN)
    add("isotropic output IS, test", "isotropic_is_estimate_test", R.ISOTROPIC_IS_TEST)
    add("isotropic output IS, train", "isotropic_is_estimate_train", R.ISOTROPIC_IS_TRAIN)
    if record is None:
        rows += measured_rows(m, ours)
    rows += [table4_row(table4, T, rate, value) for T, (rate, value) in R.TABLE4_BEST.items()]
    return pd.DataFrame(rows)


def measured_rows(m: dict, ours: str) -> list[dict]:
    """The quantities of the main model the paper reports no number for (or at another sigma)."""
    rows = []
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
    return rows


def table4_row(table4: pd.DataFrame, T: int, rate: str, value: float) -> dict:
    """The best sweep cell at T beside the paper's; the cells that diverged are counted, not ranked."""
    every = table4[table4["n_steps"] == T]
    sub = trained(every)
    ours_v, ours_d = "", ""
    if not sub.empty:
        best = sub.loc[sub["test_lower_bound"].idxmax()]
        ours_v = f"{best['test_lower_bound']:.1f} ({best['schedule']} {best['rate']:g})"
        ours_d = f"{best['dataset']} (sweep model)"
    if len(sub) < len(every):
        ours_v = "; ".join(v for v in (ours_v, f"{len(every) - len(sub)} of {len(every)} cells diverged") if v)
        ours_d = f"{every['dataset'].iloc[0]} (sweep model)"
    return {"quantity": f"Table 4 best test lower bound, T={T}", "ours": ours_v, "ours_data": ours_d,
            "paper": f"{value} ({rate})", "paper_data": "MNIST 60k"}


def leaderboard_rows(params: dict, m: dict) -> pd.DataFrame:
    record = divergence_in(m)
    if record is not None:  # the row stays, unscored, saying why
        return leaderboard_row(params, m, f"{m['setting']}; {record.text()}", {}, None)
    pv = m["parzen_validation_sigma"]
    return leaderboard_row(params, m, f"{m['setting']}; samples are the last step's means; Parzen at the "
                                      f"validation-chosen sigma {pv['sigma']:.3f}", m["scores"], pv["mean"])


def leaderboard_row(params: dict, m: dict, setting: str, scores: dict, parzen: float | None) -> pd.DataFrame:
    return pd.DataFrame([{
        "paper": PAPER, "model": "Infusion MLP", "experiment": "main", "dataset": m["dataset"],
        "setting": setting, **score_columns(scores), "parzen_log_likelihood": parzen,
        "reported_fid_inception": None, "reported_is_inception_mean": None,
        "reported_by": "Bordes et al. report no FID; Parzen 312 +- 1.7 on MNIST 60k (sigma 0.17)",
        "profile": params["profile"], "source": str(RESULTS / "metrics.json"),
    }])


def ours_text(m: dict) -> str:
    record = divergence_in(m)
    if record is not None:
        return f"{m['setting']} on {m['dataset']}; {record.text()}, so nothing was measured on it"
    return f"{m['setting']} on {m['dataset']}; k = {m['k']} chains per point"


def run(params: dict) -> None:
    m = json.loads(_read(RESULTS / "metrics.json").read_text())
    table4 = pd.read_csv(_read(RESULTS / "table4.csv"))
    _read(RESULTS / "table4_points.csv")
    comp = comparison_table(m, table4)
    write_csv(comp, RESULTS / "summary.csv")
    write_text(RESULTS / "summary.md",
               f"# Infusion training: ours beside the paper's ({params['profile']} profile)\n\n"
               f"Ours: {ours_text(m)}. The paper's: "
               f"{R.PAPER_DATA}. Log-likelihoods are continuous densities of dequantised pixels in [0, 1] (nats, "
               f"higher is better).\n\n" + to_markdown(comp, list(comp.columns)) +
               "\n\nTable 4 sweep: results/infusion/table4.csv, table4_heatmap.png; per test point: "
               "table4_points.csv.\n\n## Context (not claims)\n\n"
               + "\n".join(claims_mod.context_lines(m, table4)) + "\n")
    board = leaderboard_rows(params, m)
    table = write_paper_rows(PAPER, claims_mod.evaluate(params), board)
    print(f"infusion summary: {len(table)} claims ({table['holds'].value_counts().to_dict()}), {len(board)} "
          f"leaderboard row")
