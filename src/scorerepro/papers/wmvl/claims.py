"""Seed 004's claims as checkable statements, each a row of pipeline.evidence.claim_row: the number this run measured,
an estimate with its interval where the claim compares, and the gates its models had to pass. Thresholds come from
params wmvl.claims; every input is read from results/wmvl.

Gates ("the model has learned", per model):
- VAE: its AIS test NLL beats the best x-independent model (Bernoulli pixels at the training split's means, about
  200 nats on binarised digits), and the AIS estimate beats the model's own bound on the same images (negative ELBO
  for explicit posteriors, prior-proposal importance sampling for implicit ones): an AIS run that loses to a bound
  has not converged, and its ordering of models is not evidence.
- WAE: its MNIST-classifier FID is within FID_FLOOR_FACTOR x the floor of real held-out digits at the same n.
- Every model: its training ended with finite losses within their bounds. A model whose training diverged has no
  metrics (its metrics.json holds the record): each claim that compares it is untested, the note naming the
  divergence.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from scorerepro.config import experiment
from scorerepro.papers.wmvl.locations import results_dir, synthetic_dir
from scorerepro.pipeline.divergence import diverged_gate, divergence_in
from scorerepro.pipeline.evidence import (ROW_COLUMNS, Gate, Interval, bootstrap_interval, claim_row, decide,
                                          difference_interval, normal_interval, threshold_gate)
from scorerepro.training.divergence import Divergence

# A WAE whose FID is more than this multiple of the real digits' same-n floor draws blobs, not digits.
FID_FLOOR_FACTOR = 10.0
SRC_TABLE1 = "WMVL 6.2.1, Table 1"
SRC_TABLE2 = "WMVL 6.2.2, Table 2 (LeNet FID there; MNIST-classifier FID here: orderings only)"


def _load(path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def within(interval: Interval, low: float, high: float) -> str:
    """yes when the interval lies inside [low, high], no when it lies wholly outside, else inconclusive."""
    if not (np.isfinite(interval.low) and np.isfinite(interval.high)):
        return "inconclusive"
    if low <= interval.low and interval.high <= high:
        return "yes"
    return "no" if interval.high < low or interval.low > high else "inconclusive"


def _at_most(eps: float, limit: float) -> bool:
    """eps <= limit for grid values that are settings, not measurements: a float-rounding difference between the
    grid and the limit (1e-3 written two ways) must not drop a grid point."""
    return eps <= limit * (1 + 1e-4)


def slope_interval(rows: list[dict], estimator: str, cv: bool, eps_max: float) -> Interval:
    """Least-squares slope of log variance against log eps over eps <= eps_max, with its t interval."""
    from scipy import stats

    pts = [(r["eps"], r["variance"]) for r in rows
           if r["estimator"] == estimator and r["control_variate"] == cv and _at_most(r["eps"], eps_max)]
    e, v = np.log(np.array(pts)).T
    fit = stats.linregress(e, v)
    if len(e) < 3:
        return Interval(float(fit.slope), float("-inf"), float("inf"), len(e), "least squares (2 points: no interval)")
    half = float(stats.t.ppf(0.975, len(e) - 2)) * fit.stderr
    return Interval(float(fit.slope), float(fit.slope - half), float(fit.slope + half), len(e),
                    "least-squares slope, t interval")


def variance_slope(rows: list[dict], estimator: str, cv: bool, eps_max: float) -> float:
    return slope_interval(rows, estimator, cv, eps_max).estimate


def _banana_claims(c: dict) -> list[dict]:
    m = _load(synthetic_dir("banana") / "metrics.json")
    src = "WMVL 6.1.1, Fig. 1, E.1.1 (banana)"
    if m is None:
        return [claim_row("banana bias/variance", src, "", "untested", "results/wmvl/synthetic/banana missing")]
    rows, s = m["rows"], m["settings"]
    size = f"K={s['K']}, M={s['M']}"
    out = [_bias_row(m, c, src, size)]
    tol = c["slope_tolerance"]
    for est in ("mvl", "dsm"):
        no_cv = slope_interval(rows, est, False, c["slope_eps_max"])
        cv = slope_interval(rows, est, True, c["slope_eps_max"])
        out.append(claim_row(f"{est.upper()} without the control variate: variance grows as 1/eps as eps -> 0", src,
                             f"slope of log variance vs log eps = {no_cv.text()} (eps <= {c['slope_eps_max']:g}, "
                             f"{size})", within(no_cv, -1 - tol, -1 + tol),
                             f"rule: yes iff the slope's interval lies within -1 +- {tol:g}, no iff wholly outside",
                             interval=no_cv))
        out.append(claim_row(f"{est.upper()} with the control variate: variance stays flat as eps -> 0", src,
                             f"slope of log variance vs log eps = {cv.text()} (eps <= {c['slope_eps_max']:g}, {size})",
                             within(cv, -tol, tol),
                             f"rule: yes iff the slope's interval lies within 0 +- {tol:g}, no iff wholly outside",
                             interval=cv))
        out.append(_z_row(m, est, c, src))
    return out


def _bias_row(m: dict, c: dict, src: str, size: str) -> dict:
    """The relative mean difference MVL - SSM at each small eps; its z statistic gives the standard error."""
    small = [r for r in m["rows"] if r["estimator"] == "mvl" and r["control_variate"] and _at_most(r["eps"], c["small_eps"])]
    n = m["settings"]["K"] * m["settings"]["M"]
    scale = abs(m["exact_sm_mean"])
    worst = max(small, key=lambda r: abs(r["mean_minus_ssm"]))
    se = abs(worst["mean_minus_ssm"] / worst["z"]) if worst["z"] else 0.0
    iv = normal_interval(abs(worst["mean_minus_ssm"]) / scale, se / scale, n, "normal, se from the paired z-test")
    return claim_row("MVL (with CV) is nearly unbiased for small eps", src,
                     f"largest |mean(MVL) - mean(SSM)| / |J_SM| over eps <= {c['small_eps']:g}: {iv.text()} at eps = "
                     f"{worst['eps']:g} ({size})", decide(iv, c["bias_rel_max"], above=False),
                     f"rule: yes iff the interval lies below {c['bias_rel_max']:g}, no iff above it; an inconclusive "
                     f"row is decided by paper_mnist.yaml's banana study (M=50,000: a tenfold narrower interval)",
                     interval=iv)


def _z_row(m: dict, est: str, c: dict, src: str) -> dict:
    """The paper's test reads "no difference" when p > alpha; here the mean difference's interval must lie within
    bias_rel_max of |J_SM| for a yes (equivalence), and exclude 0 for a no."""
    s = m["settings"]
    r = next(r for r in m["rows"] if r["estimator"] == est and r["control_variate"] and r["eps"] == s["z_test_eps"])
    se = abs(r["mean_minus_ssm"] / r["z"]) if r["z"] else 0.0
    scale = abs(m["exact_sm_mean"])
    iv = normal_interval(r["mean_minus_ssm"] / scale, se / scale, s["K"] * s["M"], "normal, se from the paired z-test")
    verdict = "no" if (iv.low > 0 or iv.high < 0) else within(iv, -c["bias_rel_max"], c["bias_rel_max"])
    return claim_row(f"z-test finds no difference between {est.upper()} (with CV) and SSM means "
                     f"(paper: p = {'0.48' if est == 'mvl' else '0.19'})", src,
                     f"z = {r['z']:.2f}, p = {r['p_value']:.3f} at eps = {r['eps']:g}; (mean - SSM) / |J_SM| = "
                     f"{iv.text()}", verdict,
                     f"rule: no iff the interval excludes 0 (p < {1 - 0.95:.2g}); yes iff it lies within +- "
                     f"{c['bias_rel_max']:g} (no difference larger than the bias tolerance); else inconclusive, "
                     f"decided by paper_mnist.yaml's banana study (M=50,000)",
                     interval=iv)


def _cosine_claims() -> list[dict]:
    m = _load(synthetic_dir("cosine") / "metrics.json")
    src = "WMVL E.1.2, Fig. 3 (cosine)"
    text = "CD-1 with the control variate reaches a lower score-matching loss than without at small step sizes"
    if m is None:
        return [claim_row(text, src, "", "untested", "results/wmvl/synthetic/cosine missing")]
    df = pd.DataFrame(m["rows"])
    step = min(m["settings"]["step_sizes"])
    at = df[df["step_size"] == step]
    no_cv = at[~at["control_variate"]]["sm_loss"].to_numpy(dtype=float)
    cv = at[at["control_variate"]]["sm_loss"].to_numpy(dtype=float)
    if not (np.isfinite(no_cv).all() and np.isfinite(cv).all()):
        return [claim_row(text, src, f"non-finite losses at step {step:g}: without CV {no_cv.tolist()}, with CV "
                          f"{cv.tolist()}", bool(np.isfinite(cv).all()), "rule: a run that diverged counts as worse")]
    iv = difference_interval(no_cv.mean(), no_cv.std(ddof=1) / len(no_cv) ** 0.5, cv.mean(),
                             cv.std(ddof=1) / len(cv) ** 0.5, len(cv), "normal, se over independent runs")
    return [claim_row(text, src, f"at step {step:g}: loss without CV - with CV = {iv.text()} ({len(cv)} runs each; all "
                      f"step sizes in results/wmvl/summary.csv)", decide(iv, 0.0),
                      "rule: yes iff the interval of (without - with) lies above 0, no iff below", interval=iv)]


def _sphere_claims(c: dict) -> list[dict]:
    out = []
    for study, what, src in (("circle", "S^1, two von Mises", "WMVL 6.1.2, Fig. 2"),
                             ("sphere", "S^2, four vMF", "WMVL E.1.3, Fig. 4")):
        m = _load(synthetic_dir(study) / "metrics.json")
        text = f"Riemannian MVL learns the density on {what}"
        if m is None:
            out.append(claim_row(text, src, "", "untested", f"{study} missing"))
            continue
        kl = m["kl_true_to_model"]
        out.append(claim_row(text, src, f"KL(true || learned) = {kl:.4f} nats, max |log-density error| = "
                             f"{m['max_abs_log_density_error']:.3f} ({m['settings']['n_iters']} iterations)",
                             bool(kl <= c["kl_max"]),
                             f"rule: KL <= {c['kl_max']:g} nats; the KL is a quadrature on a grid (no sampling "
                             f"noise) of one training run, so it carries no interval"))
    return out


def _models(params: dict) -> dict[str, dict]:
    """experiment name -> its model settings, evaluated metrics (empty where the evaluate stage did not run or the
    training diverged) and `divergence` (the record of a diverged training, else None)."""
    out = {}
    for name in params["wmvl"]["experiments"]:
        exp = experiment(params, "wmvl", name)
        metrics = _load(results_dir(name) / "metrics.json") or {}
        diverged = divergence_in(metrics)
        out[name] = {**exp["model"], "metrics": {} if diverged else metrics, "divergence": diverged}
    return out


def diverged_claim(text: str, source: str, diverged: dict[str, Divergence], note: str = "") -> dict:
    """A claim that compares models of which some (name -> Divergence) diverged in training: nothing is compared, so
    the verdict before the gates is inconclusive; their failed gates make it untested, the note naming each
    divergence."""
    return claim_row(text, source, f"no comparison: {', '.join(diverged)} diverged in training", "inconclusive",
                     note, gates=[diverged_gate(name, record) for name, record in diverged.items()])


def _diverged(models: dict[str, dict], names: list[str]) -> dict[str, Divergence]:
    return {n: models[n]["divergence"] for n in names if models[n].get("divergence") is not None}


def vae_gates(name: str, m: dict) -> list[Gate]:
    """The two gates of a VAE's AIS NLL (see the module docstring); a missing number fails its gate."""
    nll = m.get("nll_ais")
    return [threshold_gate(f"{name} beats x-independent pixels", nll, m.get("nll_factorial", float("nan")),
                           "AIS NLL < NLL of Bernoulli pixels at the training split's means"),
            threshold_gate(f"{name} AIS beats its bound", nll, m.get("nll_bound", float("nan")),
                           f"AIS NLL < {m.get('nll_bound_kind', 'bound')} NLL on the same images")]


