"""The six claims of Creswell et al. as measured numbers with verdicts computed by the rule written in each row's
note, read only from results/ae_mcmc/<model>/chains.json (evaluate). Claims are judged on the first batch-norm mode
of ae_mcmc.chains.bn_modes (the paper's: train); the other mode's number is in summary.csv.

Every model must pass its sanity gate (reconstruction_gate: it decodes test digits back, well below the mean
image's error and at full contrast), else the claims it feeds are `untested`. Every comparison carries a 95%
interval and reads yes/no only when the interval clears the rule's threshold, else `inconclusive`. A claim "for
every model" is `yes` when every model's interval says yes, `no` when some model's says no, else `inconclusive`;
the interval shown is the least certain model's.

A model whose training diverged has no metrics (its chains.json carries the record, scorerepro.pipeline.divergence):
its gate is diverged_gate, so every claim it feeds is `untested`, the note naming the divergence; those claims are
measured on the other models, and claims it does not feed are decided as before.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from scorerepro.papers.ae_mcmc.experiment import experiment_settings
from scorerepro.papers.ae_mcmc.locations import results_dir
from scorerepro.pipeline.divergence import diverged_gate, divergence_in
from scorerepro.pipeline.evidence import (ROW_COLUMNS, Gate, Interval, claim_row, decide, difference_interval,
                                          normal_interval)

SOURCE = "Creswell et al. 2017"
DENOISING_PAIRS = (("dvae", "vae"), ("daae", "aae"))
#: The gate: reconstruction error below this fraction of the mean training image's error...
MAX_RATIO_TO_MEAN_IMAGE = 0.5
#: ...and the brightest decoded pixel, averaged over test digits, above this (digits are drawn at full contrast).
MIN_MAX_PIXEL = 0.9
FID_METHOD = "normal, bootstrap SEs of both classifier FIDs (treated as independent)"


def reconstruction_gate(name: str, mode_metrics: dict) -> Gate:
    """The model has learned: d(e(x_test)) is well below the mean image's squared error and reaches full contrast.
    An untrained or capped decoder (every output below sigmoid of a negative bias) fails the contrast part."""
    rec = mode_metrics.get("reconstruction")
    if rec is None:
        return Gate(f"{name} reconstructs test digits", False, "not measured",
                    "chains.json has no reconstruction: rerun `scorerepro ae_mcmc chains`")
    ratio, top = rec["ratio_to_mean_image"], rec["max_pixel_mean"]
    ok = ratio < MAX_RATIO_TO_MEAN_IMAGE and top > MIN_MAX_PIXEL
    return Gate(f"{name} reconstructs test digits", bool(ok),
                f"MSE {ratio:.3g} x the mean image's, brightest pixel {top:.3g}",
                f"MSE(d(e(x)), x) < {MAX_RATIO_TO_MEAN_IMAGE:g} x MSE(mean image, x) and mean brightest decoded "
                f"pixel > {MIN_MAX_PIXEL:g}")


def combine(verdicts: list[str]) -> str:
    """A claim for every model: yes when all say yes, no when any says no, else inconclusive."""
    if verdicts and all(v == "yes" for v in verdicts):
        return "yes"
    return "no" if "no" in verdicts else "inconclusive"


def least_certain(intervals: dict[str, Interval], threshold: float, above: bool) -> tuple[str, Interval]:
    """The model whose interval reaches furthest toward the wrong side of the threshold."""
    def reach(item):
        iv = item[1]
        edge = iv.low if above else -iv.high
        return edge if math.isfinite(edge) else -math.inf
    return min(intervals.items(), key=reach)


def decide_every(intervals: dict[str, Interval], threshold: float, above: bool) -> tuple[str, str, Interval | None]:
    """(the verdict for every model, the least certain one's name, its interval). With no model measured (each one
    the claim uses diverged) it is inconclusive with no interval, which those models' failed gates make untested."""
    if not intervals:
        return "inconclusive", "none measured", None
    name, iv = least_certain(intervals, threshold, above)
    return combine([decide(v, threshold, above=above) for v in intervals.values()]), name, iv


def untested_row(claim: str, source: str, measured: str, why: str, unmeasured: list[Gate]) -> dict:
    """A claim left untested for `why`; the gates of the models it uses that have no metrics (they diverged) come
    first in its note, since those models could not have been measured whatever else was there."""
    return claim_row(claim, source, measured, "untested", "; ".join([g.text() for g in unmeasured] + [why]),
                     gates=unmeasured)


