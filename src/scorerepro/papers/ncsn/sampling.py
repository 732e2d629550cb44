"""Langevin samplers: plain, annealed (NCSN) and annealed inpainting with an arbitrary mask.

Step convention (the official ``anneal_runner.py``): one update is

    x <- x + step * s(x) + sqrt(2 * step) * z,   z ~ N(0, I),

which is the paper's x + (a / 2) s + sqrt(a) z with a = 2 * step. The official *toy* runner
(``toy_runner.py``) writes its updates in the paper's form, so its ``lr`` is ``a``: its lr = 0.1 is
``step_lr = 0.05`` here. Seed 000's epsilon is also the paper's a.

Annealed sampling: for level i (sigma_1 > ... > sigma_L) the step is step_lr * (sigma_i / sigma_L)^2 and
``n_steps_each`` updates use ``score_net(x, labels)`` with ``labels`` filled with i (0-based).

The chain is never clamped. ``clamp_output=True`` clamps what is returned (samples and snapshots) to [0, 1],
as the official code does to each copy it saves for display.

No host-device synchronisation happens per step: a device-side counter records the first step at which the
state stopped being finite, and it is read once per noise level (or once per ``check_every`` steps in
:func:`langevin`). A non-finite chain raises :class:`SamplingDivergedError` naming level, sigma and step.

Divergence before overflow. A chain can blow up and stay finite (a RefineNet's instance norms keep its score
bounded far from the data, so a huge step makes a random walk of size 1e5, not an overflow); clamped, its samples
are all 0 or 255 and would be scored like samples. Given ``bounds=(lo, hi)``, the same per-step device-side test
also fails once any value leaves [lo, hi], so such a chain raises :class:`SamplingDivergedError` at the first step
outside. :func:`escape_bounds` gives the bounds the image stages use: the data range widened by
``ESCAPE_FACTOR * (data width + sigma_1)`` on each side ([-100, 101] for images in [0, 1] with sigma_1 = 1).
Measured (README, Reliability): sane chains stray at most 3.7 such units outside the data range (trained
quick-profile RefineNet, 100 steps per level) and 2.9 (toy GMM samplers at every stable eps), so a factor of 50
leaves a margin above 13; a diverging chain crosses it within a few steps of its noise level. The test reads
the state only, so it changes no random number and no value: a sane chain's samples are bit-identical with or
without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from scorerepro.core.errors import EXIT_DIVERGED, UserError

__all__ = [
    "SamplingDivergedError",
    "SamplingResult",
    "ESCAPE_FACTOR",
    "escape_bounds",
    "langevin",
    "annealed_langevin",
    "annealed_inpaint",
    "right_half_mask",
    "bottom_half_mask",
    "center_square_mask",
    "checkerboard_mask",
    "random_pixels_mask",
]

#: Official CIFAR-10 sampling settings.
DEFAULT_STEP_LR = 2e-5
#: Official inpainting default (``anneal_Langevin_dynamics_inpainting``'s step_lr).
DEFAULT_INPAINT_STEP_LR = 8e-6
#: How far outside the data range a chain may go, in units of (data width + largest sigma): see the module doc.
ESCAPE_FACTOR = 50.0


def escape_bounds(data_range: tuple[float, float], sigma_max: float,
                  factor: float = ESCAPE_FACTOR) -> tuple[float, float]:
    """[lo, hi] of `data_range` widened by ``factor * (hi - lo + sigma_max)`` on each side. At the largest noise
    level a sane chain holds data + sigma_max * N(0, 1) (a few sigma_max from the data at most), so the margin
    grows with sigma_max; a chain outside it has diverged whether or not its values are still finite."""
    lo, hi = (float(v) for v in data_range)
    margin = float(factor) * ((hi - lo) + float(sigma_max))
    if not (hi > lo and margin > 0 and math.isfinite(margin)):
        raise ValueError(f"need a data range lo < hi and a finite positive margin, got {data_range}, "
                         f"sigma_max={sigma_max}, factor={factor}")
    return lo - margin, hi + margin


class SamplingDivergedError(UserError, RuntimeError):
    """The Langevin chain became non-finite (overflow or NaN), or left the ``bounds`` it was given.

    Attributes:
        level: 1-based noise level (1 = largest sigma), None for plain Langevin.
        num_levels: number of noise levels, None for plain Langevin.
        sigma: that level's sigma, None for plain Langevin.
        step: 1-based update within the level (or within the whole chain for plain Langevin) after which
            the state first held a non-finite value (or, with bounds, a value outside them).
        n_steps: updates per level (or in total for plain Langevin).
        step_size: the step size in use at that update.
        bounds: the (lo, hi) the chain was held to, or None (then only non-finite values count).
        extent: max |x| of the state when the divergence was read (the end of that level), inf/nan if non-finite.
    """

    label, exit_code = "sampling diverged", EXIT_DIVERGED

    def __init__(self, step: int, n_steps: int, step_size: float, level: int | None = None,
                 num_levels: int | None = None, sigma: float | None = None,
                 bounds: tuple[float, float] | None = None, extent: float | None = None):
        self.level, self.num_levels, self.sigma = level, num_levels, sigma
        self.step, self.n_steps, self.step_size = step, n_steps, step_size
        self.bounds, self.extent = bounds, extent
        if level is None:
            where = f"step {step} of {n_steps} (step size {step_size:.4g})"
            advice = "lower the step size"
        else:
            where = (f"noise level {level}/{num_levels} (sigma={sigma:.4g}), step {step} of {n_steps} "
                     f"(step size {step_size:.4g})")
            advice = ("lower step_lr (the step at level i is step_lr * (sigma_i / sigma_L)^2, so a large "
                      "sigma_1 / sigma_L ratio needs a small step_lr) or raise sigma_end")
        super().__init__(f"Langevin chain diverged ({self.what()}) at {where}: {advice}")

    def what(self) -> str:
        if self.bounds is None:
            return "non-finite values"
        seen = "" if self.extent is None else (
            f", max |x| {self.extent:.3g} at the end of the level" if math.isfinite(self.extent)
            else ", non-finite by the end of the level")
        return f"left [{self.bounds[0]:.4g}, {self.bounds[1]:.4g}], far outside the data range{seen}"

    def record(self) -> dict:
        """JSON-ready: where it diverged and the message (for tables that record divergence as data)."""
        return {"level": self.level, "num_levels": self.num_levels, "sigma": self.sigma, "step": self.step,
                "n_steps": self.n_steps, "step_size": self.step_size, "message": str(self)}


@dataclass
class SamplingResult:
    """``samples``: the final state (N, ...). ``snapshots``: (L, N, ...) state at the end of each level, or None."""

    samples: torch.Tensor
    snapshots: torch.Tensor | None = None


class _DivergenceTracker:
    """Device-side record of the first bad step (non-finite, or outside `bounds`), read only by :meth:`first_bad`.

    Per step it costs one reduction over the state, as the finiteness test alone did: with bounds, aminmax reads
    the state once without a full-size temporary, and NaN propagates through it, so NaN fails the test too."""

    def __init__(self, n_steps: int, device: torch.device, bounds: tuple[float, float] | None = None):
        self.never = n_steps
        self.bounds = bounds
        self.steps = torch.arange(n_steps, device=device)
        self.first = torch.full((), n_steps, dtype=torch.long, device=device)
        self._never_t = torch.full((), n_steps, dtype=torch.long, device=device)

    def reset(self) -> None:
        self.first.fill_(self.never)

    def _ok(self, x: torch.Tensor) -> torch.Tensor:
        if self.bounds is None or x.numel() == 0:
            return torch.isfinite(x).all()
        low, high = torch.aminmax(x)
        return (low >= self.bounds[0]) & (high <= self.bounds[1])

    def update(self, x: torch.Tensor, step: int) -> None:
        bad_here = torch.where(self._ok(x), self._never_t, self.steps[step])
        torch.minimum(self.first, bad_here, out=self.first)

    def first_bad(self) -> int | None:
        first = int(self.first.item())  # the one synchronisation per check
        return None if first >= self.never else first


def _extent(x: torch.Tensor) -> float:
    """max |x| (inf or nan when non-finite); read only on the way to an error."""
    return float(x.detach().abs().amax()) if x.numel() else 0.0


def _check_bounds(bounds) -> tuple[float, float] | None:
    if bounds is None:
        return None
    lo, hi = (float(v) for v in bounds)
    if not lo < hi:
        raise ValueError(f"bounds must be (lo, hi) with lo < hi, got {bounds!r}")
    return lo, hi


def _labels(n: int, level: int, device) -> torch.Tensor:
    return torch.full((n,), level, dtype=torch.long, device=device)


def _check_common(x: torch.Tensor, n_steps: int, step: float, what: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError(f"x must be a tensor with a batch dimension, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"{what} must be a positive integer, got {n_steps!r}")
    if not math.isfinite(step) or step <= 0:
        raise ValueError(f"step size must be a finite positive number, got {step!r}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("the initial state x holds non-finite values; start from finite values")


def _sigma_list(sigmas) -> list[float]:
    s = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if s.numel() == 0:
        raise ValueError("sigmas is empty; pass at least one noise level")
    values = s.tolist()  # one synchronisation, before sampling starts
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"sigmas must be finite and positive, got {values}")
    return values


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _finish(x: torch.Tensor, snaps: list[torch.Tensor] | None, clamp_output: bool) -> SamplingResult:
    out = x.clamp(0.0, 1.0) if clamp_output else x
    snapshots = None
    if snaps is not None:
        snapshots = torch.stack(snaps)
        if clamp_output:
            snapshots = snapshots.clamp(0.0, 1.0)
    return SamplingResult(out, snapshots)


def langevin(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator | None = None,
    clamp_output: bool = False,
    check_every: int = 100,
    bounds: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Plain Langevin dynamics ``x <- x + step_size * s(x) + sqrt(2 step_size) z`` for ``n_steps`` updates.

    ``score_fn(x)`` returns the score. The official toy runner's ``lr`` equals ``2 * step_size`` (module doc):
    its Figure-3 setting lr = 0.1, 1000 steps is ``step_size=0.05, n_steps=1000``. Finiteness is checked
    every ``check_every`` updates (and, given ``bounds=(lo, hi)``, that every value stays inside them); returns
    the final state (clamped to [0, 1] only if ``clamp_output``).
    """
    step_size = float(step_size)
    _check_common(x, n_steps, step_size, "n_steps")
    if int(check_every) != check_every or check_every < 1:
        raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
    bounds = _check_bounds(bounds)
    noise_scale = math.sqrt(2.0 * step_size)
    tracker = _DivergenceTracker(n_steps, x.device, bounds)
    with torch.no_grad():
        x = x.clone()
        for t in range(n_steps):
            z = _randn_like(x, generator)
            x = x + step_size * score_fn(x) + noise_scale * z
            tracker.update(x, t)
            if (t + 1) % check_every == 0 or t + 1 == n_steps:
                bad = tracker.first_bad()
                if bad is not None:
                    raise SamplingDivergedError(bad + 1, n_steps, step_size, bounds=bounds, extent=_extent(x))
    return x.clamp(0.0, 1.0) if clamp_output else x