def wae_gate(name: str, m: dict) -> Gate:
    fid, floor = m.get("fid_mnist_classifier"), m.get("fid_mnist_classifier_real_same_n")
    if fid is None or floor is None:
        return Gate(f"{name} FID near the real floor", False, "not measured", f"FID < {FID_FLOOR_FACTOR:g}x floor")
    return threshold_gate(f"{name} FID near the real floor", fid, FID_FLOOR_FACTOR * floor,
                          f"FID < {FID_FLOOR_FACTOR:g}x the same-n real-digit floor ({floor:.3g})")


def lowest_nll_interval(log_px: np.ndarray, best: int) -> Interval:
    """log_px [n_test, n_models], the same test images in every column: the paired bootstrap interval of
    min over other models of (mean NLL(other) - mean NLL(best)); above 0 means `best` has the lowest NLL."""
    others = [j for j in range(log_px.shape[1]) if j != best]

    def stat(images: np.ndarray) -> float:
        # resampling image indices keeps each image's models together (a paired bootstrap)
        nll = -log_px[images.astype(int)].mean(0)
        return float(min(nll[j] - nll[best] for j in others))

    return bootstrap_interval(stat, np.arange(log_px.shape[0]), method="paired percentile bootstrap over test images")


def table1_claim(models: dict[str, dict], dim: int) -> dict:
    text = f"The implicit hyperspherical VAE has the lowest test NLL (n_z={dim})"
    diverged = _diverged(models, [n for n, v in models.items() if v["kind"].startswith("vae")
                                  and v["latent_dim"] == dim])
    if diverged:
        return diverged_claim(text, SRC_TABLE1, diverged)
    vaes = {n: v for n, v in models.items() if v["kind"].startswith("vae") and v["latent_dim"] == dim
            and "log_px_ais_per_image" in v["metrics"]}
    target = [n for n, v in vaes.items() if v["kind"] == "vae_implicit" and v["latent"] == "sphere"]
    if len(vaes) < 4 or not target:
        return claim_row(text, SRC_TABLE1, "", "untested", "not all four VAEs of this latent size were evaluated "
                         "with per-image AIS log-likelihoods in this profile")
    names = sorted(vaes)
    log_px = np.column_stack([vaes[n]["metrics"]["log_px_ais_per_image"] for n in names])
    iv = lowest_nll_interval(log_px, names.index(target[0]))
    listing = ", ".join(f"{n} {vaes[n]['metrics']['nll_ais']:.2f} (bound {vaes[n]['metrics'].get('nll_bound', 0):.2f})"
                        for n in names)
    steps = vaes[names[0]]["metrics"].get("ais", {}).get("n_steps")
    gates = [g for n in names for g in vae_gates(n, vaes[n]["metrics"])]
    return claim_row(text, SRC_TABLE1, f"AIS NLL ({steps} steps) on {log_px.shape[0]} test images: {listing}; "
                     f"min over others of NLL(other) - NLL({target[0]}) = {iv.text()}", decide(iv, 0.0),
                     "rule: yes iff the interval lies above 0, no iff below", interval=iv, gates=gates)


