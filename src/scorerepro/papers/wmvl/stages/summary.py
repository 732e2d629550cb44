"""Stage `wmvl summary`: results/wmvl/summary.csv (+ .md) with our numbers beside the paper's, this paper's rows of
the cross-paper claims table (results/wmvl/claims.csv) and leaderboard (results/wmvl/leaderboard.csv).

A model whose training diverged (its metrics.json holds the record in place of metrics) keeps its rows: no numbers,
the divergence in words where the row says what it was measured on (`ours_on`, the leaderboard's `setting`)."""

from __future__ import annotations

import json

import pandas as pd

from scorerepro.config import experiment
from scorerepro.core.fileio import write_text
from scorerepro.papers.wmvl import claims as claims_mod
from scorerepro.papers.wmvl.locations import PAPER, RESULTS, results_dir, synthetic_dir
from scorerepro.papers.wmvl.reported import SOURCE_TABLE1, SOURCE_TABLE2, TABLE1_NLL, TABLE2_FID
from scorerepro.pipeline.divergence import divergence_in
from scorerepro.pipeline.tables import score_columns, to_markdown, write_csv, write_paper_rows


def _metrics(name: str) -> dict:
    path = results_dir(name) / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `scorerepro wmvl evaluate {name}`")
    return json.loads(path.read_text())


def model_rows(params: dict) -> list[dict]:
    rows = []
    for name in params["wmvl"]["experiments"]:
        exp = experiment(params, "wmvl", name)
        m, mod = _metrics(name), exp["model"]
        if mod["kind"].startswith("vae"):
            value, sem, ours_on = _measured(m, "nll_ais", "nll_ais_sem",
                                            lambda: f"{m['n_test']} mnist_embedded test images, "
                                                    f"{exp['training']['n_iters']} iterations")
            rows.append({"table": "Table 1", "experiment": name, "metric": "test NLL (AIS, nats)",
                         "value": value, "sem": sem,
                         "paper_value": TABLE1_NLL.get((mod["kind"], mod["latent"], mod["latent_dim"])),
                         "paper_source": SOURCE_TABLE1, "ours_on": ours_on})
        value, _, ours_on = _measured(m, "fid_mnist_classifier", None,
                                      lambda: f"{m['n_samples']} samples vs the mnist_embedded training split")
        rows.append({"table": "Table 2" if mod["kind"].startswith("wae") else "samples", "experiment": name,
                     "metric": "FID (MNIST classifier)", "value": value, "sem": None,
                     "paper_value": TABLE2_FID.get((mod["kind"], mod["latent"])) if mod["latent_dim"] == 8 else None,
                     "paper_source": SOURCE_TABLE2 if mod["kind"].startswith("wae") else None,
                     "ours_on": ours_on})
    return rows


def _measured(m: dict, value: str, sem: str | None, ours_on) -> tuple:
    """(value, sem, ours_on) of a summary row, `ours_on()` describing the measurement; for a diverged model no
    numbers, and ours_on names the divergence."""
    diverged = divergence_in(m)
    if diverged is not None:
        return None, None, diverged.text()
    return m[value], m[sem] if sem else None, ours_on()


def synthetic_rows() -> list[dict]:
    rows = []
    banana = json.loads((synthetic_dir("banana") / "metrics.json").read_text())
    for r in banana["rows"]:
        rows.append({"table": "Fig. 1", "experiment": f"banana {r['estimator']} cv={r['control_variate']}",
                     "metric": f"variance @ eps={r['eps']:g}", "value": r["variance"], "sem": None,
                     "paper_value": None, "paper_source": None, "ours_on": f"squared bias {r['squared_bias']:.3g}"})
    cosine = json.loads((synthetic_dir("cosine") / "metrics.json").read_text())
    df = pd.DataFrame(cosine["rows"]).groupby(["step_size", "control_variate"])["sm_loss"].agg(["mean", "std"])
    for (step, cv), r in df.iterrows():
        rows.append({"table": "Fig. 3", "experiment": f"cosine CD-1 cv={cv}", "metric": f"SM loss @ step={step:g}",
                     "value": r["mean"], "sem": r["std"], "paper_value": None, "paper_source": None,
                     "ours_on": f"{cosine['settings']['n_runs']} runs (sem column: std)"})
    for study in ("circle", "sphere"):
        m = json.loads((synthetic_dir(study) / "metrics.json").read_text())
        for k in ("kl_true_to_model", "max_abs_log_density_error"):
            rows.append({"table": "Fig. 2" if study == "circle" else "Fig. 4", "experiment": study, "metric": k,
                         "value": m[k], "sem": None, "paper_value": None, "paper_source": None, "ours_on": "grid"})
    return rows


def leaderboard_rows(params: dict) -> pd.DataFrame:
    rows = []
    for name in params["wmvl"]["experiments"]:
        exp = experiment(params, "wmvl", name)
        m, mod, t = _metrics(name), exp["model"], exp["training"]
        diverged = divergence_in(m)
        rows.append({
            "paper": PAPER, "model": f"{mod['kind'].replace('_', ' ').upper()} ({mod['latent']} latent)",
            "experiment": name, "dataset": exp["dataset"],
            "setting": (f"n_z={mod['latent_dim']}, MLP {mod['hidden']}x2, {t['n_iters']} iterations, batch "
                        f"{t['batch_size']}, Adam lr {t['lr']:g}" + (f", MVL eps {t['mvl_eps']:g}"
                                                                   if mod["kind"] in ("vae_implicit", "wae_mvl") else "")
                        + (f"; AIS NLL {m['nll_ais']:.2f} on {m['n_test']} test images" if "nll_ais" in m else "")
                        + (f"; {diverged.text()}" if diverged else "")),
            **score_columns(m), "parzen_log_likelihood": None, "reported_fid_inception": None,
            "reported_is_inception_mean": None,
            "reported_by": (f"{SOURCE_TABLE2}: LeNet FID {TABLE2_FID[(mod['kind'], mod['latent'])]}"
                            if mod["kind"].startswith("wae") and mod["latent_dim"] == 8 else None),
            "profile": params["profile"], "source": str(results_dir(name) / "metrics.json"),
        })
    return pd.DataFrame(rows)


def run(params: dict) -> None:
    df = pd.DataFrame(model_rows(params) + synthetic_rows())
    df["profile"] = params["profile"]
    write_csv(df, RESULTS / "summary.csv")
    write_text(RESULTS / "summary.md",
               f"# WMVL: reproduced beside reported ({params['profile']} profile)\n\n"
               "paper_value: Table 1 (AIS NLL, full MNIST, 100k iterations, 10 runs) and Table 2 (LeNet FID, which "
               "our MNIST-classifier FID does not equal: compare orderings). Ours: mnist_embedded (4,500 training "
               "digits), the profile's iterations, one run. Synthetic figures: results/wmvl/synthetic/.\n\n"
               + to_markdown(df, ["table", "experiment", "metric", "value", "sem", "paper_value", "ours_on"]))
    board = leaderboard_rows(params)
    table = write_paper_rows(PAPER, claims_mod.evaluate(params), board)
    print(f"wmvl summary: {len(df)} rows, {len(table)} claims ({(table['holds'] == 'yes').sum()} hold), "
          f"{len(board)} leaderboard rows")
