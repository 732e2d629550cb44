"""Stage `ae_mcmc chains <experiment>`: sample one trained autoencoder by the MCMC chain and measure every claim's
quantity, for each batch-norm mode of ae_mcmc.chains.bn_modes ("train": the paper's batch statistics; "eval").

Writes results/ae_mcmc/<experiment>/chains.json (the numbers) and samples/ae_mcmc/<experiment>/chains.pt (images
for the figures: the first samples at every image step, the first interpolation rows before and after MCMC).

Per mode:
* reconstruction of the test images, d(e(x)), against the training split's mean image (the sanity gate of
  claims.reconstruction_gate: a decoder that cannot reach full contrast has not learned the digits);
* encodings z ~ Q(Z|x) of the test images: the learned latent distribution P^(Z); their per-dimension std and
  Frechet distance to the prior N(0, I) (claim 1);
* n_samples chains from z_0 ~ N(0, I), in fixed batches of batch_size rows (each with its own seeded generator):
  the latent Frechet distance of {z_t} to the test encodings at every t of `steps` with its bootstrap standard
  error over the chains (claim 2), and the sample
  quality at every t of `image_steps` (claims 3, 5): pipeline.scoring.score (MNIST-classifier FID/IS, Inception
  where `inception`), and the Parzen-window log-likelihood of test images under the samples (metrics.parzen;
  sigma chosen on the first half of the test split, reported on the second half);
* movement vs realism (claim 4): Spearman correlation between how far the first step moves each sample (pixel L2,
  x_0 -> x_1) and its initial distance to the nearest training image (and, where a classifier exists, its
  confidence);
* interpolation (claim 6): slerp between encodings of pairs of test images, the interior points decoded before
  and after `interpolation.steps` chain steps, scored the same way.

A model whose training diverged (models/ae_mcmc/<experiment>/diverged.json) is not sampled: both outputs then carry
its record (scorerepro.pipeline.divergence), which the figures and the summary read.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from scorerepro.core.fileio import save_torch, write_json
from scorerepro.core.seeding import seeded_generator
from scorerepro.data.loading import load_split, to_float
from scorerepro.metrics.fid import compute_statistics, fid_bootstrap
from scorerepro.metrics.parzen import parzen_with_validation
from scorerepro.papers.ae_mcmc.autoencoders import corrupt, encode
from scorerepro.papers.ae_mcmc.chain import run_chain, sampling_mode, slerp
from scorerepro.papers.ae_mcmc.experiment import load_trained
from scorerepro.papers.ae_mcmc.locations import model_dir, results_dir, samples_dir
from scorerepro.papers.ae_mcmc.measures import (frechet_to_prior, latent_frechet, movement, nearest_train_distance,
                                                per_dim_std, spearman)
from scorerepro.pipeline.common import load_train_images, resolve_device, to_uint8
from scorerepro.pipeline.divergence import upstream_divergence, write_diverged_outputs
from scorerepro.pipeline.paths import processed_dir
from scorerepro.pipeline.scoring import has_classifier, score

N_SHOWN = 16  # samples kept per image step for the figures
N_SHOWN_PAIRS = 4


class Sampler:
    """The trained networks in one batch-norm mode, run over fixed batches with per-batch seeded generators."""

    def __init__(self, exp: dict, nets: dict, batch_size: int, seed: int, stream: str, device: torch.device):
        self.exp, self.nets, self.batch_size, self.seed, self.stream = exp, nets, batch_size, seed, stream
        self.device = device

    def generator(self, what: str, index: int) -> torch.Generator:
        return seeded_generator(self.seed, f"{self.stream}:{what}", index, device=self.device)

    def encode(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return encode(self.exp["kind"], self.nets["encoder"], x, g)

    def encodings(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for b, start in enumerate(range(0, len(images), self.batch_size)):
            x = images[start:start + self.batch_size].to(self.device)
            out.append(self.encode(x, self.generator("encode", b)).cpu())
        return torch.cat(out)

    def chains(self, z0: torch.Tensor, n_steps: int, record, what: str = "chain"
               ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """run_chain over fixed batches of z0's rows; {t: (z_t, x_t)} concatenated over batches (on the CPU)."""
        parts: dict[int, list] = {}
        variance = self.exp["corruption_variance"]
        for b, start in enumerate(range(0, len(z0), self.batch_size)):
            g = self.generator(what, b)
            noise = (lambda x, g=g: corrupt(x, variance, g)) if self.exp["denoising"] else None
            res = run_chain(z0[start:start + self.batch_size].to(self.device), self.nets["decoder"],
                            lambda x, g=g: self.encode(x, g), n_steps, record, corrupt=noise)
            for t, (z, x) in res.items():
                parts.setdefault(t, []).append((z.cpu(), x.cpu()))
        return {t: (torch.cat([p[0] for p in v]), torch.cat([p[1] for p in v])) for t, v in parts.items()}


