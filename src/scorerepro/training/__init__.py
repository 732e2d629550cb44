"""Training: one loop for every paper's networks, with self-describing checkpoints, exact resume, EMA, DDP.

The library knows nothing of params.yaml: a pipeline stage builds a config, its networks, a step function (or, for
one score network, a loss function) and a batch source, and calls `train_loop` (or `train`). Layout of `out_dir`:

    checkpoints/checkpoint_{step}.pt   every snapshot_freq updates, and at the last update
    checkpoints/latest.pt              hard link to (or copy of) the newest checkpoint
    loss.csv                           step,<losses>,<lr> one row per update (DVC plots: x=step, y=loss)
    final.pt                           hard link to (or copy of) checkpoint_{n_iters}.pt, written at the end
    completed.json                     its presence means the run finished
    diverged.json                      instead of final.pt and completed.json: the run diverged (training.divergence)
    outcome.json                       written last by every call that ends: {"outcome": finished | diverged, "step"}
    .train.lock                        while a trainer runs: who holds the folder (removed at the end)

A run that has to start afresh moves its predecessor to `<out_dir>.superseded/<UTC time>/`.

`step` everywhere means "number of optimiser steps done": checkpoint_5000.pt holds the weights after 5,000 updates
(as in ermongroup/ncsn, whose loop increments the counter before updating and saves when it divides
snapshot_freq). The update that produces step k uses batch index k-1: `data.batch_for_step(k - 1, generator)`.
An update may step several optimisers (a discriminator, then a generator): it is still one step.

Randomness. Every update draws its batch from a fresh CPU generator and its noise from a fresh generator on the
training device, both seeded from (seed, update index) by hashing. So a batch depends only on the seed and the
step, not on history, and a resumed run sees exactly the batches an uninterrupted run would. The global RNGs
(torch CPU/CUDA, numpy, python `random`; used e.g. by dropout) are seeded at a fresh start and saved in every
checkpoint, per rank, and restored on resume. Exact resume is bitwise on the CPU; CUDA kernels (atomics in
convolution backward) are not bitwise deterministic, so on a GPU resume is exact up to that.

Data parallelism. The batch source returns the GLOBAL batch (batch_size rows, identical on every rank); each rank
trains on its contiguous slice. The step function gets a `StepRNG`, whose draws are made for the whole global
batch and then sliced, so rank r's per-sample noise is exactly what a single process would have drawn for those
rows. With DDP's gradient averaging over equal slices, a 2-process step equals a 1-process step on the same
global batch (up to floating-point summation order).

Non-finite losses. To avoid a host sync per step, losses stay on the device and are checked (one transfer) every
log_freq updates and before every checkpoint; the error names the exact first bad step (and loss). Up to
log_freq - 1 further updates may have run on the bad weights, but they are never saved: nothing is written after
the error.

Damage. Every checkpoint carries a sha256 of its contents; resuming and load_model_weights refuse a file that no
longer matches it, naming the previous good checkpoint. Temporaries of writes interrupted by a kill are removed
when training next starts in the folder.
"""

from scorerepro.core.fileio import sha256_file
from scorerepro.core.seeding import derive_seed, seed_everything
from .checkpoints import (CHECKPOINT_DIR, CHECKSUM_SCHEME, COMPLETED_NAME, FINAL_NAME, FORMAT_NAME,
                          FORMAT_VERSION, LATEST_NAME, LOSS_LOG_NAME, READABLE_VERSIONS, checksum,
                          config_differences, is_complete, latest_checkpoint, list_checkpoints, load_checkpoint,
                          load_model_weights, previous_good_checkpoint)
from .ema import EMA
from .loop import (BatchSource, LoopResult, LossFn, StepContext, StepFn, TrainResult, train, train_loop)
from .run_dir import SUPERSEDED_SUFFIX
from .run_lock import LOCK_NAME, RunLock
from .step_rng import SEED_SCHEME, StepRNG, capture_rng_state, restore_rng_state
from .train_config import (RESUMABLE_SETTINGS, TRAJECTORY_FIELDS, LoopConfig, OptimizerSpec, TrainConfig)
from .train_errors import (CheckpointError, ConfigMismatchError, LossDivergedError, NonFiniteLossError,
                           RunLockedError, TrainingError)

__all__ = [
    "BatchSource", "CHECKPOINT_DIR", "CHECKSUM_SCHEME", "COMPLETED_NAME", "CheckpointError", "ConfigMismatchError",
    "EMA", "FINAL_NAME", "FORMAT_NAME", "FORMAT_VERSION", "LATEST_NAME", "LOCK_NAME", "LOSS_LOG_NAME",
    "LoopConfig", "LoopResult", "LossDivergedError", "LossFn", "NonFiniteLossError", "OptimizerSpec",
    "READABLE_VERSIONS",
    "RESUMABLE_SETTINGS", "RunLock", "RunLockedError", "SEED_SCHEME", "SUPERSEDED_SUFFIX", "StepContext",
    "StepFn", "StepRNG", "TRAJECTORY_FIELDS", "TrainConfig", "TrainResult", "TrainingError",
    "capture_rng_state", "checksum", "config_differences", "derive_seed", "is_complete", "latest_checkpoint",
    "list_checkpoints", "load_checkpoint", "load_model_weights", "previous_good_checkpoint", "restore_rng_state",
    "seed_everything", "sha256_file", "train", "train_loop",
]