def unmeasured_gates(used, m: dict, gates: dict[str, Gate]) -> list[Gate]:
    """The gates of the models in `used` that have no metrics in `m`."""
    return [gates[n] for n in used if n not in m]


def _fid(sample: dict) -> tuple[float | None, float]:
    se = sample.get("fid_mnist_classifier_se")
    return sample.get("fid_mnist_classifier"), float("nan") if se is None else float(se)


def fid_change(before: dict, after: dict) -> Interval:
    """FID(after) - FID(before) with both bootstrap SEs."""
    (a, se_a), (b, se_b) = _fid(before), _fid(after)
    return difference_interval(b, se_b, a, se_a, min(before.get("n_samples", 0), after.get("n_samples", 0)),
                               FID_METHOD)


def mean_std_interval(enc: dict) -> Interval:
    """The mean over dimensions of the per-dimension std of the encodings, with its normal-theory standard error
    (std_i / sqrt(2 (n - 1)) per dimension, dimensions independent)."""
    stds, n = enc["per_dim_std"], enc["n"]
    se = math.sqrt(sum(s * s / (2 * (n - 1)) for s in stds)) / len(stds)
    return normal_interval(sum(stds) / len(stds), se, n, "normal, sampling SE of each dimension's std")


def _claim_encoders(m: dict, kinds: dict, gates: dict, prof: str) -> dict:
    adv = [n for n in kinds if kinds[n] == "aae"]
    enc = {n: m[n]["encodings"] for n in m}
    measured = "; ".join(f"{n}: mean per-dim std {enc[n]['mean_std']:.3f}, FD to N(0,I) "
                         f"{enc[n]['frechet_to_prior']:.2f}" if n in m else f"{n}: diverged" for n in kinds)
    claim = "The AAE and DAAE encoders do not reach the prior: per-dimension std of e(x_test) below 1"
    if not adv:
        return claim_row(claim, f"{SOURCE}, Fig. 4 caption", measured, "untested", f"{prof}: no adversarial model run")
    ivs = {n: mean_std_interval(enc[n]) for n in adv if n in m}
    holds, name, iv = decide_every(ivs, 1.0, above=False)
    return claim_row(claim, f"{SOURCE}, Fig. 4 caption", measured, holds,
                     f"{prof}; rule: the interval of the mean per-dimension std of e(x_test) lies below 1 for every "
                     f"adversarial model ({', '.join(adv)}; shown: {name}); FD to N(0, I) of every model for context",
                     interval=iv, gates=[gates[n] for n in adv])


def _claim_convergence(m: dict, gates: dict, prof: str, t0: int, t_last: int, n_chains: int) -> dict:
    fd = {n: m[n]["latent_frechet_to_encodings"] for n in m}
    se = {n: m[n].get("latent_frechet_to_encodings_se", {}) for n in m}
    measured = "; ".join(f"{n}: " + ", ".join(f"t={t} {v:.3f}" for t, v in fd[n].items()) for n in m)
    method = "normal, bootstrap SEs over the chains of both Frechet distances"
    ivs = {n: difference_interval(fd[n][str(t_last)], float(se[n].get(str(t_last), math.nan)), fd[n][str(t0)],
                                  float(se[n].get(str(t0), math.nan)), n_chains, method) for n in m}
    holds, name, iv = decide_every(ivs, 0.0, above=False)
    return claim_row(f"The chain converges to the learned latent distribution: the Frechet distance between {{z_t}} "
                     f"and {{e(x_test)}} shrinks from t={t0} to t={t_last}", f"{SOURCE}, Theorem 1", measured, holds,
                     f"{prof}; rule: the interval of FD(t={t_last}) - FD(t={t0}) lies below 0 for every model "
                     f"(shown: {name})", interval=iv, gates=list(gates.values()))


