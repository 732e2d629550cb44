"""Stage `wmvl train <experiment>`: train one MNIST autoencoder of seed 004 section 6.2 (a VAE of Table 1 or a WAE
of Table 2) with scorerepro.training (checkpoints in models/wmvl/<experiment>, resumes from the last one).

Kinds (params wmvl.experiments.<name>.kind): vae_explicit (Gaussian or power-spherical posterior, analytic KL),
vae_implicit (encoder fed noise; the entropy gradient from a conditional energy trained by MVL, one ELBO step then
one energy step per iteration), wae_mvl (deterministic encoder; KL(q(z) || p(z)) from a marginal energy trained by
MVL), wae_gan (the same with a latent discriminator, non-saturating loss). Data: the dataset's train split,
dynamically binarised every batch."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from scorerepro.config import ParamsError
from scorerepro.core.seeding import derive_seed
from scorerepro.data.loading import batch_indices
from scorerepro.papers.wmvl import estimators as est
from scorerepro.papers.wmvl.autoencoders import X_DIM, bernoulli_log_lik, log_prior, sample_prior
from scorerepro.papers.wmvl.experiment import experiment_settings, initial_networks, load_images
from scorerepro.papers.wmvl.locations import model_dir
from scorerepro.papers.wmvl.sphere import riemannian_mvl
from scorerepro.training import LoopConfig, OptimizerSpec, train_loop

RESUMABLE_RECORD_KEYS = ("training.n_iters", "training.snapshot_freq")


def mvl_values(energy, z: torch.Tensor, latent: str, eps: float, generator=None) -> torch.Tensor:
    if latent == "sphere":
        return riemannian_mvl(energy, z, eps, generator=generator)
    return est.mvl_langevin(energy, z, eps, generator=generator)


def make_step(exp: dict):
    m, t = exp["model"], exp["training"]
    kind, latent = m["kind"], m["latent"]

    def step(ctx):
        x = ctx.batch
        nets = ctx.nets
        if kind == "vae_explicit":
            z, kl = nets["encoder"](x)
            rec = -bernoulli_log_lik(nets["decoder"](z), x)
            loss = (rec + kl).mean()
            ctx.update("model", loss)
            return {"neg_elbo": loss.detach(), "reconstruction": rec.mean().detach()}
        z = nets["encoder"](x)
        rec = -bernoulli_log_lik(nets["decoder"](z), x)
        if kind == "vae_implicit":
            energy = nets["energy"]
            # -ELBO = rec - log p(z) + log q(z|x), log q(z|x) = -E(z|x) + c(x): the energy's gradient in z is the
            # entropy's; only the autoencoder's optimiser steps on this loss.
            surrogate = (rec - log_prior(z, latent) - energy(z, x)).mean()
            ctx.update("model", surrogate)
            zd = z.detach()
            values = mvl_values(lambda v: energy(v, x), zd, latent, t["mvl_eps"])
            e_loss = values.mean() + t["energy_l2"] * (energy(zd, x) ** 2).mean()
            ctx.update("energy", e_loss)
            return {"reconstruction": rec.mean().detach(), "energy_loss": e_loss.detach()}
        if kind == "wae_mvl":
            energy = nets["energy"]
            # KL(q(z) || p(z)) = E_q[-E(z)] - E_q[log p(z)] + const (log q = -E - log Z).
            kl = (-energy(z) - log_prior(z, latent)).mean()
            loss = rec.mean() + t["wae_lambda"] * kl
            ctx.update("model", loss)
            zd = z.detach()
            e_loss = mvl_values(energy, zd, latent, t["mvl_eps"]).mean() + t["energy_l2"] * (energy(zd) ** 2).mean()
            ctx.update("energy", e_loss)
            return {"reconstruction": rec.mean().detach(), "energy_loss": e_loss.detach()}
        # wae_gan: the discriminator tells prior draws (label 1) from codes (label 0); the encoder is trained to
        # fool it (non-saturating).
        disc = nets["discriminator"]
        prior = sample_prior(z.shape[0], latent, z.shape[1])
        logits = disc(torch.cat([prior, z.detach()]))[:, 0]
        labels = torch.cat([torch.ones(z.shape[0]), torch.zeros(z.shape[0])])
        d_loss = F.binary_cross_entropy_with_logits(logits, labels) + t["energy_l2"] * (logits ** 2).mean()
        ctx.update("discriminator", d_loss)
        fool = F.binary_cross_entropy_with_logits(disc(z)[:, 0], torch.ones(z.shape[0]))
        loss = rec.mean() + t["wae_lambda"] * fool
        ctx.update("model", loss)
        return {"reconstruction": rec.mean().detach(), "discriminator_loss": d_loss.detach()}

    return step


def optimizers(kind: str, lr: float) -> dict[str, OptimizerSpec]:
    specs = {"model": OptimizerSpec(params_of=("encoder", "decoder"), lr=lr)}
    if kind in ("vae_implicit", "wae_mvl"):
        specs["energy"] = OptimizerSpec(params_of=("energy",), lr=lr)
    if kind == "wae_gan":
        specs["discriminator"] = OptimizerSpec(params_of=("discriminator",), lr=lr)
    return specs


def run(params: dict, experiment: str) -> None:
    name = experiment
    torch.set_num_threads(params["wmvl"]["threads"])
    exp = experiment_settings(params, name)
    t = exp["training"]
    images = load_images(exp["dataset"], "train")
    if images.shape[1] != X_DIM:
        raise ParamsError(f"wmvl.experiments.{name}.dataset: {exp['dataset']} has {images.shape[1]} values per image; "
                          f"the MLP autoencoders take 28x28 grey digits (the paper's conv autoencoder for CelebA / "
                          f"CIFAR-10 is not built here)")
    seed = int(params["seed"])
    data_seed = derive_seed(seed, f"data:wmvl:{name}")

    def batch(step: int, generator: torch.Generator) -> torch.Tensor:
        x = images[batch_indices(images.shape[0], t["batch_size"], data_seed, step, drop_last=True)]
        return torch.bernoulli(x, generator=generator)

    cfg = LoopConfig(n_iters=t["n_iters"], batch_size=t["batch_size"], snapshot_freq=t["snapshot_freq"],
                     log_freq=t["log_freq"], seed=derive_seed(seed, f"train:wmvl:{name}"), device="cpu")
    record = {"experiment": name, "dataset": exp["dataset"], "model": exp["model"], "training": t, "seed": seed}
    torch.manual_seed(derive_seed(seed, f"torch:wmvl:{name}"))  # the power-spherical Gamma draws use torch's RNG
    result = train_loop(initial_networks(exp, seed), optimizers(exp["model"]["kind"], t["lr"]), make_step(exp), batch,
                        cfg, model_dir(name), record, on_mismatch="move_aside", ignore_record_keys=RESUMABLE_RECORD_KEYS)
    print(f"wmvl train {name}: {result.step} iterations, {result.seconds:.0f} s, last {result.last_losses}")
