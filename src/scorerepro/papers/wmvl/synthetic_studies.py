"""The synthetic experiments of seed 004: estimator bias and variance on the banana (section 6.1.1, Fig. 1), CD-1
with and without the control variate on the cosine data (appendix E.1.2, Fig. 3), and energies on S^1 and S^2
learned with Riemannian MVL (section 6.1.2, Fig. 2; appendix E.1.3, Fig. 4). Each returns a JSON-ready dict."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from scorerepro.data.synthetic import Banana, Cosine, VonMisesFisherMixture
from scorerepro.papers.wmvl import estimators as est
from scorerepro.papers.wmvl.energies import InnerProductEnergy
from scorerepro.papers.wmvl.sphere import riemannian_mvl


def _energy(dim: int, hidden: int, activation: str, spectral_norm: bool, seed: int) -> InnerProductEnergy:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return InnerProductEnergy(dim, hidden, 2, activation, spectral_norm)


def train_energy(net: torch.nn.Module, sample, loss_fn, n_iters: int, lr: float, seed: int, desc: str,
                 dtype=torch.float32) -> list[float]:
    """Adam on loss_fn(net, batch, generator) with a fresh batch from sample(generator) every iteration."""
    net.to(dtype)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _ in tqdm(range(n_iters), desc=desc, leave=False):
        loss = loss_fn(net, sample(gen).to(dtype), gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def _np_rng(gen: torch.Generator) -> np.random.Generator:
    return np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,), generator=gen)))


# --------------------------------------------------------------------------------------------- banana (Fig. 1)

def _per_sample(fn, x: torch.Tensor, chunk: int) -> torch.Tensor:
    return torch.cat([fn(x[i:i + chunk]).detach() for i in range(0, x.shape[0], chunk)])


def bias_variance_study(*, eps_grid: list[float], n_batches: int, batch_size: int, train_iters: int,
                        train_batch: int, lr: float, train_eps: float, hidden: int, z_test_eps: float,
                        rescale: bool, chunk: int, seed: int) -> dict:
    """Train the banana EBM with MVL, then over K = n_batches batches of M = batch_size points (float64) compare the
    MVL and variance-reduced-DSM estimates, with and without the control variate, to SSM (one projection) on the same
    points. squared_bias follows appendix E.1.1: (1/K) sum_k ((1/M) sum_m (L_SSM - L_ours))^2; variance is the
    variance over k of the batch means of L_ours. The z-test is paired, on all K*M points."""
    dist = Banana()
    net = _energy(2, hidden, "swish", True, seed)
    train_energy(net, lambda g: torch.from_numpy(dist.sample(train_batch, _np_rng(g))),
                 lambda n, x, g: est.mvl_langevin(n, x, train_eps, rescale=rescale, generator=g).mean(),
                 train_iters, lr, seed, "banana EBM")
    net.double().eval()
    gen = torch.Generator().manual_seed(seed + 1)
    n = n_batches * batch_size
    x = torch.from_numpy(dist.sample(n, _np_rng(gen)))
    ssm = _per_sample(lambda c: est.sliced_sm(net, c, generator=gen), x, chunk)
    exact = _per_sample(lambda c: est.exact_sm(net, c), x, chunk)
    rows = []
    for eps in tqdm(eps_grid, desc="eps grid", leave=False):
        noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
        for name, fn in (("mvl", est.mvl_langevin), ("dsm", est.dsm_variance_reduced)):
            for cv in (False, True):
                def one(i0, fn=fn, cv=cv, eps=eps):
                    xs, ns = x[i0:i0 + chunk], noise[i0:i0 + chunk]
                    kw = {"rescale": rescale} if fn is est.mvl_langevin else {}
                    return fn(net, xs, eps, noise=ns, control_variate=cv, **kw).detach()
                values = torch.cat([one(i) for i in range(0, n, chunk)])
                # DSM estimates 2 x the SM objective (Eq. 15): halve it so both compare with SSM on one scale.
                values = values / 2 if name == "dsm" else values
                diff = (ssm - values).view(n_batches, batch_size).mean(1)
                batch_means = values.view(n_batches, batch_size).mean(1)
                d = values - ssm
                z = float(d.mean() / (d.std() / math.sqrt(n)))
                rows.append({"estimator": name, "control_variate": cv, "eps": eps,
                             "squared_bias": float((diff ** 2).mean()), "variance": float(batch_means.var()),
                             "mean": float(values.mean()), "mean_minus_ssm": float(d.mean()),
                             "z": z, "p_value": float(2 * stats.norm.sf(abs(z)))})
    return {"settings": {"eps_grid": eps_grid, "K": n_batches, "M": batch_size, "train_iters": train_iters,
                         "train_batch": train_batch, "lr": lr, "train_eps": train_eps, "hidden": hidden,
                         "rescale": rescale, "z_test_eps": z_test_eps, "optimizer": "adam", "dtype": "float64"},
            "ssm_mean": float(ssm.mean()), "ssm_variance_of_batch_mean": float(ssm.view(n_batches, -1).mean(1).var()),
            "exact_sm_mean": float(exact.mean()), "rows": rows}


# ---------------------------------------------------------------------------------------------- cosine (Fig. 3)

def cd1_study(*, step_sizes: list[float], n_runs: int, n_iters: int, batch_size: int, lr: float, hidden: int,
              n_eval: int, seed: int) -> dict:
    """CD-1 with and without the control variate, trained on the cosine data for each step size and run; the
    score-matching loss after training is exact SM (the Hessian trace is exact in 2-D; SSM estimates the same
    number) on n_eval fresh points, float64."""
    dist = Cosine()
    eval_x = torch.from_numpy(dist.sample(n_eval, np.random.default_rng(seed + 7)))
    rows = []
    for step in step_sizes:
        for run in range(n_runs):
            for cv in (False, True):
                net = _energy(2, hidden, "swish", True, seed + 100 * run)
                run_seed = seed + 1000 * run + 17
                train_energy(net, lambda g: torch.from_numpy(dist.sample(batch_size, _np_rng(g))),
                             lambda n, x, g, step=step, cv=cv: est.cd1(n, x, step, control_variate=cv,
                                                                       generator=g).mean(),
                             n_iters, lr, run_seed, f"CD-1 eps={step:g} cv={cv} run {run}")
                net.double().eval()
                sm = float(_per_sample(lambda c: est.exact_sm(net, c), eval_x, 5000).mean())
                rows.append({"step_size": step, "run": run, "control_variate": cv,
                             "sm_loss": sm if math.isfinite(sm) else None})
    return {"settings": {"step_sizes": step_sizes, "n_runs": n_runs, "n_iters": n_iters, "batch_size": batch_size,
                         "lr": lr, "hidden": hidden, "n_eval": n_eval, "optimizer": "adam"}, "rows": rows}


# --------------------------------------------------------------------------------------- S^1, S^2 (Figs. 2, 4)

def sphere_grid(dim: int, n: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Points on S^1 (n angles) or S^2 (n polar x 2n azimuth cells) with their area weights, and the grid shape."""
    if dim == 2:
        theta = (np.arange(n) + 0.5) * 2 * np.pi / n
        return VonMisesFisherMixture.from_angles(theta), np.full(n, 2 * np.pi / n), (n,)
    polar = (np.arange(n) + 0.5) * np.pi / n
    azimuth = (np.arange(2 * n) + 0.5) * np.pi / n
    pp, aa = np.meshgrid(polar, azimuth, indexing="ij")
    w = np.sin(pp) * (np.pi / n) ** 2
    return VonMisesFisherMixture.from_spherical(pp.ravel(), aa.ravel()), w.ravel(), (n, 2 * n)