def fid_claim(models: dict[str, dict], better: dict, worse: dict, text: str) -> dict:
    """FID(worse) - FID(better) with the classifier FID's bootstrap standard errors; above 0 reads yes."""
    a, b = _compared(models, better), _compared(models, worse)
    missing = "the profile's experiments do not include both models"
    diverged = _diverged(models, a[:1] + b[:1])
    if diverged:
        return diverged_claim(text, SRC_TABLE2, diverged, "" if a and b else missing)
    if not a or not b:
        return claim_row(text, SRC_TABLE2, "", "untested", missing)
    ma, mb = models[a[0]]["metrics"], models[b[0]]["metrics"]
    if "fid_mnist_classifier_se" not in ma or "fid_mnist_classifier_se" not in mb:
        return claim_row(text, SRC_TABLE2, f"FID {ma.get('fid_mnist_classifier')} vs {mb.get('fid_mnist_classifier')}",
                         "untested", "no bootstrap standard error of the FID in these results: rerun wmvl evaluate")
    iv = difference_interval(mb["fid_mnist_classifier"], mb["fid_mnist_classifier_se"], ma["fid_mnist_classifier"],
                             ma["fid_mnist_classifier_se"], min(ma["n_samples"], mb["n_samples"]),
                             "normal, bootstrap se of each FID over its samples")
    return claim_row(text, SRC_TABLE2, f"FID({b[0]}) - FID({a[0]}) = {iv.text()}", decide(iv, 0.0),
                     "rule: yes iff the interval lies above 0, no iff below", interval=iv,
                     gates=[wae_gate(a[0], ma), wae_gate(b[0], mb)])


