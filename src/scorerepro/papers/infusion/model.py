"""Infusion training's model (Bordes, Honari & Vincent 2017): a factorial-Gaussian prior p(0), a shared transition
network with per-step batch norm, the infusion chain q, the two training objectives, sampling, and the stochastic
lower bound / importance-sampling estimate of log p(x).

Shapes: images are flattened, x in [0, 1]^D. Step t = 1..T is the transition p(t)(z(t) | z(t-1)); the infusion rate
used to draw z~(t) is alpha(t) (t = 0 for the draw from the prior), so a T-step chain uses alpha(0) .. alpha(T-1)
and the last step emits x without infusion (as in the released code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mean, var)."""
    return -0.5 * (LOG_2PI + torch.log(var) + (x - mean) ** 2 / var)


@dataclass(frozen=True)
class Schedule:
    """Infusion rates: 'increasing' alpha(t) = alpha0 + t * omega, 'constant' alpha(t) = alpha0; clipped to 1."""

    kind: str
    alpha0: float
    omega: float
    n_steps: int

    def __post_init__(self):
        if self.kind not in ("increasing", "constant"):
            raise ValueError(f"schedule must be 'increasing' or 'constant', got {self.kind!r}")

    def alpha(self, t: int) -> float:
        if self.kind == "constant":
            return min(1.0, self.alpha0)
        return min(1.0, self.alpha0 + t * self.omega)


