"""The four generative autoencoders (VAE, DVAE, AAE, DAAE): building them from an experiment's settings, the
encoder's draw z ~ Q(Z|x), the corruption C(x~|x), and the losses of one training update.

Corruption: the paper's C(x~|x) = N(x, 0.25 I) is read as a VARIANCE of 0.25 (standard deviation 0.5), as the
authors' example code does (`nn.WhiteNoise(0, 0.5)`, whose second argument is a standard deviation); params key
`corruption_variance` holds the variance, and the noise added is sqrt(variance) * N(0, I). The corrupted image is
not clipped (the corruption is a Gaussian around x, as written).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from scorerepro.papers.ae_mcmc.nets import Adversary, Decoder, Encoder

def build_networks(exp: dict, image_shape: tuple[int, int, int]) -> dict[str, torch.nn.Module]:
    """{"encoder", "decoder"} (+ "adversary" for the adversarial models), DCGAN-initialised."""
    c, h, w = image_shape
    if h != w:
        raise ValueError(f"ae_mcmc needs square images, got {h}x{w}")
    m = exp["model"]
    z = m["latent_dim"]
    nets = {"encoder": Encoder(c, h, m["nf"], 2 * z if exp["kind"] == "vae" else z),
            "decoder": Decoder(c, h, m["nf"], z)}
    if exp["kind"] == "aae":
        nets["adversary"] = Adversary(z, m["adversary_hidden"], m["adversary_dropout"])
    return nets


def split_gaussian(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The VAE encoder's output as (mean, log-variance)."""
    mu, logvar = h.chunk(2, dim=1)
    return mu, logvar


def encode(kind: str, encoder: torch.nn.Module, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """z ~ Q(Z|x): the reparameterised draw mu + sigma * eps for the VAE, e(x) for the deterministic AAE encoder."""
    h = encoder(x)
    if kind == "aae":
        return h
    mu, logvar = split_gaussian(h)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def corrupt(x: torch.Tensor, variance: float, generator: torch.Generator | None) -> torch.Tensor:
    """x~ ~ N(x, variance I): additive Gaussian noise of standard deviation sqrt(variance)."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + math.sqrt(variance) * noise


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per row: 1/2 sum(mu^2 + sigma^2 - log sigma^2 - 1) (paper 2.1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)


def reconstruction_bce(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between the image (targets in [0, 1]) and the decoder's Bernoulli means, summed per image."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def make_step_fn(kind: str, denoising: bool, corruption_variance: float):
    """The update of one batch for scorerepro.training.train_loop.

    VAE / DVAE: one Adam step on encoder + decoder, loss = BCE + KL (per image, averaged over the batch).
    AAE / DAAE: three steps in order, as in adversarial autoencoders: reconstruction (encoder + decoder, BCE); the
    adversary (real codes z ~ N(0, I) labelled 1, encoder codes labelled 0); the encoder as generator with the
    non-saturating loss -log D(e(x)). The denoising variants encode the corrupted image and reconstruct the clean one.
    """

    def step(ctx) -> dict[str, torch.Tensor]:
        x = ctx.batch
        enc, dec = ctx.nets["encoder"], ctx.nets["decoder"]
        x_in = x + math.sqrt(corruption_variance) * ctx.rng.randn(tuple(x.shape[1:])) if denoising else x
        if kind == "vae":
            mu, logvar = split_gaussian(enc(x_in))
            z = mu + torch.exp(0.5 * logvar) * ctx.rng.randn(mu.shape[1])
            rec = reconstruction_bce(dec.logits(z), x).mean()
            kl = kl_to_standard_normal(mu, logvar).mean()
            ctx.update("autoencoder", rec + kl)
            return {"loss": rec + kl, "reconstruction": rec, "kl": kl}
        adv = ctx.nets["adversary"]
        rec = reconstruction_bce(dec.logits(enc(x_in)), x).mean()
        ctx.update("autoencoder", rec)
        z_fake = enc(x_in).detach()
        z_real = ctx.rng.randn(z_fake.shape[1])
        logits = adv(torch.cat([z_real, z_fake]))
        labels = torch.cat([torch.ones(len(z_real)), torch.zeros(len(z_fake))]).to(logits.device)
        d_loss = F.binary_cross_entropy_with_logits(logits, labels)
        ctx.update("adversary", d_loss)
        g_logits = adv(enc(x_in))
        g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
        ctx.update("generator", g_loss)
        return {"loss": rec, "reconstruction": rec, "adversary": d_loss, "generator": g_loss}

    return step