def _progress(iterable, enabled: bool, desc: str, total: int):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc)


def annealed_langevin(
    score_net: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigmas,
    n_steps_each: int = 100,
    step_lr: float = DEFAULT_STEP_LR,
    generator: torch.Generator | None = None,
    snapshots: bool = False,
    progress: bool = False,
    clamp_output: bool = False,
    bounds: tuple[float, float] | None = None,
) -> SamplingResult:
    """Annealed Langevin dynamics (official ``anneal_Langevin_dynamics``).

    For each level i (0-based label, sigmas largest first): step_i = step_lr * (sigma_i / sigma_L)^2, then
    ``n_steps_each`` updates x <- x + step_i * score_net(x, labels) + sqrt(2 step_i) z, with ``labels`` a
    LongTensor (N,) filled with i. In the paper's notation x + (a_i / 2) s + sqrt(a_i) z this is
    a_i = 2 step_i, i.e. the paper's epsilon is 2 * step_lr (official images: step_lr = 2e-5, 100 steps).

    Args:
        score_net: ``net(x, labels)``; any callable.
        x: initial state (N, ...); the official image sampler starts from U(0, 1).
        sigmas: noise levels, largest first, as used in training (labels index into them).
        generator: source of the Langevin noise; must live on ``x.device``.
        snapshots: also return the state at the end of every level, stacked as (L, N, ...).
        progress: show a tqdm bar over levels.
        clamp_output: clamp the returned samples and snapshots to [0, 1] (the chain itself never is).
        bounds: (lo, hi) every value of the chain must stay within (e.g. :func:`escape_bounds`); None: only
            non-finite values count as divergence.

    Raises:
        SamplingDivergedError: the chain went non-finite (or left ``bounds``); checked once per level.
    """
    sig = _sigma_list(sigmas)
    step_lr = float(step_lr)
    _check_common(x, n_steps_each, step_lr, "n_steps_each")
    with torch.no_grad():
        return _anneal(score_net, x.clone(), sig, n_steps_each, step_lr, generator, snapshots,
                       progress, "annealed Langevin", clamp_output, bounds=_check_bounds(bounds))