class FactorialGaussian(nn.Module):
    """p(0): independent Gaussians with each pixel's mean and variance over the training set (+ var_floor)."""

    def __init__(self, dim: int, var_floor: float = 1e-5):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.var_floor = var_floor

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> "FactorialGaussian":
        self.mean.copy_(x.mean(0))
        self.var.copy_(x.var(0, unbiased=False) + self.var_floor)
        return self

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Per-pixel log-density."""
        return gaussian_log_density(z, self.mean, self.var)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(n, self.mean.numel(), generator=generator, device=self.mean.device)
        return self.mean + self.var.sqrt() * eps


class TransitionNet(nn.Module):
    """mu, var = f_t(z): `layers` fully connected ReLU layers of `hidden` units, each followed by a batch norm whose
    affine parameters and statistics belong to step t alone (every other weight is shared across steps); a sigmoid
    mean head and a variance head sigmoid * beta + eps. Steps past n_steps reuse the last step's batch norm."""

    def __init__(self, dim: int, hidden: int, layers: int, n_steps: int, beta: float = 0.1, eps: float = 1e-4):
        super().__init__()
        self.dim, self.n_steps, self.beta, self.eps = dim, n_steps, beta, eps
        widths = [dim] + [hidden] * layers
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        # norms[layer][step]
        self.norms = nn.ModuleList(nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(n_steps))
                                   for _ in range(layers))
        self.mean_head = nn.Linear(hidden, dim)
        self.var_head = nn.Linear(hidden, dim)

    def forward(self, z: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """step is 1-based (1..n_steps; larger reuses step n_steps)."""
        s = min(max(step, 1), self.n_steps) - 1
        h = z
        for linear, norms in zip(self.linears, self.norms):
            h = torch.relu(norms[s](linear(h)))
        return torch.sigmoid(self.mean_head(h)), torch.sigmoid(self.var_head(h)) * self.beta + self.eps


class InfusionModel(nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int, n_steps: int, beta: float = 0.1, eps: float = 1e-4):
        super().__init__()
        self.prior = FactorialGaussian(dim)
        self.net = TransitionNet(dim, hidden, layers, n_steps, beta, eps)
        self.n_steps = n_steps


def best_independent_log_likelihood(x: torch.Tensor, fit: torch.Tensor, var_low: float,
                                    var_high: float) -> torch.Tensor:
    """Per row of x: the log-likelihood under the best output a transition could learn from the images `fit` if it
    ignored its input -- a factorial Gaussian whose variances lie in the variance head's range [var_low, var_high],
    fitted by maximum likelihood to `fit` (for a Gaussian the clipped variance is the constrained optimum). A model
    whose bound does not beat it has not learned to use its input; an omega = 0 model can at best reach it. Fitted
    to the training images, not to x: fitted to a few test points it would score them in-sample, far above what any
    trained model can."""
    var = fit.var(0, unbiased=False).clamp(var_low, var_high)
    return gaussian_log_density(x, fit.mean(0), var).sum(1)


def infuse(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, alpha: float, infusion_var: float,
           generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One infusion draw: each pixel w.p. alpha from N(x, infusion_var), else from N(mean, var). Returns
    (z, mask); reparameterised (gradients flow through mean and var where the mask is 0)."""
    dev = x.device
    mask = (torch.rand(x.shape, generator=generator, device=dev) < alpha).to(x.dtype)
    e1 = torch.randn(x.shape, generator=generator, device=dev)
    e2 = torch.randn(x.shape, generator=generator, device=dev)
    target = x + math.sqrt(infusion_var) * e1
    model = mean + var.sqrt() * e2
    return mask * target + (1 - mask) * model, mask


def mixture_log_density(z, x, mean, var, alpha: float, infusion_var: float) -> torch.Tensor:
    """Per-pixel log q(z) = log((1 - alpha) N(z; mean, var) + alpha N(z; x, infusion_var))."""
    lp = gaussian_log_density(z, mean, var)
    if alpha <= 0:
        return lp
    li = gaussian_log_density(z, x, torch.full_like(x, infusion_var))
    if alpha >= 1:
        return li
    return torch.logaddexp(math.log1p(-alpha) + lp, math.log(alpha) + li)


def denoising_loss(model: InfusionModel, x: torch.Tensor, schedule: Schedule, infusion_var: float,
                   generator: torch.Generator | None) -> torch.Tensor:
    """The released code's objective: -mean_x sum_t (t/T) sum_i log p(t)(x_i | z~(t-1)) along an infusion chain
    whose states are held fixed (no gradient through the chain). The weight t/T is footnote 3's learning-rate
    schedule eta(t) = eta0 t/T. Returned per pixel (divided by D) so the learning rate does not depend on D."""
    T = schedule.n_steps
    p0 = model.prior
    with torch.no_grad():
        z, _ = infuse(x, p0.mean.expand_as(x), p0.var.expand_as(x), schedule.alpha(0), infusion_var, generator)
    total = x.new_zeros(())
    for t in range(1, T + 1):
        mean, var = model.net(z, t)
        total = total + (t / T) * gaussian_log_density(x, mean, var).sum(1).mean()
        if t < T:
            with torch.no_grad():
                z, _ = infuse(x, mean, var, schedule.alpha(t), infusion_var, generator)
    return -total / x.shape[1]


def _chain_parts(model: InfusionModel, x: torch.Tensor, schedule: Schedule, infusion_var: float,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One infusion chain per row of x: (the log-weight terms of steps 0..T-1, the last step's mean and variance)."""
    T = schedule.n_steps
    p0 = model.prior
    pm, pv = p0.mean.expand_as(x), p0.var.expand_as(x)
    a = schedule.alpha(0)
    z, _ = infuse(x, pm, pv, a, infusion_var, generator)
    logw = (gaussian_log_density(z, pm, pv) - mixture_log_density(z, x, pm, pv, a, infusion_var)).sum(1)
    for t in range(1, T):
        mean, var = model.net(z, t)
        a = schedule.alpha(t)
        z_next, _ = infuse(x, mean, var, a, infusion_var, generator)
        logw = logw + (gaussian_log_density(z_next, mean, var)
                       - mixture_log_density(z_next, x, mean, var, a, infusion_var)).sum(1)
        z = z_next
    mean, var = model.net(z, T)
    return logw, mean, var


def chain_log_weights(model: InfusionModel, x: torch.Tensor, schedule: Schedule, infusion_var: float,
                      generator: torch.Generator | None, last_var: float | None = None,
                      keep_graph: bool = False) -> torch.Tensor:
    """Eq. 3 for one infusion chain per row of x: log p(z~, x) - log q(z~ | x), summed over pixels. Its mean over
    chains is the stochastic lower bound; log-mean-exp over k chains the importance-sampling estimate of log p(x).
    last_var: replace the last step's per-pixel variance by this scalar (the isotropic-output variant)."""
    with torch.enable_grad() if keep_graph else torch.no_grad():
        logw, mean, var = _chain_parts(model, x, schedule, infusion_var, generator)
        if last_var is not None:
            var = torch.full_like(var, last_var)
        return logw + gaussian_log_density(x, mean, var).sum(1)


def lower_bound_loss(model: InfusionModel, x: torch.Tensor, schedule: Schedule, infusion_var: float,
                     generator: torch.Generator | None) -> torch.Tensor:
    """The paper's other variant: maximise the stochastic lower bound with reparameterised gradients through the
    chain (per pixel)."""
    return -chain_log_weights(model, x, schedule, infusion_var, generator, keep_graph=True).mean() / x.shape[1]


@torch.no_grad()
def log_likelihood_estimates(model: InfusionModel, x: torch.Tensor, schedule: Schedule, infusion_var: float,
                             k: int, generator: torch.Generator | None, batch_size: int = 256,
                             isotropic_var: float | None = None):
    """Per example: (lower bound = mean of the k chains' log-weights, IS estimate = their log-mean-exp); with
    isotropic_var also the IS estimate of the isotropic-output variant from the same chains (a third tensor)."""
    lbs, iss, isos = [], [], []
    rows = max(1, batch_size // k)
    for start in range(0, x.shape[0], rows):
        xb = x[start:start + rows]
        rep = xb.repeat_interleave(k, 0)
        prefix, mean, var = _chain_parts(model, rep, schedule, infusion_var, generator)
        w = (prefix + gaussian_log_density(rep, mean, var).sum(1)).view(-1, k)
        lbs.append(w.mean(1))
        iss.append(torch.logsumexp(w, 1) - math.log(k))
        if isotropic_var is not None:
            wi = (prefix + gaussian_log_density(rep, mean, torch.full_like(var, isotropic_var)).sum(1)).view(-1, k)
            isos.append(torch.logsumexp(wi, 1) - math.log(k))
    if isotropic_var is None:
        return torch.cat(lbs), torch.cat(iss)
    return torch.cat(lbs), torch.cat(iss), torch.cat(isos)


@torch.no_grad()
def sample_chain(model: InfusionModel, n: int, n_steps: int, generator: torch.Generator | None,
                 clamp: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Run the model's chain for n_steps from p(0); returns the means mu(t) of every step, (n_steps + 1, n, D)
    with index 0 the prior draw. clamp=(values, mask): pixels where mask is 1 are reset to values after every
    step (inpainting)."""
    z = model.prior.sample(n, generator)
    if clamp is not None:
        z = torch.where(clamp[1].bool(), clamp[0], z)
    means = [z.clamp(0, 1)]
    for t in range(1, n_steps + 1):
        mean, var = model.net(z, t)
        z = mean + var.sqrt() * torch.randn(mean.shape, generator=generator, device=mean.device)
        shown = mean
        if clamp is not None:
            z = torch.where(clamp[1].bool(), clamp[0], z)
            shown = torch.where(clamp[1].bool(), clamp[0], mean)
        means.append(shown)
    return torch.stack(means)


@torch.no_grad()
def infusion_chain_means(model: InfusionModel, x: torch.Tensor, schedule: Schedule, infusion_var: float,
                         generator: torch.Generator | None) -> torch.Tensor:
    """States z~(0..T-1) of the infusion chain towards x followed by the last step's mean (Fig. 2)."""
    p0 = model.prior
    z, _ = infuse(x, p0.mean.expand_as(x), p0.var.expand_as(x), schedule.alpha(0), infusion_var, generator)
    states = [z]
    for t in range(1, schedule.n_steps + 1):
        mean, var = model.net(z, t)
        if t == schedule.n_steps:
            states.append(mean)
            break
        z, _ = infuse(x, mean, var, schedule.alpha(t), infusion_var, generator)
        states.append(z)
    return torch.stack(states).clamp(0, 1)


@torch.no_grad()
def calibrate_batch_norm(model: InfusionModel, x_train: torch.Tensor, schedule: Schedule, infusion_var: float,
                         generator: torch.Generator | None, batch_size: int = 500) -> None:
    """Appendix A.1: test-time batch-norm statistics per step over the whole training set. Each step's statistics
    are the average over all training batches (torch's cumulative average, momentum=None) of the batch statistics
    its inputs z~(t-1) have along the infusion chain, the inputs it saw in training. Leaves the model in eval mode."""
    net = model.net
    saved = []
    for norms in net.norms:
        for bn in norms:
            saved.append(bn.momentum)
            bn.reset_running_stats()
            bn.momentum = None
    net.train()
    p0 = model.prior
    for start in range(0, x_train.shape[0], batch_size):
        x = x_train[start:start + batch_size]
        if x.shape[0] < 2:
            continue
        z, _ = infuse(x, p0.mean.expand_as(x), p0.var.expand_as(x), schedule.alpha(0), infusion_var, generator)
        for t in range(1, schedule.n_steps + 1):
            mean, var = net(z, t)
            if t < schedule.n_steps:
                z, _ = infuse(x, mean, var, schedule.alpha(t), infusion_var, generator)
    it = iter(saved)
    for norms in net.norms:
        for bn in norms:
            bn.momentum = next(it)
    model.eval()
