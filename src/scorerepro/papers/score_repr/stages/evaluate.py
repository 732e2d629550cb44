"""Stage `score_repr evaluate <experiment>`: what one trained model shows (results/score_repr/<experiment>/).

metrics.json:
  silhouette           of the test codes, classes as clusters (Fig. 4's measure; claims 1, 3); silhouette_chance:
                       the same codes with the labels permuted (no class information); *_per_point: each test
                       point's value, which the claims bootstrap over
  ink_correlation_max  largest |Spearman| between a code coordinate and the image's ink (mean intensity, a proxy
                       for stroke width; claim 1: "z_1 encodes stroke width"); *_untrained: the same measures of
                       the encoder as initialised, before training; ink_per_point, codes_per_point,
                       codes_untrained_per_point: what the correlations are computed from
  denoise_own/other    DSM loss on test images with each image's own code vs another image's (Fig. 10; claim 5);
                       *_per_image: each test image's loss averaged over the t grid
  constant_empirical   Eq. 6's constant of the training images and the model's DSM loss at the same draws (claim 4)
  diversity            mean pairwise L2 distance of samples drawn for one fixed code (Fig. 11; claim 6)
  samples_noise_check  the shown samples' mean pairwise distance beside Bernoulli(1/2) noise's and the test
                       images' (metrics.noise_like): whether the figure's samples are noise-like
  leaderboard          samples of the code-conditioned sampler (codes of test images) scored by
                       scorerepro.pipeline.scoring.score, when evaluate.leaderboard_samples > 0
figure.png: codes by class, samples decoded from a grid of codes (2-D codes), samples per fixed code with their
noise check, denoising loss per t (coded models), loss curve against the constant; panels a model lacks are left
out. loss.csv: the training loss (copied from the model folder).

A model whose training diverged (diverged.json in its folder) is not evaluated: the three outputs say so instead
(scorerepro.pipeline.divergence), and the summary makes the claims it feeds untested.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from scorerepro.core.device import resolve_device
from scorerepro.core.fileio import save_figure, write_json
from scorerepro.core.seeding import derive_seed
from scorerepro.metrics.noise_like import mean_pairwise_distance, noise_check, noise_caption
from scorerepro.papers.score_repr.constant import draws, empirical_constant
from scorerepro.papers.score_repr.experiment import (codes_of, experiment_settings, initial_networks, load_images,
                                                     load_networks, make_sde, set_threads, shape_of)
from scorerepro.papers.score_repr.locations import model_dir, results_dir
from scorerepro.papers.score_repr.losses import dsm_per_example
from scorerepro.papers.score_repr.sampling import pc_sample
from scorerepro.papers.score_repr.stages.sweep import (chance_silhouette, chance_silhouette_points, silhouette_of_codes,
                                                       silhouette_points)
from scorerepro.pipeline.common import to_uint8
from scorerepro.pipeline.divergence import upstream_divergence, write_diverged_outputs
from scorerepro.pipeline.scoring import score


def conditioned_score(score_net, codes: torch.Tensor | None):
    def fn(x, sigma):
        return score_net(x, sigma, codes)
    return fn


@torch.no_grad()
def denoising_losses(score_net, sde, images, codes, t_values, gen) -> tuple[torch.Tensor, torch.Tensor]:
    """DSM loss [n_t, n_images] with each image's own code and with another image's code (a derangement)."""
    n = len(images)
    perm = torch.randperm(n, generator=gen)
    other = torch.empty_like(perm)
    other[perm] = perm.roll(1)  # image perm[i] gets the code of image perm[i-1]: never its own
    own_l, other_l = [], []
    for t in t_values:
        tt = torch.full((n,), float(t))
        noise = torch.randn(images.shape, generator=gen)
        own_l.append(dsm_per_example(score_net, sde, images, tt, noise, codes))
        other_l.append(dsm_per_example(score_net, sde, images, tt, noise, codes[other]))
    return torch.stack(own_l), torch.stack(other_l)


def _ink_correlations(codes: torch.Tensor, ink: np.ndarray) -> list[float]:
    return [abs(float(spearmanr(codes[:, k].numpy(), ink).statistic)) for k in range(codes.shape[1])]


def outputs(experiment: str) -> list:
    """The files dvc.yaml declares for `score_repr evaluate <experiment>`."""
    res = results_dir(experiment)
    return [res / "figure.png", res / "loss.csv", res / "metrics.json"]


def run(params: dict, experiment: str) -> None:
    set_threads(params)
    exp = experiment_settings(params, experiment)
    record = upstream_divergence(model_dir(exp["name"]))
    if record is not None:
        write_diverged_outputs(record, outputs(exp["name"]), f"score_repr evaluate {exp['name']}")
        return
    ev = exp["evaluate"]
    sde = make_sde(params)
    t_eps = params["score_repr"]["sde"]["t_eps"]
    seed = derive_seed(params["seed"], f"score_repr:evaluate:{exp['name']}")
    gen = torch.Generator().manual_seed(seed)
    nets = load_networks(exp, model_dir(exp["name"]))
    score_net, encoder = nets["score"], nets.get("encoder")
    pool = exp["data"]["pool"]
    test, labels = load_images(exp["dataset"], "test", pool)
    train, _ = load_images(exp["dataset"], "train", pool)
    n = min(ev["n_test"] or len(test), len(test))
    test, labels = test[:n], (labels[:n] if labels is not None else None)
    shape = shape_of(exp)
    out: dict = {"experiment": exp["name"], "dataset": exp["dataset"], "pool": pool, "image_shape": list(shape),
                 "code_dim": exp["model"]["code_dim"], "t_mode": exp["training"]["t_mode"], "n_test": n}
    codes = codes_of(encoder, test) if encoder is not None else None

    # codes: class structure and what a coordinate follows
    if codes is not None:
        out["silhouette"] = silhouette_of_codes(codes, labels)
        out["silhouette_chance"] = chance_silhouette(codes, labels, seed=seed)
        if labels is not None:
            out["silhouette_per_point"] = silhouette_points(codes, labels).tolist()
            out["silhouette_chance_per_point"] = chance_silhouette_points(codes, labels, seed=seed).tolist()
        ink = test.flatten(1).mean(dim=1).numpy()
        corr = _ink_correlations(codes, ink)
        out["ink_correlation_per_coordinate"] = corr
        out["ink_correlation_max"] = max(corr)
        # A random conv encoder's code already follows the mean intensity: this says how much of the trained
        # correlation training put there.
        untrained = codes_of(initial_networks(exp, params["seed"])["encoder"].eval(), test)
        out["ink_correlation_max_untrained"] = max(_ink_correlations(untrained, ink))
        out["silhouette_untrained"] = silhouette_of_codes(untrained, labels)
        out.update({"ink_per_point": ink.tolist(), "codes_per_point": codes.tolist(),
                    "codes_untrained_per_point": untrained.tolist()})

    # Fig. 10: own code vs another image's code
    t_values = np.linspace(ev["t_min"], 1.0, ev["n_t"]).tolist()
    if codes is not None:
        own, other = denoising_losses(score_net, sde, test, codes, t_values, gen)
        out.update({"denoise_t": t_values, "denoise_own_per_t": own.mean(1).tolist(),
                    "denoise_other_per_t": other.mean(1).tolist(), "denoise_own_per_image": own.mean(0).tolist(),
                    "denoise_other_per_image": other.mean(0).tolist(), "denoise_own": float(own.mean()),
                    "denoise_other": float(other.mean()), "denoise_gap": float(other.mean() - own.mean())})

    # Eq. 6: the constant of the training images and the model's loss at the same draws
    flat_train = train.flatten(1)
    idx, t, noise = draws(sde, len(train), flat_train.shape[1], ev["constant_samples"], t_eps, gen)
    const_terms = torch.cat([empirical_constant(sde, flat_train, flat_train[idx[i:i + 250]], t[i:i + 250],
                                                noise[i:i + 250]) for i in range(0, len(idx), 250)])
    x0 = train[idx]
    with torch.no_grad():
        z = codes_of(encoder, x0) if encoder is not None else None
        model_terms = dsm_per_example(score_net, sde, x0, t, noise.reshape(x0.shape), z)
    out["constant_samples"] = len(const_terms)
    out["constant_empirical"] = float(const_terms.mean())
    out["constant_empirical_stderr"] = float(const_terms.std() / len(const_terms) ** 0.5)
    out["model_loss_at_constant_draws"] = float(model_terms.mean())
    out["model_minus_constant_stderr"] = float((model_terms - const_terms).std() / len(const_terms) ** 0.5)

    # Fig. 11: diversity of samples for one fixed code
    def sample(c, k):
        return pc_sample(conditioned_score(score_net, c), sde, (k, *shape), ev["sampler_steps"], ev["snr"], t_eps,
                         gen).clamp(0, 1)

    k = ev["diversity_samples"]
    div = []
    fixed_examples = []
    for i in range(ev["diversity_codes"]):
        c = codes[i:i + 1].expand(k, -1) if codes is not None else None
        s = sample(c, k)
        fixed_examples.append(s[:8])
        div.append(mean_pairwise_distance(s))
    out["diversity_per_code"] = div
    out["diversity"] = float(np.mean(div))
    out["samples_noise_check"] = noise_check(torch.cat(fixed_examples), test, seed=seed)

    grid_images = None
    if codes is not None and codes.shape[1] == 2:
        lo, hi = np.quantile(codes.numpy(), [0.05, 0.95], axis=0)
        g = ev["grid_size"]
        a, b = np.meshgrid(np.linspace(lo[0], hi[0], g), np.linspace(hi[1], lo[1], g))
        grid_codes = torch.tensor(np.stack([a.ravel(), b.ravel()], axis=1), dtype=torch.float32)
        grid_images = sample(grid_codes, len(grid_codes))
        out["grid_range"] = [lo.tolist(), hi.tolist()]

    if ev["leaderboard_samples"] > 0:
        m = ev["leaderboard_samples"]
        pick = torch.randint(0, len(test), (m,), generator=gen)
        lead = sample(codes[pick] if codes is not None else None, m)
        out["leaderboard"] = score(to_uint8(lead), exp["dataset"], params, resolve_device(params["device"]),
                                   inception=ev["inception"])
        out["leaderboard"]["codes_from"] = "test images"
    res = results_dir(exp["name"])
    write_json(res / "metrics.json", out)
    shutil.copyfile(model_dir(exp["name"]) / "loss.csv", res / ".loss.csv.tmp")
    (res / ".loss.csv.tmp").replace(res / "loss.csv")
    _figure(exp, out, codes, labels, grid_images, torch.cat(fixed_examples), res / "loss.csv", res / "figure.png")
    print(json.dumps({k: v for k, v in out.items() if not isinstance(v, (list, dict))}, indent=1))


def _figure(exp, out, codes, labels, grid_images, fixed, loss_csv, path) -> None:
    """One row of panels, only those the model has: codes by class and the grid of decoded codes need a code (the
    grid a 2-D one), Fig. 10 a code to swap."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ([_codes_panel] if codes is not None else []) + ([_grid_panel] if grid_images is not None else []) \
        + [_fixed_panel] + ([_denoise_panel] if "denoise_t" in out else []) + [_loss_panel]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4), layout="constrained", squeeze=False)
    data = {"out": out, "codes": codes, "labels": labels, "grid": grid_images, "fixed": fixed, "loss_csv": loss_csv}
    for ax, panel in zip(axes[0], panels):
        panel(fig, ax, data)
    code = f"code dim {exp['model']['code_dim']}" if exp["model"]["code_dim"] else "no code (unconditional)"
    fig.suptitle(f"seed 003, {exp['name']}: {exp['dataset']} pooled {exp['data']['pool']}x "
                 f"{tuple(out['image_shape'])}, {code}, t sampled {exp['training']['t_mode'].replace('_', ' ')}",
                 fontsize=10)
    save_figure(path, fig)
    plt.close(fig)