def _anneal(score_net, x: torch.Tensor, sig: list[float], n_steps_each: int, step_lr: float,
            generator: torch.Generator | None, snapshots: bool, progress: bool, desc: str, clamp_output: bool,
            pin: Callable[[int], Callable[[torch.Tensor], torch.Tensor]] | None = None,
            bounds: tuple[float, float] | None = None) -> SamplingResult:
    """The annealed Langevin chain from `x` (arguments checked by the caller, under no_grad). `pin(i)`, if given, is
    called at the start of level i and returns the map applied to the state then and after every update of that
    level (inpainting's known pixels). `bounds`: see :class:`_DivergenceTracker`."""
    n, num_levels = x.shape[0], len(sig)
    tracker = _DivergenceTracker(n_steps_each, x.device, bounds)
    snaps: list[torch.Tensor] | None = [] if snapshots else None
    for i in _progress(range(num_levels), progress, desc, num_levels):
        labels = _labels(n, i, x.device)
        step = step_lr * (sig[i] / sig[-1]) ** 2
        noise_scale = math.sqrt(2.0 * step)
        keep = pin(i) if pin is not None else None
        if keep is not None:
            x = keep(x)
        tracker.reset()
        for t in range(n_steps_each):
            z = _randn_like(x, generator)
            x = x + step * score_net(x, labels) + noise_scale * z
            if keep is not None:
                x = keep(x)
            tracker.update(x, t)
        bad = tracker.first_bad()
        if bad is not None:
            raise SamplingDivergedError(bad + 1, n_steps_each, step, level=i + 1, num_levels=num_levels,
                                        sigma=sig[i], bounds=bounds, extent=_extent(x))
        if snaps is not None:
            snaps.append(x.clone())
    return _finish(x, snaps, clamp_output)


