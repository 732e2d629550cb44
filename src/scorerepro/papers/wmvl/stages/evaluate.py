"""Stage `wmvl evaluate <experiment>`: a trained autoencoder's test metrics.

VAEs (Table 1): test negative log-likelihood by AIS on the first ais.n_test test images (binarised once with a
fixed seed), HMC for Euclidean latents, random-walk Metropolis on the sphere (see ais.py). Every model: eval.n_samples
images decoded from prior draws (Bernoulli means), scored by scorerepro.pipeline.scoring.score (MNIST-classifier FID
and IS; Table 2 used a LeNet FID, so only orderings compare). Writes results/wmvl/<experiment>/metrics.json and
samples.png.

Beside the AIS estimate a VAE's metrics carry what its claims' gates and intervals need: the per-image AIS log p(x)
(a paired bootstrap over test images orders the VAEs), a bound the AIS estimate must beat on the same images (the
encoder's own ELBO for explicit posteriors; for implicit ones, whose q(z|x) has no density, importance sampling with
the prior as proposal), and the NLL of the best x-independent model (pixel marginals of the training split), which a
VAE that has learned anything beats.

A model whose training diverged (diverged.json in its run folder) is not evaluated: both outputs say so instead."""

from __future__ import annotations

import json
import time

import torch

from scorerepro.core.fileio import write_json
from scorerepro.core.seeding import seeded_generator
from scorerepro.papers.wmvl.ais import ais_log_likelihood
from scorerepro.papers.wmvl.autoencoders import bernoulli_log_lik, code_dim, log_prior, sample_prior
from scorerepro.papers.wmvl.experiment import experiment_settings, initial_networks, load_images
from scorerepro.papers.wmvl.locations import model_dir, results_dir
from scorerepro.pipeline.divergence import upstream_divergence, write_diverged_outputs
from scorerepro.pipeline.scoring import score
from scorerepro.plots.images import sample_grid
from scorerepro.training import load_checkpoint, load_model_weights


def load_trained(exp: dict, seed: int) -> dict[str, torch.nn.Module]:
    path = model_dir(exp["name"]) / "final.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `scorerepro wmvl train {exp['name']}` first")
    ckpt = load_checkpoint(path)
    nets = initial_networks(exp, seed)
    for name, net in nets.items():
        load_model_weights(net, ckpt, which="model", network=name).eval()
    return nets


def ais_nll(decoder: torch.nn.Module, x: torch.Tensor, latent: str, dim: int, a: dict, seed: int) -> dict:
    gen = seeded_generator(seed, "wmvl:ais")
    chains = a["n_chains"]
    total, accept = [], []
    for i in range(0, x.shape[0], a["batch_size"]):
        xb = x[i:i + a["batch_size"]]
        z0 = sample_prior(xb.shape[0] * chains, latent, dim, gen).view(xb.shape[0], chains, dim)
        res = ais_log_likelihood(lambda z: log_prior(z, latent),
                                 lambda z, xb=xb: bernoulli_log_lik(decoder(z), xb[:, None, :]), z0, a["n_steps"],
                                 kernel="sphere_rwm" if latent == "sphere" else "hmc",
                                 step_size=a["step_size"], n_leapfrog=a["n_leapfrog"], generator=gen, progress=True)
        total.append(res["log_px"])
        accept.append(res["accept"])
    log_px = torch.cat(total)
    return {"nll_ais": float(-log_px.mean()), "nll_ais_sem": float(log_px.std() / log_px.shape[0] ** 0.5),
            "ais_accept_rate": sum(accept) / len(accept), "n_test": int(x.shape[0]),
            "log_px_ais_per_image": [float(v) for v in log_px]}


# Enough draws that the bound's Monte Carlo error (~0.1 nat) is far below the AIS-vs-bound gaps it is checked against.
ELBO_SAMPLES = 16
PRIOR_IS_SAMPLES = 1000


