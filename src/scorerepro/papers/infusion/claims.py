"""Infusion's claims as checkable statements, decided from results/infusion/ alone (`evaluate`).

The sanity gate of every model: its test lower bound beats the best x-independent output (the factorial Gaussian,
within the variance head's range, fitted to the training images), by a paired t interval over test points. A model that fails it has not learned to use its input, and the claims it feeds are `untested`.

Table 4's comparisons are paired differences of two sweep cells' bounds on the same test points, with a t interval
over those points; a verdict is `yes`/`no` only when the interval excludes zero, else `inconclusive`.

A model whose training diverged measured nothing: each claim it feeds is `untested`, its gate and note naming the
divergence (the main model: metrics.json holds the record; a sweep cell: its rows of table4.csv do). Each sweep claim
reads the cells its predicate in SWEEP_CLAIMS selects, besides every infused cell (rate > 0) through the sweep gate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from scorerepro.papers.infusion import reported as R
from scorerepro.papers.infusion.diverged_cells import DIVERGED, cell_label, divergences, trained
from scorerepro.pipeline.divergence import diverged_gate, divergence_in
from scorerepro.pipeline.evidence import ROW_COLUMNS, Gate, Interval, claim_row, decide, mean_interval
from scorerepro.training.divergence import Divergence

NOT_LIKE_FOR_LIKE = ("not like for like: the paper's number is {paper_data}; ours is {ours}, so the two are printed "
                     "side by side and not compared")
GATE = "bound beats the best x-independent output"
GATE_RULE = ("the t interval over test points of (test lower bound - log-likelihood of the best x-independent "
             "output) lies above 0")
PAIRED = "t interval over test points of the paired difference"
INFUSION_VS_NONE = ("infusion (the best omega > 0) beats no infusion (omega = 0) at the same T", "Table 4")
INCREASING_VS_CONSTANT = ("an increasing infusion schedule beats a constant one", "section 4.2, appendix A.1")
BEST_OMEGA_FALLS = ("the best infusion rate omega falls as the number of steps T grows", "Table 4, Fig. 6")


def paired_interval(a, b) -> Interval:
    """Mean of a - b over the same test points, with its t interval."""
    return mean_interval(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), PAIRED)


def learned_gate(bound, independent, who: str = "model") -> Gate:
    """The sanity gate: a model that has learned something its input tells it beats every x-independent output."""
    d = paired_interval(bound, independent)
    return Gate(f"{who}: {GATE}", decide(d) == "yes",
                f"bound - best x-independent = {d.text()}; bound {np.mean(bound):.1f}, x-independent "
                f"{np.mean(independent):.1f}", GATE_RULE)


# --------------------------------------------------------------------------------------------- Table 4 (the sweep)
def _cell(points: pd.DataFrame, T: int, schedule: str, rate: float) -> np.ndarray:
    sel = points[(points["n_steps"] == T) & (points["schedule"] == schedule) & np.isclose(points["rate"], rate)]
    return sel.sort_values("point")["test_lower_bound"].to_numpy()


def _independent(points: pd.DataFrame) -> np.ndarray:
    """Every cell is scored on the same test points, so any cell's rows carry the reference."""
    return points.drop_duplicates("point").sort_values("point")["best_independent"].to_numpy()


def _best(table: pd.DataFrame, T: int, schedule: str, positive: bool = True) -> float | None:
    g = table[(table["n_steps"] == T) & (table["schedule"] == schedule)]
    if positive:
        g = g[g["rate"] > 0]
    return None if g.empty else float(g.loc[g["test_lower_bound"].idxmax(), "rate"])


def sweep_gate(table: pd.DataFrame, points: pd.DataFrame) -> Gate:
    """The sweep has learned when its best infused cell beats the best x-independent output."""
    infused = table[table["rate"] > 0]
    if infused.empty:
        return Gate(f"sweep: {GATE}", False, "no cell with omega or alpha > 0", GATE_RULE)
    best = infused.loc[infused["test_lower_bound"].idxmax()]
    who = f"best infused sweep cell (T={int(best['n_steps'])}, {best['schedule']} {best['rate']:g})"
    return learned_gate(_cell(points, int(best["n_steps"]), best["schedule"], float(best["rate"])),
                        _independent(points), who)


def _combine(per_T: dict[int, Interval]) -> tuple[str, Interval]:
    """`yes` when every T's interval lies above 0, `no` when some T's lies below; the row shows the deciding T's."""
    verdicts = {T: decide(iv) for T, iv in per_T.items()}
    if any(v == "no" for v in verdicts.values()):
        T = min((T for T, v in verdicts.items() if v == "no"), key=lambda T: per_T[T].high)
        return "no", per_T[T]
    T = min(per_T, key=lambda T: per_T[T].low)
    return ("yes" if all(v == "yes" for v in verdicts.values()) else "inconclusive"), per_T[T]