def annealed_inpaint(
    score_net: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x_ref: torch.Tensor,
    mask: torch.Tensor,
    sigmas,
    n_steps_each: int = 100,
    step_lr: float = DEFAULT_INPAINT_STEP_LR,
    generator: torch.Generator | None = None,
    snapshots: bool = False,
    progress: bool = False,
    clamp_output: bool = False,
    bounds: tuple[float, float] | None = None,
) -> SamplingResult:
    """Annealed Langevin inpainting (official ``anneal_Langevin_dynamics_inpainting``) with any binary mask.

    ``mask == 1`` marks known pixels, ``mask == 0`` the ones to fill; it must broadcast to ``x_ref``'s shape
    (e.g. (H, W), (1, 1, H, W) or x_ref's own shape). The unknown part starts from U(0, 1). At level i a
    noisy copy y_i = x_ref + sigma_i * z_i is drawn once; the known pixels are set to y_i at the start of the
    level and again after every update, as in the official code (which reuses the same y_i for the whole
    level). So the returned known pixels equal x_ref + sigma_L * z_L, not x_ref. To draw several completions
    per reference, repeat ``x_ref`` along the batch (e.g. ``repeat_interleave``).

    The official default ``step_lr`` is 8e-6 (its CIFAR-10/CelebA runs passed 2e-5). Other arguments and
    errors as in :func:`annealed_langevin`.
    """
    sig = _sigma_list(sigmas)
    step_lr = float(step_lr)
    _check_common(x_ref, n_steps_each, step_lr, "n_steps_each")
    mask = torch.as_tensor(mask, device=x_ref.device)
    try:
        known = torch.broadcast_to(mask, x_ref.shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to x_ref's shape {tuple(x_ref.shape)}"
        ) from None
    if not bool(((known == 0) | (known == 1)).all()):
        raise ValueError("mask must be binary: 1 for known pixels, 0 for pixels to inpaint")
    known = known.to(torch.bool)

    def pin(level: int):
        # One noisy copy of the reference per level, as the official code draws it.
        y = x_ref + sig[level] * _randn_like(x_ref, generator)
        return lambda x: torch.where(known, y, x)

    with torch.no_grad():
        x = torch.rand(x_ref.shape, generator=generator, device=x_ref.device, dtype=x_ref.dtype)
        return _anneal(score_net, x, sig, n_steps_each, step_lr, generator, snapshots,
                       progress, "annealed inpainting", clamp_output, pin=pin, bounds=_check_bounds(bounds))


