"""Stage `infusion evaluate`: everything measured on the main model, and its figures.

- Stochastic lower bound (Eq. 3) and importance-sampling estimate (log-mean-exp of the same k chains) of log p(x)
  on dequantised test and training examples, mean +- std over `repetitions` evaluations (Table 2), and the
  isotropic-output variant (the last step's per-pixel variance replaced by one scalar, fitted by maximum
  likelihood on training chains -- an evaluation-time variant, not a retrained isotropic model).
- The sanity gate's numbers: each test point's bound (mean over repetitions) beside the log-likelihood of the best
  output a transition could learn from the training images if it ignored its input
  (model.best_independent_log_likelihood).
- Parzen-window log-likelihood of the samples (the last step's means) on the test split: sigma chosen on a
  validation set held out of the training split and never trained on (Goodfellow et al.), and at the paper's
  fixed 0.17.
- MNIST-classifier FID / IS (and Inception FID where eval.inception) of the samples, by scorerepro.pipeline.scoring.
- Figures: the model's sampling chain (Fig. 1), infusion chains (Fig. 2), samples with their nearest training image
  (Fig. 4), more sampling steps than training steps, inpainting with the top half clamped (Fig. 5).
Writes results/infusion/metrics.json, results/infusion/figures/ and samples/infusion/main/samples.pt. When the main
model's training diverged, each of them says so instead (metrics.json: the record, with the model's dataset and
setting for its leaderboard row; the folders: diverged.json).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from scorerepro.core.fileio import save_figure, save_torch, write_json  # noqa: E402
from scorerepro.core.seeding import derive_seed  # noqa: E402
from scorerepro.metrics.parzen import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_with_validation  # noqa: E402
from scorerepro.papers.infusion.data import dequantise, hold_out_validation, load_images  # noqa: E402
from scorerepro.papers.infusion.model import (best_independent_log_likelihood, calibrate_batch_norm,  # noqa: E402
                                              infusion_chain_means, log_likelihood_estimates, sample_chain)
from scorerepro.papers.infusion.experiment import describe, experiment_settings, schedule_of  # noqa: E402
from scorerepro.papers.infusion.locations import MAIN, RESULTS, model_dir, samples_dir  # noqa: E402
from scorerepro.papers.infusion.training import load_trained  # noqa: E402
from scorerepro.pipeline.common import resolve_device, to_uint8  # noqa: E402
from scorerepro.pipeline.divergence import marker, upstream_divergence, write_diverged_outputs  # noqa: E402
from scorerepro.pipeline.scoring import score  # noqa: E402
from scorerepro.plots.images import fit_title  # noqa: E402
from scorerepro.plots.labels import score_caption  # noqa: E402
from scorerepro.training.divergence import Divergence  # noqa: E402

STAGE = "infusion evaluate"


def _gen(seed: int, stream: str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, stream))


def _stats(values: list[float]) -> dict:
    t = torch.tensor(values, dtype=torch.float64)
    return {"mean": float(t.mean()), "std": float(t.std(unbiased=False)), "repetitions": len(values)}


def _grid(images: torch.Tensor, side: int, ax, nrow: int) -> None:
    n = images.shape[0]
    rows = math.ceil(n / nrow)
    canvas = torch.ones(rows * (side + 1), nrow * (side + 1))
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[r * (side + 1):r * (side + 1) + side, c * (side + 1):c * (side + 1) + side] = images[i].view(side, side)
    ax.imshow(canvas.clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")


def _figure(images: torch.Tensor, side: int, nrow: int, title: str, path, caption: str | None = None) -> None:
    """A grid of flat images, `nrow` a row; `caption` (the samples' score) on the lines under the title."""
    rows = math.ceil(images.shape[0] / nrow)
    width = nrow * 0.55 + 0.5
    title = "\n".join(fit_title(t, width, 8) for t in (title, caption) if t)
    fig, ax = plt.subplots(figsize=(width, rows * 0.55 + 0.8 + 0.12 * title.count("\n")))
    _grid(images, side, ax, nrow)
    ax.set_title(title, fontsize=8)
    save_figure(path, fig)
    plt.close(fig)


def run(params: dict) -> None:
    inf = params["infusion"]
    block, ev = experiment_settings(params), inf["eval"]
    record = upstream_divergence(model_dir(MAIN))
    if record is not None:
        write_diverged(record, block)
        return
    seed = params["seed"]
    device = resolve_device(params)
    n_val = ev["parzen_validation"]
    train_u8, val_u8 = hold_out_validation(load_images(block["dataset"], "train")[0], n_val)
    test_u8, _ = load_images(block["dataset"], "test")
    dim = train_u8[0].numel()
    side = int(round(math.sqrt(dim)))
    model = load_trained(block, dim, seed, model_dir(MAIN), MAIN)  # the prior's mean and variance are buffers
    schedule = schedule_of(block)
    ivar = block["infusion_var"]
    x_train = dequantise(train_u8, _gen(seed, "eval-train"))
    calibrate_batch_norm(model, x_train, schedule, ivar, _gen(seed, "bn"))

    # --- Table 2: lower bound and IS estimate, mean +- std over repetitions (fresh dequantisation and chains each)
    k = ev["k"]
    # Isotropic output: one scalar variance for the last step, its maximum-likelihood value on training chains.
    with torch.no_grad():
        xs = x_train[:ev["n_train"]]
        from scorerepro.papers.infusion.model import infuse  # noqa: PLC0415

        g = _gen(seed, "isotropic-fit")
        z, _ = infuse(xs, model.prior.mean.expand_as(xs), model.prior.var.expand_as(xs), schedule.alpha(0), ivar, g)
        for t in range(1, schedule.n_steps):
            mean, var = model.net(z, t)
            z, _ = infuse(xs, mean, var, schedule.alpha(t), ivar, g)
        mean, _ = model.net(z, schedule.n_steps)
        iso_var = float(((xs - mean) ** 2).mean())
    per_rep = {key: [] for key in ("lb_test", "is_test", "lb_train", "is_train", "iso_is_test", "iso_is_train")}
    point_lb, point_indep = [], []  # per repetition, per test point
    var_range = (block["eps"], block["eps"] + block["beta"])
    for rep in range(ev["repetitions"]):
        g = _gen(seed, f"ll-rep-{rep}")
        x_te = dequantise(test_u8[:ev["n_test"]], g)
        x_tr = dequantise(train_u8[:ev["n_train"]], g)
        for split, x in (("test", x_te), ("train", x_tr)):
            lb, is_, iso = log_likelihood_estimates(model, x, schedule, ivar, k, g, isotropic_var=iso_var)
            per_rep[f"lb_{split}"].append(float(lb.mean()))
            per_rep[f"is_{split}"].append(float(is_.mean()))
            per_rep[f"iso_is_{split}"].append(float(iso.mean()))
            if split == "test":
                point_lb.append(lb)
                point_indep.append(best_independent_log_likelihood(x, x_train, *var_range))
        print(f"evaluate: repetition {rep + 1}/{ev['repetitions']}: lower bound {per_rep['lb_test'][-1]:.1f}, "
              f"IS {per_rep['is_test'][-1]:.1f} (test)")
    x_test_once = dequantise(test_u8, _gen(seed, "test-once"))
    prior_ll = float(model.prior.log_prob(x_test_once[:ev["n_test"]]).sum(1).mean())

    # --- samples: the last step's means (as the paper's Parzen and figures use)
    g = _gen(seed, "samples")
    chains = [sample_chain(model, min(1000, ev["n_samples"] - s), schedule.n_steps, g)[-1]
              for s in range(0, ev["n_samples"], 1000)]
    samples = torch.cat(chains).clamp(0, 1)
    samples_u8 = to_uint8(samples.view(-1, 1, side, side))
    samples_dir().mkdir(parents=True, exist_ok=True)
    save_torch(samples_dir() / "samples.pt", {"images": samples_u8, "made_with": {"model": block, "eval": ev}})

    # --- Parzen (Table 1): sigma by validation (held out of the training split), and the paper's fixed sigma
    x_val = dequantise(val_u8, _gen(seed, "parzen-val"))
    x_te = x_test_once
    chosen = parzen_with_validation(x_te, x_val, samples, DEFAULT_SIGMAS)
    fixed = parzen_log_likelihood(x_te, samples, ev["parzen_fixed_sigma"])

    # --- leaderboard scores
    scores = score(samples_u8, block["dataset"], params, device, inception=ev["inception"])

    metrics = {
        "dataset": block["dataset"], "setting": describe(block), "k": k, "n_test": ev["n_test"],
        "n_train": ev["n_train"],
        "lower_bound_test": _stats(per_rep["lb_test"]), "is_estimate_test": _stats(per_rep["is_test"]),
        "lower_bound_train": _stats(per_rep["lb_train"]), "is_estimate_train": _stats(per_rep["is_train"]),
        "isotropic_is_estimate_test": _stats(per_rep["iso_is_test"]),
        "isotropic_is_estimate_train": _stats(per_rep["iso_is_train"]), "isotropic_variance": iso_var,
        "factorial_prior_log_likelihood_test": prior_ll,
        "test_points": {"lower_bound": torch.stack(point_lb).mean(0).tolist(),
                        "best_independent": torch.stack(point_indep).mean(0).tolist()},
        "parzen_validation_sigma": {"sigma": chosen.sigma, "mean": chosen.mean, "stderr": chosen.stderr,
                                    "n_test": chosen.n_points, "n_samples": chosen.n_centres,
                                    "n_validation": n_val,
                                    "validation_mean_by_sigma": {f"{s:.4f}": v for s, v in
                                                                 chosen.validation_by_sigma.items()}},
        "parzen_fixed_sigma": {"sigma": fixed.sigma, "mean": fixed.mean, "stderr": fixed.stderr,
                               "n_test": fixed.n_points, "n_samples": fixed.n_centres},
        "scores": scores,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "metrics.json", metrics)
    figures(model, schedule, ivar, train_u8, test_u8, ev, side, seed, score_caption(scores))
    print(f"infusion evaluate: lower bound {metrics['lower_bound_test']['mean']:.1f}, IS "
          f"{metrics['is_estimate_test']['mean']:.1f}, Parzen {chosen.mean:.1f} (sigma {chosen.sigma:.3f}, "
          f"validation) / {fixed.mean:.1f} (sigma {fixed.sigma:g}, fixed)")


def write_diverged(record: Divergence, block: dict) -> None:
    """Every output saying the main model diverged. metrics.json keeps the dataset and setting: the summary's
    leaderboard row stays, under that dataset, with empty scores."""
    write_json(RESULTS / "metrics.json", {**marker(record), "dataset": block["dataset"], "setting": describe(block)})
    write_diverged_outputs(record, [samples_dir(), RESULTS / "figures"], STAGE)


def figures(model, schedule, ivar, train_u8, test_u8, ev, side, seed, caption: str | None = None) -> None:
    """The paper's figures. `caption`, the score of the model's samples beside the real-data floor, goes under the
    grids of T-step samples (Fig. 1's last column, Fig. 4), which come from the sampler those scores measure."""
    out = RESULTS / "figures"
    out.mkdir(parents=True, exist_ok=True)
    T = schedule.n_steps
    n = ev["n_figure_chains"]
    # Fig. 1: the model's sampling chain, step 0 (prior draw) to T, one row per chain
    chain = sample_chain(model, n, T, _gen(seed, "fig1"))  # (T+1, n, D)
    _figure(chain.permute(1, 0, 2).reshape(-1, chain.shape[-1]), side, T + 1,
            f"Fig. 1: sampling chains (means), steps 0..{T}, one chain per row", out / "fig1_sampling_chain.png",
            caption)
    # Fig. 2: infusion chains towards test images (last column: the target)
    x = dequantise(test_u8[:n], _gen(seed, "fig2-x"))
    inf = infusion_chain_means(model, x, schedule, ivar, _gen(seed, "fig2"))  # (T+1, n, D)
    rows = torch.cat([inf, x.unsqueeze(0)]).permute(1, 0, 2).reshape(-1, x.shape[1])
    _figure(rows, side, T + 2, "Fig. 2: infusion chains z~(0..T-1), last step's mean, target", out /
            "fig2_infusion_chains.png")
    # Fig. 4: samples and their nearest training image (Euclidean, pixel space)
    samples = sample_chain(model, 2 * n, T, _gen(seed, "fig4"))[-1]
    train = train_u8.reshape(train_u8.shape[0], -1).float() / 255.0
    nearest = train[torch.cdist(samples, train).argmin(1)]
    pairs = torch.stack([samples, nearest], 1).reshape(-1, samples.shape[1])
    _figure(pairs, side, 2 * 5, "Fig. 4: samples, each followed by its nearest training image",
            out / "fig4_nearest_neighbours.png", caption)
    # More sampling steps than training steps (the paper: 30 for a 15-step model)
    steps = ev["sampling_steps"]
    long = sample_chain(model, n, steps, _gen(seed, "fig-long"))
    picks = torch.linspace(0, steps, min(steps + 1, 11)).round().long()
    _figure(long[picks].permute(1, 0, 2).reshape(-1, long.shape[-1]), side, len(picks),
            f"sampling for {steps} steps (trained for {T}); columns: steps {picks.tolist()}",
            out / "more_steps_than_training.png")
    # Fig. 5: inpainting, top half clamped to a test image
    x = dequantise(test_u8[:n], _gen(seed, "fig5-x"))
    mask = torch.zeros_like(x)
    mask.view(n, side, side)[:, : side // 2] = 1
    inp = sample_chain(model, n, T, _gen(seed, "fig5"), clamp=(x, mask))
    shown = torch.cat([inp[::max(1, T // 5)], inp[-1:], x.unsqueeze(0)]).permute(1, 0, 2).reshape(-1, x.shape[1])
    _figure(shown, side, shown.shape[0] // n, "Fig. 5: inpainting, top half clamped; last column the original",
            out / "fig5_inpainting.png")
