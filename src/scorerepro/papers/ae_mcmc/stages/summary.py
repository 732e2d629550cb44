"""Stage `ae_mcmc summary`: results/ae_mcmc/summary.csv (+ .md: every measured number per model, batch-norm mode
and step), this paper's rows of the cross-paper claims table (results/ae_mcmc/claims.csv) and leaderboard
(results/ae_mcmc/leaderboard.csv: each model's samples at the first and last image step, BN in the first mode,
scored by pipeline.scoring.score in the chains stage).

A model whose training diverged (its chains.json carries the record, scorerepro.pipeline.divergence) has one
summary row naming the divergence (measure `diverged`, its text in a `note` column) and a line in summary.md; its
leaderboard rows stay, unscored, the divergence in their `setting`; the claims it feeds are untested (claims.py)."""

from __future__ import annotations

import pandas as pd

from scorerepro.core.fileio import write_text
from scorerepro.papers.ae_mcmc.claims import evaluate, load_chain_metrics
from scorerepro.papers.ae_mcmc.experiment import experiment_settings
from scorerepro.papers.ae_mcmc.locations import PAPER, RESULTS, results_dir
from scorerepro.pipeline.divergence import upstream_divergence
from scorerepro.pipeline.tables import score_columns, to_markdown, write_csv, write_paper_rows
from scorerepro.training.divergence import Divergence

LABEL = {("vae", False): "VAE", ("vae", True): "DVAE", ("aae", False): "AAE", ("aae", True): "DAAE"}


def _label(params: dict, name: str) -> str:
    exp = experiment_settings(params, name)
    return LABEL[(exp["kind"], exp["denoising"])]


def _diverged_row(params: dict, name: str, record: Divergence) -> dict:
    """A diverged model's one summary row: no value, the divergence in words."""
    return {"experiment": name, "model": _label(params, name), "bn_mode": None,
            "dataset": experiment_settings(params, name)["dataset"], "profile": params["profile"], "t": None,
            "measure": "diverged", "value": None, "note": record.text()}


def _summary_rows(params: dict, metrics: dict, diverged: dict[str, Divergence]) -> list[dict]:
    rows = []
    for name, m in metrics.items():
        if name in diverged:
            rows.append(_diverged_row(params, name, diverged[name]))
            continue
        for mode, v in m["modes"].items():
            base = {"experiment": name, "model": LABEL[(m["kind"], m["denoising"])], "bn_mode": mode,
                    "dataset": m["dataset"], "profile": params["profile"]}
            for key in ("mean_std", "fraction_dims_std_below_1", "frechet_to_prior"):
                rows.append({**base, "t": None, "measure": f"encodings.{key}", "value": v["encodings"][key]})
            for t, d in v["latent_frechet_to_encodings"].items():
                rows.append({**base, "t": int(t), "measure": "latent_frechet_to_encodings", "value": d})
                rows.append({**base, "t": int(t), "measure": "latent_frechet_to_prior",
                             "value": v["latent_frechet_to_prior"][t]})
            for t, s in v["samples"].items():
                for key, value in s.items():
                    if isinstance(value, (int, float)) and key != "n_samples":
                        rows.append({**base, "t": int(t), "measure": f"samples.{key}", "value": value})
            for key, sp in v["movement_vs_realism"].items():
                if isinstance(sp, dict):
                    rows.append({**base, "t": 1, "measure": f"spearman_rho(movement, {key})", "value": sp["rho"]})
            for when in ("before", "after"):
                for key, value in v["interpolation"][when].items():
                    if isinstance(value, (int, float)) and key != "n_samples":
                        rows.append({**base, "t": 0 if when == "before" else v["interpolation"]["steps"],
                                     "measure": f"interpolation.{key}", "value": value})
    return rows


def leaderboard_rows(params: dict, metrics: dict, diverged: dict[str, Divergence] | None = None) -> pd.DataFrame:
    """Two rows per model; a diverged model's (in `diverged`) have no scores and say why in `setting`."""
    ch = params["ae_mcmc"]["chains"]
    mode = ch["bn_modes"][0]
    diverged = diverged or {}
    rows = []
    for name, m in metrics.items():
        exp = experiment_settings(params, name)
        measured = exp if name in diverged else m  # a diverged model's chains.json holds only the record
        for t in (ch["image_steps"][0], ch["image_steps"][-1]):
            s = {} if name in diverged else m["modes"][mode]["samples"][str(t)]
            rows.append({
                "paper": PAPER, "model": f"{LABEL[(measured['kind'], measured['denoising'])]} t={t}",
                "experiment": name, "dataset": measured["dataset"],
                "setting": (f"latent {exp['model']['latent_dim']}, nf {exp['model']['nf']}, "
                            f"{exp['training']['epochs']} epochs; " + ("decoded from the prior" if t == 0 else
                            f"{t} MCMC steps") + f"; BN {mode} mode, batches of {ch['batch_size']}"
                            + (f"; corruption variance {exp['corruption_variance']:g}" if exp["denoising"] else "")
                            + (f"; not scored: {diverged[name].text()}" if name in diverged else "")),
                **score_columns(s), "parzen_log_likelihood": s.get("parzen_log_likelihood"),
                "reported_fid_inception": None, "reported_is_inception_mean": None,  # the paper reports no numbers
                "reported_by": None, "profile": params["profile"],
                "source": str(results_dir(name) / "chains.json"),
            })
    return pd.DataFrame(rows)


def run(params: dict) -> None:
    metrics = load_chain_metrics(params)
    diverged = {n: r for n, m in metrics.items() if (r := upstream_divergence(m)) is not None}
    df = pd.DataFrame(_summary_rows(params, metrics, diverged))
    write_csv(df, RESULTS / "summary.csv")
    board = leaderboard_rows(params, metrics, diverged)
    table = write_paper_rows(PAPER, evaluate(params), board)
    key = df[df["measure"].isin(["latent_frechet_to_encodings", "samples.fid_mnist_classifier",
                                 "samples.parzen_log_likelihood"])]
    wide = key.pivot_table(index=["model", "bn_mode", "measure"], columns="t", values="value").reset_index()
    wide.columns = [str(c) if not isinstance(c, str) else c for c in wide.columns]
    write_text(RESULTS / "summary.md",
               f"# Creswell et al. 2017, MCMC sampling from generative autoencoders ({params['profile']} profile)\n\n"
               "The paper reports no numbers (figures only); every number here is measured. Columns are chain "
               "steps t (t = 0: decoded from the prior). Claims and verdicts: claims.csv. All numbers: "
               "summary.csv.\n\n" + to_markdown(wide, list(wide.columns)) + "\n\n" + _diverged_text(params, diverged)
               + "## Claims\n\n"
               + to_markdown(table, ["claim", "measured", "holds"]) + "\n")
    print(f"ae_mcmc summary: {len(df)} numbers, {len(table)} claims ({(table['holds'] == 'yes').sum()} hold), "
          f"{len(board)} leaderboard rows")


def _diverged_text(params: dict, diverged: dict[str, Divergence]) -> str:
    """summary.md's section on the models not measured because their training diverged ("" when none did)."""
    if not diverged:
        return ""
    return "## Diverged\n\n" + "".join(f"- {_label(params, n)}: not measured, {r.text()}.\n"
                                         for n, r in diverged.items()) + "\n"
