"""Seed 003's claims as checkable statements, each a row of pipeline.evidence.claim_row: the number this run measured,
an estimate with its interval, the gates its models had to pass, and yes / no / inconclusive / untested. Every
input is read from results/score_repr.

Gates ("the model has learned", per model):
- loss gate: the model's DSM loss at the Eq. 6 draws (training images, t uniform) is below ZERO_SCORE_FRACTION of a
  zero score's loss (the noise's mean square, 1 per pixel in expectation). An untrained network sits at or above 1;
  a model that has learned the score is far below it at every t. Sweep runs: the same rule at their single t on
  the test images.
- sample gate (claims about samples): the samples' mean pairwise distance is nearer the real test images' than
  Bernoulli(1/2) noise's (metrics.noise_like, `samples_noise_check` of the evaluate stage).
- toy gate: the unconditional toy model reaches the closed-form constant (its optimum) within TOY_OPTIMUM_TOLERANCE.
- trained gate: a model (or sweep run) whose training diverged has no measurements; each claim that needs it is
  untested, its note naming the step, the loss and the bound (scorerepro.pipeline.divergence.diverged_gate).

Intervals: a percentile bootstrap over test points (silhouettes, ink correlations, own vs other code), a t interval
over the sweep's seeds, a normal interval from the per-draw standard error (Eq. 6), a normal interval over the fixed
codes (diversity). A rule reads yes / no only when its interval excludes the threshold.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from scorerepro.papers.score_repr.locations import results_dir, sweep_results_dir, toy_dir
from scorerepro.papers.score_repr.reported import STATEMENTS
from scorerepro.papers.score_repr.stages.sweep import diverged_runs
from scorerepro.pipeline.divergence import diverged_gate, divergence_in
from scorerepro.pipeline.evidence import (ROW_COLUMNS, Gate, Interval, bootstrap_interval, claim_row, decide,
                                          difference_interval, mean_interval, normal_interval, threshold_gate)

# The experiments each claim reads (params.yaml score_repr.experiments); a profile without one leaves it untested.
CODES_EXPERIMENT = "uniform_t"
SIGMA_EXPERIMENT = "uniform_sigma"
UNCONDITIONAL_EXPERIMENT = "unconditional"
DIVERSITY_BY_DIM = ("code_dim_1", "uniform_t", "code_dim_8")
# "near zero" = no class information: within this of the chance level, the silhouette of the same codes with the
# labels permuted (about -0.17 for 10 classes in 2-D, not 0: each point's b(i) is a minimum over the other clusters)
NEAR_CHANCE = 0.1
# One model each: the test-point interval does not hold the seed-to-seed spread of the sweep (~0.03-0.05), so two
# models' silhouettes must differ by more than that.
SILHOUETTE_MARGIN = 0.05
RELATIVE_MARGIN = 0.01     # a loss gap or a diversity drop under 1% of its value is not a difference
ZERO_SCORE_LOSS = 1.0      # E ||noise||^2 / d: the DSM loss (per pixel, lambda = sigma^2) of a zero score
ZERO_SCORE_FRACTION = 0.5
TOY_OPTIMUM_TOLERANCE = 0.1
# The profile whose settings are the paper's MNIST ones (80k iterations, 1,000 sampler levels, 16 codes x 64 samples)
DECIDING_PROFILE = "paper_mnist.yaml"


def _load(path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _metrics(params: dict, name: str) -> dict | None:
    if name not in params["score_repr"]["experiments"]:
        return None
    return _load(results_dir(name) / "metrics.json")


def diverged_gates(params: dict, names) -> list[Gate]:
    """A failed gate for each of `names` whose evaluation found its training diverged."""
    records = {name: divergence_in(_metrics(params, name)) for name in names}
    return [diverged_gate(name, record) for name, record in records.items() if record is not None]


def sweep_diverged_gates(metrics: dict) -> list[Gate]:
    """A failed gate for each sweep run whose training diverged (listed in the sweep's metrics.json)."""
    return [diverged_gate(f"sweep run t={t:g} seed {seed}", record) for t, seed, record in diverged_runs(metrics)]


def diverged_row(text: str, source: str, gates: list[Gate]) -> dict:
    """The row of a claim that needs a model whose training diverged: nothing measured, untested."""
    return claim_row(text, source, "not measured: a model it needs diverged in training", "untested",
                     "; ".join(g.text() for g in gates), gates=gates)


def _where(m: dict) -> str:
    return f"{m['dataset']} pooled {m['pool']}x ({'x'.join(map(str, m['image_shape'][1:]))})"


def all_of(verdicts: list[str]) -> str:
    """A claim made of parts: yes when every part is yes, no when any is no, else inconclusive."""
    if "no" in verdicts:
        return "no"
    return "yes" if all(v == "yes" for v in verdicts) else "inconclusive"


def within(interval: Interval, low: float, high: float) -> str:
    """yes when the interval lies inside [low, high], no when wholly outside it, else inconclusive."""
    if low <= interval.low and interval.high <= high:
        return "yes"
    return "no" if interval.high < low or interval.low > high else "inconclusive"


# ----------------------------------------------------------------------------------------------------------- gates
def loss_gate(name: str, m: dict | None) -> Gate:
    value = None if m is None else m.get("model_loss_at_constant_draws")
    return threshold_gate(f"{name} has learned the score", value, ZERO_SCORE_FRACTION * ZERO_SCORE_LOSS,
                          f"DSM loss at the Eq. 6 draws < {ZERO_SCORE_FRACTION:g} x a zero score's "
                          f"({ZERO_SCORE_LOSS:g} per pixel)")


def sample_gate(name: str, m: dict | None) -> Gate:
    check = None if m is None else m.get("samples_noise_check")
    rule = "samples' mean pairwise distance nearer the test images' than Bernoulli(1/2) noise's"
    if check is None:
        return Gate(f"{name} samples look like digits", False, "not measured (rerun score_repr evaluate)", rule)
    s, noise, real = check["samples"], check["bernoulli_noise"], check["real"]
    return Gate(f"{name} samples look like digits", bool(abs(s - real) < abs(s - noise)),
                f"mean pairwise distance {s:.3g} vs noise {noise:.3g}, test images {real:.3g}", rule)


def sweep_gates(rows: list[dict]) -> list[Gate]:
    """One loss gate per sweep run that fails it (all runs passing: one summary gate)."""
    failed = [r for r in rows if not r["dsm_test"] < ZERO_SCORE_FRACTION * r["dsm_zero_score"]]
    rule = f"each run's test DSM loss at its t < {ZERO_SCORE_FRACTION:g} x a zero score's at the same draws"
    if not failed:
        worst = max(r["dsm_test"] / r["dsm_zero_score"] for r in rows)
        return [Gate("sweep runs have learned the score", True, f"largest ratio {worst:.3g}", rule)]
    return [Gate(f"sweep run t={r['t']:g} seed {r['seed']} has learned the score", False,
                 f"{r['dsm_test']:.3g} vs zero score {r['dsm_zero_score']:.3g}", rule) for r in failed]


# ---------------------------------------------------------------------------------------------------- the rules
def max_abs_spearman(codes: np.ndarray, ink: np.ndarray) -> float:
    return max(abs(float(spearmanr(codes[:, k], ink).statistic)) for k in range(codes.shape[1]))


def ink_gain_interval(codes: np.ndarray, untrained: np.ndarray, ink: np.ndarray) -> Interval:
    """Paired bootstrap over test points of max|Spearman(z_k, ink)| of the trained code minus the untrained one's."""
    def stat(idx: np.ndarray) -> float:
        i = idx.astype(int)
        return max_abs_spearman(codes[i], ink[i]) - max_abs_spearman(untrained[i], ink[i])

    return bootstrap_interval(stat, np.arange(len(ink)), n_boot=500,
                              method="paired percentile bootstrap over test points")


def mean_difference_interval(a: np.ndarray, b: np.ndarray, *, relative: bool = False) -> Interval:
    """Paired bootstrap over points of mean(a) - mean(b) (divided by mean(b) when relative)."""
    def stat(idx: np.ndarray) -> float:
        # resampling point indices keeps each point's two values together (a paired bootstrap)
        i = idx.astype(int)
        d = a[i].mean() - b[i].mean()
        return float(d / b[i].mean() if relative else d)

    return bootstrap_interval(stat, np.arange(len(a)), method="paired percentile bootstrap over test points")


def claim_codes_ink(params: dict) -> dict:
    text = "With t uniform, a code coordinate follows stroke width (ink) because of training"
    if diverged := diverged_gates(params, [CODES_EXPERIMENT]):
        return diverged_row(text, STATEMENTS["codes"], diverged)
    m = _metrics(params, CODES_EXPERIMENT)
    if m is None or "codes_per_point" not in m:
        return claim_row(text, STATEMENTS["codes"], "", "untested",
                         f"no per-point codes of {CODES_EXPERIMENT} in results (rerun score_repr evaluate)")
    iv = ink_gain_interval(np.asarray(m["codes_per_point"]), np.asarray(m["codes_untrained_per_point"]),
                           np.asarray(m["ink_per_point"]))
    return claim_row(text, STATEMENTS["codes"], f"max |Spearman(z_k, ink)| {m['ink_correlation_max']:.3f} trained vs "
                     f"{m['ink_correlation_max_untrained']:.3f} untrained encoder; gain {iv.text()} ({_where(m)}, "
                     f"{m['n_test']} test images)", decide(iv, 0.0),
                     "rule: yes iff the trained code's largest |Spearman| with the mean intensity (ink, a stroke-width "
                     "proxy) exceeds the untrained encoder's (a random conv encoder already follows ink closely), "
                     f"no iff below; figure results/score_repr/experiments/{CODES_EXPERIMENT}/figure.png",
                     interval=iv, gates=[loss_gate(CODES_EXPERIMENT, m)])


def claim_codes_class(params: dict) -> dict:
    text = "With t uniform, the codes carry some class structure (silhouette above its chance level)"
    if diverged := diverged_gates(params, [CODES_EXPERIMENT]):
        return diverged_row(text, STATEMENTS["codes"], diverged)
    m = _metrics(params, CODES_EXPERIMENT)
    if m is None or "silhouette_per_point" not in m:
        return claim_row(text, STATEMENTS["codes"], "", "untested",
                         f"no per-point silhouettes of {CODES_EXPERIMENT} in results (rerun score_repr evaluate)")
    iv = mean_difference_interval(np.asarray(m["silhouette_per_point"]), np.asarray(m["silhouette_chance_per_point"]))
    return claim_row(text, STATEMENTS["codes"], f"silhouette {m['silhouette']:.3f} vs {m['silhouette_chance']:.3f} "
                     f"with the labels permuted; difference {iv.text()} ({_where(m)}, {m['n_test']} test images)",
                     decide(iv, 0.0), "rule: yes iff the interval of silhouette minus its chance level (same codes, "
                     "labels permuted) lies above 0, no iff below", interval=iv, gates=[loss_gate(CODES_EXPERIMENT, m)])


def sweep_parts(rows: pd.DataFrame) -> tuple[dict[str, str], dict[str, Interval], float]:
    """The three parts of Fig. 4's shape from per-seed silhouettes: near chance at the smallest t (t interval of
    silhouette - chance over seeds within +-NEAR_CHANCE), and the largest interior mean above the smallest-t and
    largest-t means (t intervals of the per-seed differences; the peak is chosen on the same data, so its rise is
    read against 0 only)."""
    ts = sorted(rows["t"].unique())
    sil = {t: rows[rows["t"] == t].sort_values("seed")["silhouette"].to_numpy() for t in ts}
    chance = rows[rows["t"] == ts[0]].sort_values("seed")["silhouette_chance"].to_numpy()
    peak = max(ts[1:-1], key=lambda t: sil[t].mean())
    ivs = {"near chance at smallest t": mean_interval(sil[ts[0]] - chance, "t interval over seeds"),
           "rises": mean_interval(sil[peak] - sil[ts[0]], "t interval over seeds"),
           "falls": mean_interval(sil[peak] - sil[ts[-1]], "t interval over seeds")}
    verdicts = {"near chance at smallest t": within(ivs["near chance at smallest t"], -NEAR_CHANCE, NEAR_CHANCE),
                "rises": decide(ivs["rises"], 0.0), "falls": decide(ivs["falls"], 0.0)}
    return verdicts, ivs, peak


def claim_silhouette_vs_t(params: dict) -> dict:
    text = "Silhouette of the codes vs single training t: near zero at small t, higher at intermediate t, lower at large t"
    m = _load(sweep_results_dir() / "metrics.json")
    csv = sweep_results_dir() / "silhouette.csv"
    if m is None or not csv.is_file():
        return claim_row(text, STATEMENTS["silhouette_vs_t"], "", "untested", "the sweep did not run")
    if diverged := sweep_diverged_gates(m):
        return diverged_row(text, STATEMENTS["silhouette_vs_t"], diverged)
    rows = pd.read_csv(csv)
    where = (f"{m['dataset']} pooled {m['pool']}x, {len(m['seeds'])} runs per t, {m['n_iters']} iterations, "
             f"{m['n_test']} test images")
    if rows["t"].nunique() < 3 or len(m["seeds"]) < 2 or "dsm_test" not in rows:
        return claim_row(text, STATEMENTS["silhouette_vs_t"], where, "untested",
                         "needs at least 3 values of t, 2 seeds each, and each run's test loss (rerun score_repr sweep)")
    verdicts, ivs, peak = sweep_parts(rows)
    shown = "; ".join(f"{k}: {ivs[k].text()} -> {v}" for k, v in verdicts.items())
    return claim_row(text, STATEMENTS["silhouette_vs_t"], f"peak t={peak:g}; {shown} ({where})",
                     all_of(list(verdicts.values())),
                     f"rule: yes iff silhouette - chance at the smallest t lies within +-{NEAR_CHANCE} (the paper's "
                     "'near zero': no class information) and the largest interior mean exceeds both end means (each "
                     "interval above 0); no iff any part's interval excludes it; the columns show the rise; the "
                     f"paper's 10-point t grid on MNIST is {DECIDING_PROFILE}'s sweep; figure "
                     "results/score_repr/sweep/fig4_silhouette.png",
                     interval=ivs["rises"], gates=sweep_gates(rows.to_dict("records")))


def claim_sigma_uniform(params: dict) -> dict:
    text = "Training on high noise (sigma uniform, then a frozen-encoder fine-tune) separates classes better than t uniform"
    if diverged := diverged_gates(params, [SIGMA_EXPERIMENT, CODES_EXPERIMENT]):
        return diverged_row(text, STATEMENTS["sigma_uniform"], diverged)
    a, b = _metrics(params, SIGMA_EXPERIMENT), _metrics(params, CODES_EXPERIMENT)
    if a is None or b is None or "silhouette_per_point" not in a or "silhouette_per_point" not in b:
        return claim_row(text, STATEMENTS["sigma_uniform"], "", "untested",
                         f"needs per-point silhouettes of {SIGMA_EXPERIMENT} and {CODES_EXPERIMENT}")
    iv = mean_difference_interval(np.asarray(a["silhouette_per_point"]), np.asarray(b["silhouette_per_point"]))
    return claim_row(text, STATEMENTS["sigma_uniform"], f"silhouette sigma uniform {a['silhouette']:.3f} vs t uniform "
                     f"{b['silhouette']:.3f}; difference {iv.text()} ({_where(a)}, same test images, one run each)",
                     decide(iv, SILHOUETTE_MARGIN),
                     f"rule: yes iff the interval of the difference lies above {SILHOUETTE_MARGIN} (the seed-to-seed "
                     "spread of the sweep, which one run per model cannot show), no iff below",
                     interval=iv, gates=[loss_gate(SIGMA_EXPERIMENT, a), loss_gate(CODES_EXPERIMENT, b)])


def claim_constant_toy(params: dict) -> dict:
    text = "Eq. 6 on a Gaussian toy: a code of x_0 takes the DSM loss below the constant no unconditional model can beat"
    m = _load(toy_dir() / "metrics.json")
    if m is None or "code_conditioned_eval_loss_se" not in m:
        return claim_row(text, STATEMENTS["constant_toy"], "", "untested",
                         "no toy results with the loss's standard error (rerun score_repr toy)")
    c, u, k = m["constant_closed_form"], m["unconditional_eval_loss"], m["code_conditioned_eval_loss"]
    iv = normal_interval(k - c, m["code_conditioned_eval_loss_se"], m.get("n_eval") or params["score_repr"]["toy"]["n_eval"],
                         "normal, se over the evaluation draws")
    gate = threshold_gate("unconditional toy model reaches its optimum", abs(u - c) / c, TOY_OPTIMUM_TOLERANCE,
                          f"|unconditional loss - constant| / constant < {TOY_OPTIMUM_TOLERANCE:g}")
    return claim_row(text, STATEMENTS["constant_toy"], f"code-conditioned loss - constant = {iv.text()} (constant "
                     f"{c:.4f} closed form, Monte Carlo {m['constant_monte_carlo']:.4f}; unconditional {u:.4f}; "
                     f"N({m['mean']}, {m['variance']} I_{m['dim']}))", decide(iv, 0.0, above=False),
                     "rule: yes iff the interval of code-conditioned loss minus the constant lies below 0, no iff "
                     "above; figure results/score_repr/toy/eq6_toy.png", interval=iv, gates=[gate])


def claim_constant_images(params: dict) -> dict:
    text = "Eq. 6 on the training images: the code-conditioned model's loss falls below the constant"
    if diverged := diverged_gates(params, [CODES_EXPERIMENT]):
        return diverged_row(text, STATEMENTS["constant_images"], diverged)
    c = _metrics(params, CODES_EXPERIMENT)
    if c is None:
        return claim_row(text, STATEMENTS["constant_images"], "", "untested", f"needs experiment {CODES_EXPERIMENT}")
    iv = normal_interval(c["model_loss_at_constant_draws"] - c["constant_empirical"], c["model_minus_constant_stderr"],
                         c.get("constant_samples") or params["score_repr"]["defaults"]["evaluate"]["constant_samples"],
                         "normal, se over the paired (image, t, noise) draws")
    return claim_row(text, STATEMENTS["constant_images"], f"code-conditioned loss - constant = {iv.text()} (constant "
                     f"{c['constant_empirical']:.4f}; {_where(c)}, training images, same draws)",
                     decide(iv, 0.0, above=False),
                     "rule: yes iff the interval lies below 0, no iff above; a few hundred CPU steps leave the model "
                     f"far above the optimum, so a `no` here says more about the training budget than about the claim: "
                     f"{DECIDING_PROFILE} (80k iterations) decides it", interval=iv,
                     gates=[loss_gate(CODES_EXPERIMENT, c)])


def claim_denoise_gap(params: dict) -> dict:
    text = "Denoising x_t with the image's own code beats denoising with another image's code"
    if diverged := diverged_gates(params, [CODES_EXPERIMENT]):
        return diverged_row(text, STATEMENTS["denoise_gap"], diverged)
    m = _metrics(params, CODES_EXPERIMENT)
    if m is None or "denoise_own_per_image" not in m:
        return claim_row(text, STATEMENTS["denoise_gap"], "", "untested",
                         f"no per-image denoising losses of {CODES_EXPERIMENT} in results (rerun score_repr evaluate)")
    iv = mean_difference_interval(np.asarray(m["denoise_other_per_image"]), np.asarray(m["denoise_own_per_image"]),
                                  relative=True)
    return claim_row(text, STATEMENTS["denoise_gap"], f"DSM loss own {m['denoise_own']:.4f} vs other "
                     f"{m['denoise_other']:.4f}; (other - own) / own = {iv.text()} ({_where(m)}, test images)",
                     decide(iv, RELATIVE_MARGIN),
                     f"rule: yes iff the interval of (other - own) / own, each image's loss averaged over the t grid "
                     f"with the same noise for both codes, lies above {RELATIVE_MARGIN:.0%}, no iff below",
                     interval=iv, gates=[loss_gate(CODES_EXPERIMENT, m)])


def drop_interval(larger_div: list[float], smaller_div: list[float]) -> Interval:
    """(mean diversity at the smaller dimension - at the larger) / at the larger, normal interval over the codes."""
    a, b = np.asarray(smaller_div), np.asarray(larger_div)
    d = difference_interval(a.mean(), a.std(ddof=1) / len(a) ** 0.5, b.mean(), b.std(ddof=1) / len(b) ** 0.5,
                            min(len(a), len(b)), "normal, se over the fixed codes")
    s = b.mean()
    return Interval(d.estimate / s, d.low / s, d.high / s, d.n, d.method)


def claim_diversity(params: dict) -> dict:
    text = "Diversity of samples for a fixed code falls as the code dimension grows"
    if diverged := diverged_gates(params, DIVERSITY_BY_DIM):
        return diverged_row(text, STATEMENTS["diversity"], diverged)
    ms = {n: _metrics(params, n) for n in DIVERSITY_BY_DIM}
    if any(m is None for m in ms.values()):
        return claim_row(text, STATEMENTS["diversity"], "", "untested",
                         f"needs experiments {', '.join(DIVERSITY_BY_DIM)}")
    order = sorted(ms, key=lambda n: ms[n]["code_dim"])
    ivs = [drop_interval(ms[hi]["diversity_per_code"], ms[lo]["diversity_per_code"]) for lo, hi in zip(order, order[1:])]
    verdicts = [decide(iv, RELATIVE_MARGIN) for iv in ivs]
    shown = "; ".join(f"dim {ms[lo]['code_dim']} -> {ms[hi]['code_dim']}: {iv.text()}"
                      for (lo, hi), iv in zip(zip(order, order[1:]), ivs))
    weakest = min(ivs, key=lambda iv: iv.low)
    return claim_row(text, STATEMENTS["diversity"], f"relative drop of the mean pairwise distance of samples per fixed "
                     f"code: {shown} ({_where(ms[order[0]])})", all_of(verdicts),
                     f"rule: yes iff each drop's interval lies above {RELATIVE_MARGIN:.0%}, no iff any lies below; the "
                     f"columns show the smaller drop; samples that are noise cannot decide it: {DECIDING_PROFILE} "
                     "(1,000 sampler levels, 80k iterations, 16 codes x 64 samples) does", interval=weakest,
                     gates=[g for n in order for g in (loss_gate(n, ms[n]), sample_gate(n, ms[n]))])


def context(params: dict) -> list[str]:
    """What holds for any model, so it is no claim: shown in summary.md beside the claims."""
    lines = []
    u = _metrics(params, UNCONDITIONAL_EXPERIMENT)
    if divergence_in(u) is not None:
        lines.append(f"Eq. 6: not measured on the unconditional model: {divergence_in(u).text()}.")
    elif u is not None:
        lines.append(f"Eq. 6: an unconditional model's DSM loss cannot fall below the constant (it is the loss's "
                     f"infimum over every model without a code): the unconditional model's "
                     f"{u['model_loss_at_constant_draws']:.4f} vs constant {u['constant_empirical']:.4f} on the "
                     f"training images ({_where(u)}).")
    toy = _load(toy_dir() / "metrics.json")
    if toy is not None:
        lines.append(f"Eq. 6 toy: the unconditional model's loss {toy['unconditional_eval_loss']:.4f} vs the "
                     f"closed-form constant {toy['constant_closed_form']:.4f} (the toy gate: it reaches its optimum).")
    return lines


def evaluate(params: dict) -> pd.DataFrame:
    """This paper's claims table (columns ROW_COLUMNS), from results/score_repr only."""
    rows = [claim_codes_ink(params), claim_codes_class(params), claim_silhouette_vs_t(params),
            claim_sigma_uniform(params), claim_constant_toy(params), claim_constant_images(params),
            claim_denoise_gap(params), claim_diversity(params)]
    return pd.DataFrame(rows, columns=ROW_COLUMNS)