@torch.no_grad()
def bound_nll(nets: dict, x: torch.Tensor, kind: str, latent: str, dim: int, seed: int) -> dict:
    """A negative log-likelihood bound on the AIS test images that any correct AIS run beats (in expectation)."""
    gen = seeded_generator(seed, "wmvl:bound")
    if kind == "vae_explicit":
        terms = []
        for _ in range(ELBO_SAMPLES):
            z, kl = nets["encoder"](x, generator=gen)
            terms.append(bernoulli_log_lik(nets["decoder"](z), x) - kl)
        elbo = torch.stack(terms).mean(0)
        return {"nll_bound": float(-elbo.mean()), "nll_bound_kind": f"negative ELBO ({ELBO_SAMPLES} draws per image)"}
    log_px = []
    for xi in x:
        z = sample_prior(PRIOR_IS_SAMPLES, latent, dim, gen)
        ll = bernoulli_log_lik(nets["decoder"](z), xi[None])
        log_px.append(torch.logsumexp(ll, 0) - torch.log(torch.tensor(float(PRIOR_IS_SAMPLES))))
    return {"nll_bound": float(-torch.stack(log_px).mean()),
            "nll_bound_kind": f"prior-proposal importance sampling ({PRIOR_IS_SAMPLES} draws per image)"}


def factorial_nll(train: torch.Tensor, x: torch.Tensor) -> float:
    """Test NLL of independent Bernoulli pixels at the training split's pixel means (clipped away from 0 and 1 as
    one pseudo-count would): what a decoder that ignores z can reach at best."""
    n = train.shape[0]
    p = (train.mean(0) * n + 0.5) / (n + 1)
    return float(-(x * p.log() + (1 - x) * (1 - p).log()).sum(-1).mean())


def run(params: dict, experiment: str) -> None:
    name = experiment
    out = results_dir(name)
    diverged = upstream_divergence(model_dir(name))
    if diverged is not None:
        write_diverged_outputs(diverged, [out / "samples.png", out / "metrics.json"], f"wmvl evaluate {name}")
        return
    torch.set_num_threads(params["wmvl"]["threads"])
    exp = experiment_settings(params, name)
    seed = int(params["seed"])
    m, e = exp["model"], exp["eval"]
    nets = load_trained(exp, seed)
    dim = code_dim(m["latent"], m["latent_dim"])
    t0 = time.perf_counter()
    metrics: dict = {"experiment": name, "kind": m["kind"], "latent": m["latent"], "latent_dim": m["latent_dim"],
                     "n_iters": exp["training"]["n_iters"], "profile": params.get("profile")}
    if m["kind"].startswith("vae"):
        test = load_images(exp["dataset"], "test")[: e["ais"]["n_test"]]
        x = torch.bernoulli(test, generator=seeded_generator(seed, "wmvl:test_binarise"))
        metrics.update(ais_nll(nets["decoder"], x, m["latent"], dim, e["ais"], seed))
        metrics.update(bound_nll(nets, x, m["kind"], m["latent"], dim, seed))
        metrics["nll_factorial"] = factorial_nll(load_images(exp["dataset"], "train"), x)
        metrics["ais"] = e["ais"]
    with torch.no_grad():
        z = sample_prior(e["n_samples"], m["latent"], dim, seeded_generator(seed, f"wmvl:samples:{name}"))
        probs = torch.sigmoid(nets["decoder"](z)).view(-1, 1, 28, 28)
    images = (probs * 255).round().to(torch.uint8)
    metrics.update(score(images, exp["dataset"], params, torch.device("cpu"), inception=False))
    metrics["eval_wall_s"] = time.perf_counter() - t0
    json.dumps(metrics, allow_nan=False)
    sample_grid(probs[:100], out / "samples.png", f"wmvl {name}: decoded prior draws", metrics=metrics)
    write_json(out / "metrics.json", metrics)
    print(f"wmvl evaluate {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()
                                                 if isinstance(v, float)))