def _image_scores(images: torch.Tensor, dataset: str, params: dict, device, parzen_sets, inception: bool) -> dict:
    out = score(to_uint8(images), dataset, params, device, inception=inception, is_splits=min(10, len(images)))
    if parzen_sets is not None:
        validation, test = parzen_sets
        res = parzen_with_validation(test, validation, images.flatten(1).double())
        out.update({"parzen_log_likelihood": res.mean, "parzen_stderr": res.stderr, "parzen_sigma": res.sigma})
    return out


def reconstruction(decoded: torch.Tensor, images: torch.Tensor, mean_image: torch.Tensor) -> dict:
    """How well d(e(x)) reproduces x: its mean squared error beside that of the mean training image (what a decoder
    that ignores its code can reach), and the mean over images of the brightest decoded pixel (1 for digits at
    full contrast; a capped decoder stays below its cap)."""
    mse = float(((decoded - images) ** 2).mean())
    floor = float(((mean_image - images) ** 2).mean())
    return {"n": len(images), "mse": mse, "mse_mean_image": floor, "ratio_to_mean_image": mse / floor,
            "max_pixel_mean": float(decoded.flatten(1).max(1).values.mean())}


def latent_frechet_se(z: torch.Tensor, reference: torch.Tensor, n_boot: int = 200) -> float:
    """The bootstrap standard error, over the chains, of the Frechet distance of {z_t} to the reference codes."""
    return float(np.std(fid_bootstrap(z.double().numpy(), compute_statistics(reference), n_boot), ddof=1))


def _confidence(images: torch.Tensor, dataset: str, device) -> np.ndarray | None:
    """The MNIST classifier's top-class probability per image (None where the dataset has no classifier)."""
    if not has_classifier(dataset):
        return None
    from scorerepro.metrics.mnist_classifier import classifier_features, load_classifier
    from scorerepro.pipeline.paths import classifier_dir
    from scorerepro.pipeline.scoring import CLASSIFIER_FILE

    model, _ = load_classifier(classifier_dir(dataset) / CLASSIFIER_FILE, device=device)
    return classifier_features(model, images)[1].max(1)