def _per_T_text(per_T: dict[int, Interval], what: dict[int, str]) -> str:
    return "; ".join(f"T={T} ({what[T]}): {iv.estimate:.1f} [{iv.low:.1f}, {iv.high:.1f}]"
                     for T, iv in sorted(per_T.items()))


def infusion_vs_none(table: pd.DataFrame, points: pd.DataFrame, gate: Gate, data: str) -> dict:
    """Table 4: at each T, the best omega > 0 beats omega = 0 (no infusion) of the same T."""
    claim, source = INFUSION_VS_NONE
    per_T, what = {}, {}
    for T in sorted(int(t) for t in table["n_steps"].unique() if t > 1):
        best = _best(table, T, "increasing")
        if best is None or _cell(points, T, "increasing", 0.0).size == 0:
            continue
        per_T[T] = paired_interval(_cell(points, T, "increasing", best), _cell(points, T, "increasing", 0.0))
        what[T] = f"omega {best:g} - omega 0"
    if not per_T:
        return claim_row(claim, source, "", "untested", "infusion.sweep needs omega 0 and an omega > 0 at a T > 1")
    holds, shown = _combine(per_T)
    return claim_row(claim, source, "bound difference by T: " + _per_T_text(per_T, what), holds,
                     f"rule: yes if at every T > 1 the interval of (best omega > 0's bound - omega 0's bound) lies "
                     f"above 0, no if at some T it lies below, else inconclusive; the interval shown is the "
                     f"deciding T's; {data}; paper (MNIST 60k): ~824 at omega 0, 1448.66 / 1389.12 at the best omega "
                     f"of T=5 / 10", interval=shown, gates=[gate])


def increasing_vs_constant(table: pd.DataFrame, points: pd.DataFrame, gate: Gate, data: str) -> dict:
    claim, source = INCREASING_VS_CONSTANT
    per_T, what = {}, {}
    for T in sorted(int(t) for t in table["n_steps"].unique() if t > 1):
        inc, con = _best(table, T, "increasing"), _best(table, T, "constant")
        if inc is None or con is None:
            continue
        per_T[T] = paired_interval(_cell(points, T, "increasing", inc), _cell(points, T, "constant", con))
        what[T] = f"omega {inc:g} - alpha {con:g}"
    if not per_T:
        return claim_row(claim, source, "", "untested", "infusion.sweep needs both schedules at a T > 1")
    holds, shown = _combine(per_T)
    return claim_row(claim, source, "best increasing - best constant by T: " + _per_T_text(per_T, what), holds,
                     f"measured by the test lower bound (the paper judges samples; the bound is what Table 4 "
                     f"reports); rule: yes if at every T > 1 the interval lies above 0, no if at some T it lies "
                     f"below, else inconclusive; {data}", interval=shown, gates=[gate])


def plausible_best(table: pd.DataFrame, points: pd.DataFrame, T: int) -> set[float]:
    """The omegas > 0 at T whose bound the best one's does not beat beyond its interval: any of them may be best."""
    best = _best(table, T, "increasing")
    rates = sorted(float(r) for r in table[(table["n_steps"] == T) & (table["schedule"] == "increasing")
                                           & (table["rate"] > 0)]["rate"])
    top = _cell(points, T, "increasing", best)
    return {r for r in rates if r == best or decide(paired_interval(top, _cell(points, T, "increasing", r))) != "yes"}


def best_omega_falls(table: pd.DataFrame, points: pd.DataFrame, gate: Gate, data: str) -> dict:
    claim, source = BEST_OMEGA_FALLS
    Ts = sorted(int(T) for T in table[(table["schedule"] == "increasing") & (table["rate"] > 0)]["n_steps"].unique())
    if len(Ts) < 2:
        return claim_row(claim, source, "", "untested", "needs omegas > 0 at two T > 1 in infusion.sweep")
    sets = {T: plausible_best(table, points, T) for T in Ts}
    lo, hi = sets[Ts[0]], sets[Ts[-1]]
    rises = any(min(sets[b]) > max(sets[a]) for a, b in zip(Ts, Ts[1:]))
    holds = ("yes" if max(hi) < min(lo) and not rises else
             "no" if min(hi) >= max(lo) or rises else "inconclusive")
    # The interval shown: at the largest T, the best omega below the smallest T's best one, minus that one (above 0:
    # a lower omega wins at the largest T, the direction the claim states).
    first = _best(table, Ts[0], "increasing")
    at_last = table[(table["n_steps"] == Ts[-1]) & (table["schedule"] == "increasing") & (table["rate"] > 0)
                    & (table["rate"] < first)]
    shown, estimate = None, f"no omega below {first:g} at T={Ts[-1]}"
    if not at_last.empty:
        lower = float(at_last.loc[at_last["test_lower_bound"].idxmax(), "rate"])
        shown = paired_interval(_cell(points, Ts[-1], "increasing", lower), _cell(points, Ts[-1], "increasing", first))
        estimate = f"at T={Ts[-1]}, omega {lower:g}'s bound - omega {first:g}'s (T={Ts[0]}'s best)"
    return claim_row(claim, source, "omegas that may be best, by T: " + "; ".join(
        f"T={T}: {', '.join(f'{r:g}' for r in sorted(sets[T]))}" for T in Ts), holds,
        f"an omega may be best at T when the paired interval of (best omega's bound - its bound) includes 0; rule: "
        f"yes if every omega that may be best at the largest T is below every one at the smallest and no step up "
        f"in T surely raises it, no if none is below or a step surely raises it, else inconclusive; estimate: "
        f"{estimate}; {data}; paper (MNIST 60k): "
        f"T=5 0.1, T=10 0.02, T=15 0.01", interval=shown, gates=[gate])


