"""The claims of the NCSN paper and of seed 000 as checkable statements, each with the number this run measured
and whether it holds, read only from results/ (evaluate). A comparison reads yes/no only when its 95% interval
(the bootstrap standard error of each classifier FID over its samples; a binomial interval for a toy fraction)
clears the rule's threshold, else `inconclusive`; image claims need the main model to pass its sanity gate (its
classifier FID within TESTABLE_FACTOR x the real-data floor at the same sample count), else `untested`. A claim
this profile cannot test says `untested` and why, rather than guessing; so does a claim about a model whose training
diverged (the summary stage passes their records), its note naming the step, the loss and the bound."""

from __future__ import annotations

import json
import math

import pandas as pd

from scorerepro.papers.ncsn.experiment import experiment_settings
from scorerepro.papers.ncsn.locations import results_dir, sensitivity_dir, toy_dir
from scorerepro.pipeline.divergence import divergence_in, diverged_gate
from scorerepro.pipeline.evidence import (ROW_COLUMNS, Gate, Interval, binomial_interval, claim_row, decide,
                                          decide_band, difference_interval, normal_interval, threshold_gate)
from scorerepro.training.divergence import Divergence

MAIN_MODE = "(5, 5)"
# A generated-image claim is only tested when the main multi-level model is within this factor of the floor: the
# classifier FID of real held-out digits scored at the same sample count (FID's bias grows as n shrinks: about 47 at
# 100 samples against 6.2 at 500 here); further away the models are too undertrained for a comparison to mean anything.
TESTABLE_FACTOR = 10.0