def run_mode(exp: dict, nets: dict, chains: dict, params: dict, mode: str, test: torch.Tensor, train: torch.Tensor,
             device: torch.device) -> tuple[dict, dict]:
    name, dataset = exp["name"], exp["dataset"]
    steps, image_steps = chains["steps"], chains["image_steps"]
    half = len(test) // 2
    parzen_sets = (test[:half].flatten(1).double(), test[half:].flatten(1).double()) if chains["parzen"] else None
    result: dict = {"bn_mode": mode}
    shown: dict = {}
    with sampling_mode(nets, mode) as copies:
        s = Sampler(exp, copies, chains["batch_size"], params["seed"], f"ae_mcmc:{name}:{mode}", device)
        z_test = s.encodings(test)
        decoded = torch.cat([copies["decoder"](z_test[i:i + s.batch_size].to(device)).cpu()
                             for i in range(0, len(z_test), s.batch_size)])
        result["reconstruction"] = reconstruction(decoded, test, to_float(train).mean(0))
        std = per_dim_std(z_test)
        result["encodings"] = {"n": len(z_test), "per_dim_std": std.tolist(), "mean_std": float(std.mean()),
                               "fraction_dims_std_below_1": float((std < 1).mean()),
                               "frechet_to_prior": frechet_to_prior(z_test)}
        g0 = seeded_generator(params["seed"], f"ae_mcmc:{name}:z0")  # the same z_0 in both modes
        z0 = torch.randn(chains["n_samples"], exp["model"]["latent_dim"], generator=g0)
        record = sorted(set(steps) | set(image_steps))
        res = s.chains(z0, max(record), record)
        result["latent_frechet_to_encodings"] = {str(t): latent_frechet(res[t][0], z_test) for t in steps}
        result["latent_frechet_to_encodings_se"] = {str(t): latent_frechet_se(res[t][0], z_test) for t in steps}
        result["latent_frechet_to_prior"] = {str(t): frechet_to_prior(res[t][0]) for t in steps}
        result["samples"] = {str(t): _image_scores(res[t][1], dataset, params, device, parzen_sets,
                                                   chains["inception"]) for t in image_steps}
        shown["samples"] = {t: res[t][1][:N_SHOWN] for t in image_steps}
        # claim 4: the first step's movement against the initial sample's realism
        x0, x1 = res[0][1], res[1][1]
        moved = movement(x0, x1)
        dist = nearest_train_distance(x0, to_float(train))
        result["movement_vs_realism"] = {"mean_movement": float(moved.mean()),
                                         "nearest_train_distance": spearman(dist, moved)}
        conf = _confidence(x0, dataset, device)
        if conf is not None:
            result["movement_vs_realism"]["classifier_confidence"] = spearman(conf, moved)
        # claim 6: slerp between encodings of test-image pairs, before and after MCMC
        ip = chains["interpolation"]
        g = seeded_generator(params["seed"], f"ae_mcmc:{name}:pairs")
        order = torch.randperm(len(test), generator=g)[:2 * ip["n_pairs"]]
        z_pairs = z_test[order]
        path = slerp(z_pairs[0::2], z_pairs[1::2], torch.linspace(0, 1, ip["n_points"]))
        interior = path[:, 1:-1].reshape(-1, path.shape[-1])
        moved_path = s.chains(interior, ip["steps"], [0, ip["steps"]], what="interpolation")
        before, after = moved_path[0][1], moved_path[ip["steps"]][1]
        result["interpolation"] = {"n_points_scored": len(interior), "steps": ip["steps"],
                                   "before": _image_scores(before, dataset, params, device, None, chains["inception"]),
                                   "after": _image_scores(after, dataset, params, device, None, chains["inception"])}
        per_pair = ip["n_points"] - 2
        shown["interpolation"] = {"endpoints": test[order][:2 * N_SHOWN_PAIRS],
                                  "before": before[:N_SHOWN_PAIRS * per_pair], "after": after[:N_SHOWN_PAIRS * per_pair],
                                  "points_per_pair": per_pair}
    return result, shown


def run(params: dict, experiment: str) -> None:
    diverged = upstream_divergence(model_dir(experiment))
    if diverged is not None:
        write_diverged_outputs(diverged, [samples_dir(experiment) / "chains.pt", results_dir(experiment) / "chains.json"],
                               f"ae_mcmc chains {experiment}")
        return
    device = resolve_device(params)
    exp, nets = load_trained(params, experiment, device)
    chains = params["ae_mcmc"]["chains"]
    d = processed_dir(exp["dataset"])
    test_uint8, _ = load_split(d / "test.pt", d / "manifest.json")
    test = to_float(test_uint8)
    train = load_train_images(exp["dataset"])
    out: dict = {"experiment": experiment, "kind": exp["kind"], "denoising": exp["denoising"],
                 "dataset": exp["dataset"], "corruption_variance": exp["corruption_variance"],
                 "corruption_std": math.sqrt(exp["corruption_variance"]), "latent_dim": exp["model"]["latent_dim"],
                 "n_samples": chains["n_samples"], "batch_size": chains["batch_size"],
                 "parzen_protocol": ("Gaussian KDE on the samples; sigma chosen on the first half of the test split, "
                                     "mean log-likelihood of the second half" if chains["parzen"] else None),
                 "modes": {}}
    images = {}
    for mode in chains["bn_modes"]:
        print(f"ae_mcmc chains {experiment}: batch norm in {mode} mode")
        out["modes"][mode], images[mode] = run_mode(exp, nets, chains, params, mode, test, train, device)
    save_torch(samples_dir(experiment) / "chains.pt", images)
    write_json(results_dir(experiment) / "chains.json", out)
    first = out["modes"][chains["bn_modes"][0]]
    print(f"ae_mcmc chains {experiment}: latent FD to encodings {first['latent_frechet_to_encodings']}")