def _compared(models: dict[str, dict], settings: dict) -> list[str]:
    """The models with these settings that were evaluated or diverged in training, in params order."""
    return [n for n, v in models.items() if all(v[k] == x for k, x in settings.items())
            and (v["metrics"] or v.get("divergence") is not None)]


def _autoencoder_claims(params: dict) -> list[dict]:
    models = _models(params)
    dims = sorted({v["latent_dim"] for v in models.values() if v["kind"].startswith("vae")})
    out = [table1_claim(models, d) for d in dims] or [
        claim_row("The implicit hyperspherical VAE has the lowest test NLL", SRC_TABLE1, "", "untested",
                  "no VAE experiment in this profile")]
    if 32 not in dims:
        out.append(claim_row("The implicit hyperspherical VAE has the lowest test NLL (n_z=32)", SRC_TABLE1, "",
                             "untested", "n_z=32 VAEs are in the paper profile only (paper_mnist.yaml decides it)"))
    for kind in ("wae_mvl", "wae_gan"):
        out.append(fid_claim(models, {"kind": kind, "latent": "sphere"}, {"kind": kind, "latent": "euclidean"},
                             f"WAE ({kind}): the spherical prior gives a lower FID than the Gaussian one"))
    for latent in ("sphere", "euclidean"):
        out.append(fid_claim(models, {"kind": "wae_mvl", "latent": latent}, {"kind": "wae_gan", "latent": latent},
                             f"WAE ({latent} prior): MVL gives a lower FID than WAE-GAN"))
    out.append(claim_row("CelebA WAE (n_z=32): MVL FID 50.82 < WAE-GAN 51.20", "WMVL E.2.1", "", "untested",
                         "CelebA needs a download and a GPU-scale run; the paper profile paper_celeba.yaml decides it"))
    return out


def evaluate(params: dict) -> pd.DataFrame:
    """This paper's claims table (columns ROW_COLUMNS), from results/wmvl only."""
    c = params["wmvl"]["claims"]
    rows = _banana_claims(c) + _cosine_claims() + _sphere_claims(c) + _autoencoder_claims(params)
    return pd.DataFrame(rows, columns=ROW_COLUMNS)