# Each sweep claim, its (claim, source) and the cells it reads besides the infused ones the sweep gate reads.
SWEEP_CLAIMS = [
    (infusion_vs_none, INFUSION_VS_NONE, lambda c: c["schedule"] == "increasing" and c["n_steps"] > 1),
    (best_omega_falls, BEST_OMEGA_FALLS, lambda c: c["schedule"] == "increasing" and c["rate"] > 0),
    (increasing_vs_constant, INCREASING_VS_CONSTANT, lambda c: c["n_steps"] > 1 and c["rate"] > 0),
]


def sweep_claims(table: pd.DataFrame, points: pd.DataFrame) -> list[dict]:
    data = (f"{table['dataset'].iloc[0]}, reduced sweep ({int(table['hidden'].iloc[0])} units x "
            f"{int(table['layers'].iloc[0])}, {int(table['n_iters'].iloc[0])} iterations, "
            f"{int(table['n_test'].iloc[0])} test points, k={int(table['k'].iloc[0])})")
    diverged = divergences(table)
    table, points = trained(table), trained(points)
    gate = sweep_gate(table, points)
    rows = []
    for claim_of, (claim, source), reads in SWEEP_CLAIMS:
        failed = [diverged_gate(cell_label(cell), record) for cell, record in diverged
                  if reads(cell) or cell["rate"] > 0]
        rows.append(untested_by(claim, source, failed) if failed else claim_of(table, points, gate, data))
    return rows


def untested_by(claim: str, source: str, failed: list[Gate]) -> dict:
    """The row of a claim a diverged model feeds: nothing measured, its note naming each divergence (claim_row
    names a failed gate only in a row it would otherwise decide)."""
    return claim_row(claim, source, "", "untested", "not measured: " + "; ".join(g.text() for g in failed),
                     gates=failed)


# --------------------------------------------------------------------------------------------- the main model
def main_gate(m: dict) -> Gate:
    return learned_gate(m["test_points"]["lower_bound"], m["test_points"]["best_independent"], "main model")


# (metrics.json key, claim, the paper's number) of each Table 2 claim of the main model
TABLE2_CLAIMS = [
    ("lower_bound_test", "MNIST test lower bound 1350.598 +- 0.079", R.LB_TEST),
    ("is_estimate_test", "MNIST test IS estimate 1836.27 +- 0.551", R.IS_TEST),
    ("lower_bound_train", "MNIST train lower bound 1230.305 +- 0.532", R.LB_TRAIN),
    ("is_estimate_train", "MNIST train IS estimate 1837.560 +- 1.074", R.IS_TRAIN),
    ("isotropic_is_estimate_test", "isotropic output: MNIST test IS estimate 413.297 +- 0.460", R.ISOTROPIC_IS_TEST),
]
PARZEN_CLAIM = ("Parzen log-likelihood on MNIST test 312 +- 1.7 (10,000 samples, sigma 0.17)", "Table 1")
MAIN_MODEL = "main model"