def _load(path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


# The settings the Fig. 3 claims are about (the official toy runner): its annealed setting, as
# toy_studies.OFFICIAL_FIG3 (repeated here so the summary stages need not import the toy studies and their
# samplers; tests/papers/ncsn/test_claims.py keeps the two equal), and its plain Langevin: step 0.1, 1000 steps.
OFFICIAL_FIG3 = {"sigma_begin": 20.0, "sigma_end": 1.0, "num_levels": 10, "eps": 0.1, "n_steps_each": 100,
                 "score": "official"}
PLAIN_FIG3 = {"eps": 0.1, "n_steps": 1000}


def _fraction(fractions: dict, n_points: int) -> Interval | None:
    """The (5,5)-mode fraction over n_points with its binomial interval; None where the sampler diverged. The count
    is rounded from the stored fraction, so a rounding-level change of the fraction leaves it unchanged."""
    w = fractions.get(MAIN_MODE)
    return None if w is None else binomial_interval(int(round(w * n_points)), n_points)


def _same(a, b) -> bool:
    """Equal settings; numbers to a relative 1e-4, so that a value read back through float rounding still matches."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-4)
    return a == b


def _setting_gate(ran: dict, official: dict, what: str) -> str:
    """Why a run that differs from the paper's setting cannot decide a claim about that setting; "" when equal."""
    diff = [f"{k} {ran.get(k)} (paper: {v})" for k, v in official.items() if not _same(ran.get(k), v)]
    return f"{what} ran with {', '.join(diff)}: not the setting the claim is about" if diff else ""


def _toy_claims() -> list[dict]:
    rows = []
    fig3 = _load(toy_dir() / "fig3_langevin" / "metrics.json")
    if fig3:
        r = fig3["results"]
        n_points = fig3["settings"]["n_points"]
        ran = (fig3["settings"].get("annealed") or {}).get("official", {})
        iv = _fraction(r.get("official", {}).get("mode_fractions", {}), n_points)
        why = _setting_gate(ran, OFFICIAL_FIG3, "annealed Langevin")
        holds = "untested" if why else "no" if iv is None else decide_band(iv, 0.77, 0.83, inside=True)
        rows.append(claim_row("Annealed Langevin with exact scores (official toy settings) puts 0.8 +- 0.03 of "
                              "samples at the (5,5) mode", "NCSN Fig. 3; seed 000 section 4",
                              f"{iv.estimate:.3f} of {n_points} points" if iv else "diverged", holds,
                              "; ".join(x for x in (why, "rule: the fraction's interval lies inside [0.77, 0.83]")
                                        if x), interval=iv))
        plain = r["langevin"]
        iv = _fraction(plain.get("mode_fractions", {}), n_points)
        why = _setting_gate(plain, PLAIN_FIG3, "plain Langevin")
        holds = "untested" if why else "yes" if iv is None else decide_band(iv, 0.7, 0.9, inside=False)
        rows.append(claim_row("Plain Langevin from the same start does not recover the weights (off by > 0.1)",
                              "NCSN Fig. 3", f"{iv.estimate:.3f} of {n_points} points" if iv else "diverged", holds,
                              "; ".join(x for x in (why, "rule: the fraction's interval lies outside [0.7, 0.9]")
                                        if x), interval=iv))
        rep = r.get("reported")
        if rep is None:
            rows.append(claim_row("The paper's reported toy setting (sigma 10 -> 0.1, eps 0.1, T 100) overflows",
                                  "seed 000 section 4", "", "untested",
                                  "toy.fig3_langevin.annealed has no 'reported' run"))
        else:
            where = f"level {rep.get('level')}, step {rep.get('step')}" if rep.get("diverged") else "finite"
            rows.append(claim_row("The paper's reported toy setting (sigma 10 -> 0.1, eps 0.1, T 100) overflows",
                                  "seed 000 section 4", f"diverged: {rep.get('diverged')} ({where})",
                                  bool(rep.get("diverged"))))
    fig1 = _load(toy_dir() / "fig1_manifold" / "metrics.json")
    if fig1:
        p, u = fig1["runs"]["perturbed"]["converged"], fig1["runs"]["unperturbed"]["converged"]
        verdict = fig1["verdict"]
        holds = "untested" if verdict.startswith("inconclusive") else (p and not u)
        rows.append(claim_row("SSM training converges only on perturbed data (manifold hypothesis)",
                         "NCSN Fig. 1; seed 000 Fig. 1", f"perturbed converged: {p}; unperturbed: {u}", holds,
                         verdict + "; rule: " + fig1["convergence_rule"]))
    fig2 = _load(toy_dir() / "fig2_scores" / "metrics.json")
    if fig2:
        rows.append(_score_error_claim(fig2))
    fig11 = _load(toy_dir() / "fig11_step_sweep" / "metrics.json")
    if fig11:
        rows.append(_step_sweep_claim(fig11))
    return rows


# The toy score network has learned where the data is: its mean relative score error in the high-density region
# stays below this (an untrained network's is about 1).
TOY_SCORE_GATE = 0.5


def _score_error_claim(fig2: dict) -> dict:
    """Fig. 2: the low/high-density ratio of mean |score error|, with a delta-method interval on its log from each
    region's standard error over its grid points; yes iff the interval lies above 1."""
    hi, lo = fig2["error_high_density"], fig2["error_low_density"]
    ratio = lo["mean_abs_error"] / hi["mean_abs_error"]
    gate = threshold_gate("toy score network has learned the dense region", hi.get("mean_rel_error"),
                          TOY_SCORE_GATE, "mean relative score error where log p >= its 0.2-quantile < 0.5")
    interval = None
    if hi.get("se_abs_error") is not None and lo.get("se_abs_error") is not None:
        se_log = math.hypot(lo["se_abs_error"] / lo["mean_abs_error"], hi["se_abs_error"] / hi["mean_abs_error"])
        z = normal_interval(0.0, 1.0, 1, "").high
        interval = Interval(ratio, ratio * math.exp(-z * se_log), ratio * math.exp(z * se_log),
                            int(hi["grid_points"] + lo["grid_points"]),
                            "delta method on the log ratio, each region's se over its grid points")
    holds = decide(interval, 1.0) if interval else "untested"
    return claim_row("Estimated scores are accurate where data is dense and inaccurate in low-density regions",
                     "NCSN Fig. 2; seed 000 Fig. 2", f"mean |error| low/high density = {ratio:.2f}", holds,
                     fig2["regions"]["rule"] + ("" if interval else "; no standard error: a region holds fewer than 2 grid "
                                                "points (toy.fig2_scores.grid_size, quantiles)"),
                     interval=interval, gates=[gate])


def _end_excess(d_end: float, d_best: float, se: float) -> Interval:
    """How much worse a (finite) end of the eps grid samples than the best eps, with its normal interval."""
    return normal_interval(d_end - d_best, math.sqrt(2.0) * se, 1, "")


def _step_sweep_claim(fig11: dict) -> dict:
    """Fig. 11: for each score variant, both ends of the eps grid are worse than the best eps by more than the
    energy distance's sampling noise (the spread of exact-vs-exact distances at the same n, recorded by the study).
    The row's interval is the least certain end's excess."""
    floor = fig11["energy_distance_noise_floor"]
    se = floor["std"]
    n_eps = len(fig11["settings"]["eps_grid"])
    ends, verdicts = [], []
    for variant, recs in fig11["runs"].items():
        d = [math.inf if r["diverged"] else r["energy_distance_to_exact"] for r in recs]
        best = min(range(len(d)), key=d.__getitem__)
        if not (0 < best < len(d) - 1) or not math.isfinite(d[best]):
            verdicts.append("no")  # the best eps is at an end of the grid: no U-shape there
            continue
        for end in (d[0], d[-1]):
            if not math.isfinite(end):  # a diverged end is worse than any finite distance
                verdicts.append("yes")
                continue
            e = _end_excess(end, d[best], se)
            ends.append(e)
            verdicts.append(decide(e, 0.0))
    holds = "no" if "no" in verdicts else "inconclusive" if "inconclusive" in verdicts else "yes"
    worst = min(ends, key=lambda e: e.low) if ends else None
    interval = Interval(worst.estimate, worst.low, worst.high, int(floor["n_points"]),
                        "least certain end: excess energy distance over the best eps, +-1.96 x sqrt(2) x the "
                        "exact-vs-exact distance's std") if worst else None
    s = fig11["summary"]
    measured = "; ".join(f"{v}: best eps {s[v]['best_eps']}, diverged at {s[v]['diverged_eps']}" for v in s)
    return claim_row("On the toy, both too small and too large eps degrade annealed Langevin samples",
                     "seed 000 Fig. 11", measured, holds if n_eps >= 3 else "untested",
                     fig11["distance"] + ("" if n_eps >= 3 else "; needs at least 3 eps values"),
                     interval=interval)


def _metrics(name: str | None) -> dict:
    return (_load(results_dir(name) / "metrics.json") or {}) if name else {}


def _fid_se(m: dict) -> tuple[float | None, float]:
    """A model's classifier FID and its bootstrap standard error (NaN when not recorded: no interval then)."""
    se = m.get("fid_mnist_classifier_se")
    return m.get("fid_mnist_classifier"), float("nan") if se is None else float(se)


def learned_gate(name: str, m: dict) -> Gate:
    """The main model has learned: its classifier FID is within TESTABLE_FACTOR x the real-data floor at the same
    sample count (real held-out digits scored the same way). An untrained network's samples score ~1000 against a
    floor of ~50 at 100 samples."""
    fid, floor = m.get("fid_mnist_classifier"), m.get("fid_mnist_classifier_real_same_n")
    return threshold_gate(f"{name} classifier FID within {TESTABLE_FACTOR:g}x the same-n real-data floor", fid,
                          TESTABLE_FACTOR * floor if floor is not None else float("nan"),
                          f"fid_mnist_classifier < {TESTABLE_FACTOR:g} x fid_mnist_classifier_real_same_n "
                          f"({m.get('fid_mnist_classifier_real_n_used')} real test digits)")


def worse_interval(main: dict, other: dict) -> Interval:
    """other's classifier FID minus main's, with both bootstrap standard errors (independent models)."""
    (a, se_a), (b, se_b) = _fid_se(main), _fid_se(other)
    n = min(main.get("n_samples", 0), other.get("n_samples", 0))
    return difference_interval(b, se_b, a, se_a, n, "normal, bootstrap SEs of both classifier FIDs")


def relative_change_interval(a: float, se_a: float, b: float, se_b: float, n: int) -> Interval:
    """(b - a) / a with its delta-method standard error."""
    se = math.hypot(se_b / a, b * se_a / a ** 2)
    return normal_interval((b - a) / a, se, n, "normal, delta method on bootstrap SEs of both classifier FIDs")


def fluctuation(curve: pd.DataFrame) -> tuple[str, Interval | None, str]:
    """Some checkpoint's FID more than 10% above an earlier one's: per pair (earlier i, later j), the interval of
    fid_j / fid_i - 1. `yes` when some pair's interval lies above 0.1, `no` when every pair's lies below it. The
    pair shown is the one with the highest lower bound."""
    fids = list(curve["fid"])
    ses = list(curve["fid_se"]) if "fid_se" in curve else [float("nan")] * len(fids)
    iters = list(curve["iteration"])
    pairs = [(relative_change_interval(fids[i], ses[i], fids[j], ses[j], int(curve["n_samples"].iloc[j])
                                       if "n_samples" in curve else 0), iters[i], iters[j])
             for i in range(len(fids)) for j in range(i + 1, len(fids))]
    if not pairs:
        return "untested", None, ""
    verdicts = [decide(iv, 0.1) for iv, _, _ in pairs]
    holds = "yes" if "yes" in verdicts else "no" if all(v == "no" for v in verdicts) else "inconclusive"
    iv, i, j = max(pairs, key=lambda p: p[0].low if math.isfinite(p[0].low) else -math.inf)
    return holds, iv, f"checkpoint {j} vs {i}"


def u_shape(row: pd.DataFrame, metric: str) -> tuple[str, Interval | None, str]:
    """Both ends of the step_lr grid worse than its best interior cell: on each side, the interval of
    f(end) - f(best interior). A diverged end counts as worse. `yes` when both sides' intervals lie above 0, `no`
    when either lies below (an end is better than every interior cell), else `inconclusive`; the interval shown is
    the less certain side's."""
    vals = list(row[metric])
    ses = list(row[f"{metric}_se"]) if f"{metric}_se" in row else [float("nan")] * len(vals)
    diverged = [bool(d) for d in row["diverged"]]
    n = int(row["n_samples"].iloc[0]) if "n_samples" in row else 0
    interior = [k for k in range(1, len(vals) - 1) if not diverged[k]]
    if not interior:
        return "no", None, "every interior cell diverged"
    best = min(interior, key=lambda k: vals[k])
    sides = []
    for end in (0, len(vals) - 1):
        if diverged[end]:
            sides.append(("yes", None))
            continue
        se = ses[end] if ses[end] is not None else float("nan")
        iv = difference_interval(vals[end], float(se), vals[best], float(ses[best] or float("nan")), n,
                                 "normal, bootstrap SEs of both classifier FIDs")
        sides.append((decide(iv, 0.0), iv))
    verdicts = [v for v, _ in sides]
    holds = "yes" if verdicts == ["yes", "yes"] else "no" if "no" in verdicts else "inconclusive"
    shown = [iv for _, iv in sides if iv is not None]
    iv = min(shown, key=lambda x: x.low if math.isfinite(x.low) else -math.inf) if shown else None
    return holds, iv, f"best interior step_lr {row['step_lr'].iloc[best]:g}"


def diverged_claim(claim: str, source: str, diverged: dict[str, Divergence], models) -> dict | None:
    """The row of a claim about `models` when one of them diverged in training: untested, its note naming each
    divergence (diverged_gate); None when none of them diverged, so the claim is judged as usual."""
    gates = [diverged_gate(model, diverged[model]) for model in dict.fromkeys(models) if model in diverged]
    if not gates:
        return None
    return claim_row(claim, source, "diverged in training", "untested",
                     "not measured: " + "; ".join(g.text() for g in gates), gates=gates)


LINEAR_CLAIM = ("A linear noise schedule changes sample statistics relative to the geometric one",
                "seed 000 section 6.2")
FLUCTUATION_CLAIM = ("FID fluctuates between checkpoints, so per-checkpoint selection matters", "seed 000 Fig. 13")
EPS_CLAIM = ("Too small and too large eps both degrade image samples", "seed 000 Fig. 8, section 6.1")


def _image_claims(params: dict, diverged: dict[str, Divergence] | None = None) -> list[dict]:
    """The claims about the trained image models; a claim about a model in `diverged` (by experiment) is untested,
    naming the divergence."""
    diverged = diverged or {}
    rows = []
    exps = {n: experiment_settings(params, n) for n in params["ncsn"]["experiments"]}

    def find(pred):
        return next((n for n, e in exps.items() if pred(e)), None)

    main = find(lambda e: e["model"]["arch"] == "refinenet" and e["noise"]["schedule"] == "geometric"
                and e["noise"]["num_levels"] > 1)
    mm = _metrics(main)
    # the run this profile made, not the paper's (a profile's main model may have 3 levels, not 10)
    main_desc = f"{main} ({exps[main]['noise']['num_levels']}-level model)" if main else ""
    gates = [learned_gate(main_desc, mm)] if main else []

    def compare(claim, source, other):
        if not (main and other):
            rows.append(claim_row(claim, source, "", "untested", "no such experiment in this profile"))
            return
        gone = diverged_claim(claim, source, diverged, (main, other))
        if gone:
            rows.append(gone)
            return
        om = _metrics(other)
        if om.get("fid_mnist_classifier") is None or mm.get("fid_mnist_classifier") is None:
            rows.append(claim_row(claim, source, "", "untested", f"no classifier FID of {main} and {other}"))
            return
        iv = worse_interval(mm, om)
        rows.append(claim_row(claim, source, f"fid_mnist_classifier {main}: {mm.get('fid_mnist_classifier'):.4g}; "
                              f"{other}: {om.get('fid_mnist_classifier'):.4g}", decide(iv, 0.0),
                              f"rule: {other}'s classifier FID minus {main}'s has its interval above 0",
                              interval=iv, gates=gates))

    compare("The single-noise baseline fails where the 10-level model does not (worse classifier FID)",
            "NCSN section 5 / seed 000 Fig. 4", find(lambda e: e["noise"]["num_levels"] == 1))
    compare("A ResNet score network (no U-Net skips) gives worse samples than the RefineNet",
            "seed 000 section 6.3", find(lambda e: e["model"]["arch"] == "cond_resnet"))
    lin = find(lambda e: e["noise"]["schedule"] == "linear")
    lm = _metrics(lin)
    gone = diverged_claim(*LINEAR_CLAIM, diverged, (main, lin)) if main and lin else None
    if gone:
        rows.append(gone)
    elif main and lin and None not in (mm.get("fid_mnist_classifier"), lm.get("fid_mnist_classifier")):
        (a, se_a), (b, se_b) = _fid_se(mm), _fid_se(lm)
        iv = relative_change_interval(a, se_a, b, se_b, min(mm.get("n_samples", 0), lm.get("n_samples", 0)))
        rows.append(claim_row(
            *LINEAR_CLAIM,
            f"fid {a:.4g} vs {b:.4g}; classifier IS {mm.get('is_mnist_classifier_mean'):.3g} vs "
            f"{lm.get('is_mnist_classifier_mean'):.3g}", decide_band(iv, -0.1, 0.1, inside=False),
            "rule: the relative difference of the classifier FIDs (linear - geometric) / geometric has its "
            "interval outside [-0.1, 0.1]", interval=iv, gates=gates))
    gone = diverged_claim(*FLUCTUATION_CLAIM, diverged, (main,)) if main else None
    if gone:
        rows.append(gone)
    elif main:
        curve = pd.read_csv(results_dir(main) / "fig13_fid_by_iteration.csv")
        if "diverged" in curve:  # a checkpoint whose sampler diverged has no FID to spread
            curve = curve[~curve["diverged"].astype(bool)]
        curve = curve[curve["fid"].notna()].sort_values("iteration")
        fids = list(curve["fid"])
        # Fluctuation is a later checkpoint scoring worse than an earlier one (then selecting beats taking the
        # last). A spread alone would also count a model still learning, whose FID falls at every checkpoint.
        holds, iv, which = fluctuation(curve) if len(curve) >= 3 else ("untested", None, "")
        rows.append(claim_row(*FLUCTUATION_CLAIM, f"{len(curve)} checkpoints, FID {[round(f, 1) for f in fids]}"
                              + (f"; interval shown: {which}" if which else ""), holds,
                              "rule: some checkpoint's FID is more than 10% above an earlier one's (interval of "
                              "fid_later / fid_earlier - 1 above 0.1; no: every pair's below)"
                              + ("" if len(curve) >= 3 else "; needs at least 3 checkpoints"),
                              interval=iv, gates=gates))
    sens = _load(sensitivity_dir() / "metrics.json")
    sens_exp = params["ncsn"]["sensitivity"]["experiment"]
    sens_record = divergence_in(sens)  # the sensitivity stage found its model diverged
    sens_diverged = {**diverged, sens_exp: sens_record} if sens_record else diverged
    gone = diverged_claim(*EPS_CLAIM, sens_diverged, (main, sens_exp)) if sens else None
    if gone:
        rows.append(gone)
    elif sens:
        grid = pd.DataFrame(sens["grid"])
        metric = sens["metric"]
        # the experiment's own steps per level, from params: the sensitivity stage does not read them, so that
        # changing the experiment's sampling does not rerun the grid
        t = exps[sens["experiment"]]["sampling"]["n_steps_each"]
        row = grid[grid["n_steps_each"] == (t if t in set(grid["n_steps_each"]) else grid["n_steps_each"].max())]
        row = row.sort_values("step_lr").reset_index(drop=True)
        vals = [None if d else round(v, 3) for v, d in zip(row[metric], row["diverged"])]
        holds, iv, which = u_shape(row, metric) if len(row) >= 3 else ("untested", None, "")
        rows.append(claim_row(*EPS_CLAIM, f"{metric} by step_lr {list(row['step_lr'])}: {vals}"
                              + (f"; {which}" if which else ""), holds,
                              "rule: the smallest and the largest step_lr each score worse than the best interior "
                              "one (interval of the difference above 0 on both sides; a diverged end is worse)"
                              + ("" if len(row) >= 3 else "; needs at least 3 step_lr values"),
                              interval=iv, gates=gates))
    for name, e in exps.items():
        if e["dataset"] in ("cifar10", "celeba") and e["model"]["arch"] == "refinenet":
            m = _metrics(name)
            ref = "IS 8.87, FID 25.32 (paper); IS 6.5, FID 33.0 (seed 000)" if e["dataset"] == "cifar10" else \
                "IS 3.4, FID 81.5 (seed 000)"
            claim = (f"{e['dataset']} headline numbers are reproduced ({ref})", "NCSN Table 1; seed 000")
            gone = diverged_claim(*claim, diverged, (name,))
            rows.append(gone or claim_row(*claim, f"IS {m.get('is_inception_mean')}, FID {m.get('fid_inception')}",
                                          "untested", "no numeric rule decides it: ours and the reported values stand "
                                          "side by side in results/ncsn/summary.md and results/leaderboard.md"))
    if not any(e["dataset"] == "cifar10" for e in exps.values()):
        rows.append(claim_row("CIFAR-10: IS 8.87 +- 0.12, FID 25.32 (paper); 6.5 +- 0.118, 33.0 (seed 000)",
                              "NCSN Table 1; seed 000 section 5.1", "", "untested",
                              "this profile has no CIFAR-10 experiment (`scorerepro use-profile paper_cifar10`)"))
    return rows


def evaluate(params: dict, diverged: dict[str, Divergence] | None = None) -> pd.DataFrame:
    """Every NCSN claim, read from results/ only (each experiment's metrics.json and fig13 CSV, the sensitivity
    grid, the toy studies); the claims about an experiment in `diverged` (its training diverged) are untested."""
    return pd.DataFrame(_toy_claims() + _image_claims(params, diverged), columns=ROW_COLUMNS)