def _codes_panel(fig, ax, d) -> None:
    c, out, labels = d["codes"].numpy(), d["out"], d["labels"]
    y = c[:, 1] if c.shape[1] > 1 else np.zeros(len(c))
    sc = ax.scatter(c[:, 0], y, c=labels.numpy() if labels is not None else None, cmap="tab10", s=6)
    if labels is not None:
        fig.colorbar(sc, ax=ax, label="digit class")
    ax.set(xlabel="code coordinate 1", ylabel="code coordinate 2" if c.shape[1] > 1 else "(1-D code)")
    ax.set_title(f"test codes by class\nsilhouette {out['silhouette']:.3f} (labels permuted "
                 f"{out['silhouette_chance']:.3f})", fontsize=9)


def _images(ax, imgs, nrow: int, title: str) -> None:
    from scorerepro.plots.grid import image_grid
    ax.imshow(image_grid(imgs, nrow=nrow, padding=1, pad_value=1.0).permute(1, 2, 0).numpy())
    ax.axis("off")
    ax.set_title(title, fontsize=9)


def _grid_panel(fig, ax, d) -> None:
    _images(ax, d["grid"], int(round(len(d["grid"]) ** 0.5)), "samples decoded from a grid of codes\n"
            "(5-95% range of the test codes)")