def model_claims(m: dict) -> list[dict]:
    record = divergence_in(m)
    if record is not None:
        return diverged_model_claims(record)
    ours = (f"{m['dataset']} (the 5,000 embedded digits' splits), {m['setting']}, k={m['k']} chains, "
            f"{m['n_test']} test / {m['n_train']} train points")
    nl = NOT_LIKE_FOR_LIKE.format(paper_data=R.PAPER_DATA, ours=ours)
    gate = main_gate(m)

    def ms(key):
        return f"{m[key]['mean']:.2f} +- {m[key]['std']:.2f} ({m[key]['repetitions']} repetitions)"

    rows = []
    for key, claim, paper in TABLE2_CLAIMS:
        extra = (f"; ours is an evaluation-time isotropic variant (scalar variance {m['isotropic_variance']:.4g} "
                 f"fitted on training chains), the paper's a model with isotropic output") if "isotropic" in key else ""
        rows.append(claim_row(claim, "Table 2", f"ours: {ms(key)}; paper: {paper[0]} +- {paper[1]}", "untested",
                              nl + extra + f"; the paper used k = 20,000 chains, we {m['k']}", gates=[gate]))
    pv, pf = m["parzen_validation_sigma"], m["parzen_fixed_sigma"]
    rows.append(claim_row(
        *PARZEN_CLAIM,
        f"ours: sigma chosen on {pv['n_validation']} held-out validation images ({pv['sigma']:.3f}): {pv['mean']:.1f} "
        f"+- {pv['stderr']:.1f}; fixed sigma {pf['sigma']:g} (the paper's): {pf['mean']:.1f} +- {pf['stderr']:.1f}; "
        f"{pv['n_samples']} samples, {pv['n_test']} test points; paper: {R.PARZEN_TEST[0]} +- {R.PARZEN_TEST[1]}",
        "untested", nl, gates=[gate]))
    rows.append(cifar_claim())
    return rows


def diverged_model_claims(record: Divergence) -> list[dict]:
    """The main model's claims when its training diverged: those measured on it untested, naming the divergence;
    the CIFAR-10 claim, which needs no model of ours, as always."""
    failed = [diverged_gate(MAIN_MODEL, record)]
    return ([untested_by(claim, "Table 2", failed) for _, claim, _ in TABLE2_CLAIMS]
            + [untested_by(*PARZEN_CLAIM, failed), cifar_claim()])


def cifar_claim() -> dict:
    return claim_row("CIFAR-10 Inception score 4.62 +- 0.06 of 50,000 samples", "Table 3", "", "untested",
                     "needs CIFAR-10 (no offline copy), a GPU to train the Salimans et al. generator, and the "
                     "Inception network's logits (the offline FID Inception has none); the paper_cifar10 "
                     "profile holds the settings")


def context_lines(m: dict, table: pd.DataFrame) -> list[str]:
    """Facts for summary.md that are not claims: they hold for any model, or the paper never states them."""
    record = divergence_in(m)
    main = [f"- The main model measured nothing: {record.text()}."] if record is not None else _main_model_lines(m)
    return main + [_no_infusion_line(table)]


def _main_model_lines(m: dict) -> list[str]:
    lb, is_ = m["lower_bound_test"]["mean"], m["is_estimate_test"]["mean"]
    return [
        f"- The IS estimate ({is_:.1f}) is at least the lower bound ({lb:.1f}) on the test points: Jensen's "
        f"inequality for the same chains, true of any model, so it is context and not a claim.",
        f"- The main model's bound and IS estimate beside the factorial prior p(0) (fitted on u/256 as the released "
        f"code does): bound {lb:.1f}, IS {is_:.1f}, prior {m['factorial_prior_log_likelihood_test']:.1f}; the best "
        f"x-independent output scores {np.mean(m['test_points']['best_independent']):.1f} on the same points.",
    ]


def _no_infusion_line(table: pd.DataFrame) -> str:
    zero = table[(table["schedule"] == "increasing") & (table["rate"] == 0)].sort_values("n_steps")
    priors = trained(table)["factorial_prior_log_likelihood"]
    prior = f"{priors.iloc[0]:.1f}" if len(priors) else "not measured (every cell diverged)"
    return ("- No infusion (omega = 0), by T: " + ", ".join(f"T={int(r.n_steps)}: {_bound_text(r)}"
                                                           for r in zero.itertuples())
            + f" (best x-independent output {table['best_independent_log_likelihood'].iloc[0]:.1f}, prior "
              f"{prior}). The paper reports ~824 at every T; it does not "
              f"say omega = 0 equals the prior, and with omega = 0 the last step sees only the model's own chain, so it "
              f"can at best learn an x-independent output: no claim is made of it.")


def _bound_text(row) -> str:
    """A cell's test lower bound as summary.md prints it; a cell whose training diverged says so."""
    return "diverged" if isinstance(getattr(row, DIVERGED, None), str) else f"{row.test_lower_bound:.1f}"


def evaluate(params: dict, results: Path | None = None) -> pd.DataFrame:
    """Every infusion claim from the files the evaluate and sweep stages wrote under results/infusion/."""
    from scorerepro.papers.infusion.locations import RESULTS

    d = Path(results) if results is not None else RESULTS
    m = json.loads((d / "metrics.json").read_text())
    table = pd.read_csv(d / "table4.csv")
    points = pd.read_csv(d / "table4_points.csv")
    return pd.DataFrame(model_claims(m) + sweep_claims(table, points), columns=ROW_COLUMNS)