def sphere_energy_study(dist: VonMisesFisherMixture, *, n_iters: int, batch_size: int, lr: float, eps: float,
                        hidden: int, rescale: bool, grid: int, seed: int, desc: str) -> dict:
    """Learn E(y) = y^T psi(y) (tanh, 2 hidden layers) on S^(d-1) with Riemannian MVL, fresh samples every
    iteration (as the authors' notebook), float64 (eps is tiny); then normalise exp(-E) numerically on a grid and
    compare with the true log-density: KL(p || q_model) and the largest absolute log-density error."""
    dim = dist.dim if hasattr(dist, "dim") else np.asarray(dist.means).shape[1]
    net = _energy(dim, hidden, "tanh", False, seed)
    losses = train_energy(net, lambda g: torch.from_numpy(dist.sample(batch_size, _np_rng(g))),
                          lambda n, y, g: riemannian_mvl(n, y, eps, rescale=rescale, generator=g).mean(),
                          n_iters, lr, seed, desc, dtype=torch.float64)
    net.eval()
    pts, w, shape = sphere_grid(dim, grid)
    with torch.no_grad():
        neg_e = -net(torch.from_numpy(pts)).numpy()
    log_z = np.log(np.sum(np.exp(neg_e - neg_e.max()) * w)) + neg_e.max()
    log_model = neg_e - log_z
    log_true = np.asarray(dist.log_prob(pts), dtype=np.float64)
    p = np.exp(log_true)
    kl = float(np.sum(p * (log_true - log_model) * w))
    return {"settings": {"n_iters": n_iters, "batch_size": batch_size, "lr": lr, "eps": eps, "hidden": hidden,
                         "rescale": rescale, "grid": grid, "optimizer": "adam", "dtype": "float64"},
            "kl_true_to_model": kl, "max_abs_log_density_error": float(np.max(np.abs(log_true - log_model))),
            "true_mass_on_grid": float(np.sum(p * w)), "final_loss": losses[-1],
            "grid_shape": list(shape), "log_true": log_true.tolist(), "log_model": log_model.tolist()}