def _claim_mcmc_improves(m: dict, gates: dict, prof: str, i0: int, i_last: int) -> dict:
    claim = (f"MCMC improves generations: samples after t={i_last} steps are better than samples decoded from the "
             f"prior (t={i0})")
    s = {n: (m[n]["samples"][str(i0)], m[n]["samples"][str(i_last)]) for n in m}
    if any(_fid(a)[0] is None or _fid(b)[0] is None for a, b in s.values()):
        return untested_row(claim, f"{SOURCE}, Fig. 4, 7", "",
                            f"{prof}: no MNIST classifier for this dataset, and Inception FID is not run",
                            unmeasured_gates(gates, m, gates))
    measured = "; ".join(f"{n}: FID t={i0} {_fid(a)[0]:.2f} -> t={i_last} {_fid(b)[0]:.2f}" for n, (a, b) in s.items())
    if all(a.get("parzen_log_likelihood") is not None for a, _ in s.values()):
        measured += " | Parzen LL: " + "; ".join(f"{n} {a['parzen_log_likelihood']:.1f} -> "
                                                 f"{b['parzen_log_likelihood']:.1f}" for n, (a, b) in s.items())
    ivs = {n: fid_change(a, b) for n, (a, b) in s.items()}
    holds, name, iv = decide_every(ivs, 0.0, above=False)
    return claim_row(claim, f"{SOURCE}, Fig. 4, 7", measured, holds,
                     f"{prof}; rule: the interval of FID(t={i_last}) - FID(t={i0}) (MNIST classifier) lies below 0 "
                     f"for every model (shown: {name}); Parzen log-likelihood reported, not judged (the authors' "
                     f"follow-up saw it fall with MCMC)", interval=iv, gates=list(gates.values()))


def _claim_movement(m: dict, gates: dict, prof: str) -> dict:
    mv = {n: m[n]["movement_vs_realism"] for n in m}
    measured = "; ".join(f"{n}: rho(NN distance, movement) {v['nearest_train_distance']['rho']:+.2f} "
                         f"(p={v['nearest_train_distance']['p_value']:.1g})"
                         + (f", rho(confidence, movement) {v['classifier_confidence']['rho']:+.2f}"
                            if "classifier_confidence" in v else "") for n, v in mv.items())
    sp = {n: v["nearest_train_distance"] for n, v in mv.items()}
    ivs = {n: Interval(d["rho"], d.get("ci_low", -math.inf), d.get("ci_high", math.inf), d["n"],
                       "scipy pearsonr interval on the ranks (Fisher z)") for n, d in sp.items()}
    holds, name, iv = decide_every(ivs, 0.0, above=True)
    return claim_row("Unrealistic samples move a lot under one MCMC step, realistic ones little",
                     f"{SOURCE}, section 5, Fig. 4", measured, holds,
                     f"{prof}; rule: for every model, the interval of the Spearman correlation between x_0's pixel "
                     f"distance to its nearest training image and the distance x_0 -> x_1 lies above 0 (shown: "
                     f"{name})", interval=iv, gates=list(gates.values()))


def _claim_denoising(m: dict, gates: dict, prof: str, i0: int, i_last: int) -> dict:
    claim = ("Denoising models' advantage shows only after MCMC: the FID gap denoising minus plain is negative at "
             f"t={i_last} and below the gap at t={i0}")
    pairs = [(d, b) for d, b in DENOISING_PAIRS if d in gates and b in gates]
    measurable = [p for p in pairs if all(n in m for n in p)]
    f = {n: {t: _fid(m[n]["samples"][str(t)]) for t in (i0, i_last)} for n in m}
    if not measurable or any(f[n][t][0] is None for p in measurable for n in p for t in (i0, i_last)):
        return untested_row(claim, f"{SOURCE}, section 5", "",
                            f"{prof}: needs both models of a denoising pair and the classifier FID",
                            unmeasured_gates([n for p in pairs for n in p], m, gates))
    verdicts, ivs, parts = [], {}, []
    for d, b in measurable:
        n = min(m[x]["samples"][str(t)].get("n_samples", 0) for x in (d, b) for t in (i0, i_last))
        gap = {t: difference_interval(f[d][t][0], f[d][t][1], f[b][t][0], f[b][t][1], n, FID_METHOD)
               for t in (i0, i_last)}
        se_dd = math.sqrt(sum(f[x][t][1] ** 2 for x in (d, b) for t in (i0, i_last)))
        dd = normal_interval(gap[i_last].estimate - gap[i0].estimate, se_dd, n, FID_METHOD)
        both = [decide(gap[i_last], 0.0, above=False), decide(dd, 0.0, above=False)]
        verdicts.append("yes" if both == ["yes", "yes"] else "no" if "no" in both else "inconclusive")
        ivs[f"{d}-{b} at t={i_last}"] = gap[i_last]
        ivs[f"{d}-{b} change"] = dd
        parts.append(f"FID {d}-{b}: t={i0} {gap[i0].estimate:+.2f}, t={i_last} {gap[i_last].estimate:+.2f}")
    name, iv = least_certain(ivs, 0.0, above=False)
    return claim_row(claim, f"{SOURCE}, section 5, Fig. 4", "; ".join(parts), combine(verdicts),
                     f"{prof}; rule: for each pair the interval of gap(t={i_last}) lies below 0 and that of "
                     f"gap(t={i_last}) - gap(t={i0}) lies below 0 (shown: {name})", interval=iv,
                     gates=[gates[n] for p in pairs for n in p])


