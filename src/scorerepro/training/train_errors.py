"""Errors raised by the training loop; all derive from TrainingError so a stage can catch them together."""

from __future__ import annotations

from scorerepro.core.errors import EXIT_CHECKPOINT, EXIT_LOCKED, EXIT_TRAINING, UserError


class TrainingError(UserError, RuntimeError):
    """Base class for errors raised by the training loop."""

    label, exit_code = "training error", EXIT_TRAINING


class CheckpointError(TrainingError):
    """A checkpoint file is missing, unreadable, damaged, foreign or of an unknown format version."""

    label, exit_code = "checkpoint error", EXIT_CHECKPOINT


class ConfigMismatchError(TrainingError):
    """The checkpoint in out_dir was made with a different configuration than the current run."""

    label, exit_code = "checkpoint made under other settings", EXIT_CHECKPOINT


class RunLockedError(TrainingError):
    """Another trainer holds out_dir's lock."""

    label, exit_code = "run folder locked", EXIT_LOCKED


class NonFiniteLossError(TrainingError):
    """A loss became NaN or infinite; `step` is the first update with a non-finite loss, `name` that loss."""

    label = "training diverged"

    def __init__(self, step: int, loss: float, message: str, name: str = "loss"):
        super().__init__(message)
        self.step = step
        self.loss = loss
        self.name = name


class LossDivergedError(NonFiniteLossError):
    """A finite loss left the divergence bound (`bound`) set by its first value; stops the run as NaN does."""

    def __init__(self, step: int, loss: float, message: str, name: str, bound: float):
        super().__init__(step, loss, message, name)
        self.bound = bound