# Masks: 1 = known pixel, 0 = pixel to inpaint. Each is named after the region that is MISSING, and has shape
# (H, W) so it broadcasts over batch and channels.

def _hw(shape) -> tuple[int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or shape[-1] < 1 or shape[-2] < 1:
        raise ValueError(f"shape must end in (H, W) with H, W >= 1, got {shape}")
    return shape[-2], shape[-1]


def right_half_mask(shape, device=None) -> torch.Tensor:
    """The official task: the right half (columns W//2 onwards) is missing, the left half known."""
    h, w = _hw(shape)
    m = torch.zeros(h, w, device=device)
    m[:, : w // 2] = 1.0
    return m


def bottom_half_mask(shape, device=None) -> torch.Tensor:
    """The bottom half (rows H//2 onwards) is missing."""
    h, w = _hw(shape)
    m = torch.zeros(h, w, device=device)
    m[: h // 2, :] = 1.0
    return m


def center_square_mask(shape, size: int | None = None, device=None) -> torch.Tensor:
    """A centred ``size`` x ``size`` square is missing (default: half the smaller side)."""
    h, w = _hw(shape)
    size = min(h, w) // 2 if size is None else int(size)
    if not 1 <= size <= min(h, w):
        raise ValueError(f"size must be between 1 and {min(h, w)} for a {h}x{w} image, got {size}")
    m = torch.ones(h, w, device=device)
    top, left = (h - size) // 2, (w - size) // 2
    m[top: top + size, left: left + size] = 0.0
    return m


def checkerboard_mask(shape, block: int = 4, device=None) -> torch.Tensor:
    """Alternate ``block`` x ``block`` squares are missing (the top-left block is known)."""
    h, w = _hw(shape)
    if int(block) != block or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    rows = torch.arange(h, device=device) // block
    cols = torch.arange(w, device=device) // block
    return ((rows[:, None] + cols[None, :]) % 2 == 0).to(torch.float32)


def random_pixels_mask(shape, p: float, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Each pixel is missing independently with probability ``p``; ``generator`` must live on ``device``."""
    h, w = _hw(shape)
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    u = torch.rand(h, w, generator=generator, device=device)
    return (u >= p).to(torch.float32)