def _claim_interpolation(m: dict, gates: dict, prof: str, n_steps: int) -> dict:
    ip = {n: m[n]["interpolation"] for n in m}
    if any(_fid(v["before"])[0] is None for v in ip.values()):
        return untested_row("MCMC removes interpolation artefacts", f"{SOURCE}, Fig. 2, 5, 6, 8", "",
                            f"{prof}: no MNIST classifier for this dataset", unmeasured_gates(gates, m, gates))
    steps = next(iter(ip.values()))["steps"] if ip else n_steps
    measured = "; ".join(f"{n}: FID {_fid(v['before'])[0]:.2f} -> {_fid(v['after'])[0]:.2f}" for n, v in ip.items())
    ivs = {n: fid_change(v["before"], v["after"]) for n, v in ip.items()}
    holds, name, iv = decide_every(ivs, 0.0, above=False)
    return claim_row(f"MCMC removes interpolation artefacts: slerp points score better after {steps} steps",
                     f"{SOURCE}, Fig. 2, 5, 6, 8", measured, holds,
                     f"{prof}; rule: the interval of the classifier FID of the interior slerp points after {steps} "
                     f"MCMC steps minus before lies below 0 for every model (shown: {name})", interval=iv,
                     gates=list(gates.values()))


def evaluate_claims(params: dict, metrics: dict[str, dict]) -> list[dict]:
    """metrics: {experiment: chains.json, or the record in its place of a model whose training diverged}. One row
    per claim."""
    ch = params["ae_mcmc"]["chains"]
    mode, other = ch["bn_modes"][0], (ch["bn_modes"][1:] or [None])[0]
    prof = f"{params['profile']} profile, BN {mode} mode"
    t0, t_last = ch["steps"][0], ch["steps"][-1]
    i0, i_last = ch["image_steps"][0], ch["image_steps"][-1]
    diverged = {n: r for n, v in metrics.items() if (r := divergence_in(v)) is not None}
    kinds = {n: experiment_settings(params, n)["kind"] if n in diverged else v["kind"] for n, v in metrics.items()}
    m = {n: v["modes"][mode] for n, v in metrics.items() if n not in diverged}
    gates = {n: diverged_gate(n, diverged[n]) if n in diverged else reconstruction_gate(n, m[n]) for n in metrics}
    rows = [_claim_encoders(m, kinds, gates, prof), _claim_convergence(m, gates, prof, t0, t_last, ch["n_samples"]),
            _claim_mcmc_improves(m, gates, prof, i0, i_last), _claim_movement(m, gates, prof),
            _claim_denoising(m, gates, prof, i0, i_last),
            _claim_interpolation(m, gates, prof, ch["interpolation"]["steps"])]
    if not all(gates[n].passed for n in m):  # advice for models that trained but did not learn
        for r in rows:
            if r["holds"] == "untested":
                r["note"] += ("; decided where every model passes its gate: train longer or wider (the quick "
                              "profile's budget does not reach it for the denoising models), or the paper_mnist "
                              "profile (nf 64, 20 epochs)")
    if other:
        for r in rows:
            r["note"] += f"; BN {other}-mode numbers in results/ae_mcmc/summary.csv"
    return rows


def load_chain_metrics(params: dict) -> dict[str, dict]:
    """Every model's results/ae_mcmc/<model>/chains.json, or an error naming the stage that writes a missing one."""
    metrics = {}
    for name in params["ae_mcmc"]["experiments"]:
        path = results_dir(name) / "chains.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `scorerepro ae_mcmc chains {name}`")
        metrics[name] = json.loads(path.read_text())
    return metrics


def evaluate(params: dict) -> pd.DataFrame:
    """Every claim, read from results/ae_mcmc/<model>/chains.json only."""
    return pd.DataFrame(evaluate_claims(params, load_chain_metrics(params)), columns=ROW_COLUMNS)