def _fixed_panel(fig, ax, d) -> None:
    import textwrap
    check = d["out"].get("samples_noise_check")
    title = "8 samples per fixed code (rows)" if d["codes"] is not None else "samples (no code)"
    if check is not None:
        title += "\n" + textwrap.fill(noise_caption(check), 52)
    _images(ax, d["fixed"], 8, title)
    if check is not None and check["noise_like"]:
        ax.title.set_color("tab:red")


def _denoise_panel(fig, ax, d) -> None:
    out = d["out"]
    # The two curves nearly coincide when the code carries little: the second is dashed with hollow markers and
    # drawn on top, so both stay visible.
    ax.plot(out["denoise_t"], out["denoise_own_per_t"], "o-", lw=2.5, ms=7, label="own code")
    ax.plot(out["denoise_t"], out["denoise_other_per_t"], "s--", lw=1.2, ms=6, mfc="none", mew=1.5,
            label="another image's code")
    ax.set_yscale("log")
    ax.set(xlabel="diffusion time t", ylabel="denoising loss (test images)")
    ax.legend(fontsize=8)
    ax.set_title(f"Fig. 10: denoising loss, own vs another code\nmean gap (another - own) "
                 f"{out['denoise_gap']:.3g}", fontsize=9)


def _loss_panel(fig, ax, d) -> None:
    loss = pd.read_csv(d["loss_csv"])
    w = max(1, len(loss) // 40)
    ax.plot(loss["step"], loss["dsm"].rolling(w).mean(), label=f"training loss (running mean, {w} steps)")
    ax.axhline(d["out"]["constant_empirical"], color="k", ls="--", label="Eq. 6 constant (training images)")
    ax.set_yscale("log")
    ax.set(xlabel="training step", ylabel="denoising score-matching loss")
    ax.legend(fontsize=8)
    ax.set_title("training loss against the\nEq. 6 constant (its floor)", fontsize=9)
