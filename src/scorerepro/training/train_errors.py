"""Errors raised by the training loop; all derive from TrainingError so a stage can catch them together."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """Base class for errors raised by the training loop."""


class CheckpointError(TrainingError):
    """A checkpoint file is missing, unreadable, damaged, foreign or of an unknown format version."""


class ConfigMismatchError(TrainingError):
    """The checkpoint in out_dir was made with a different configuration than the current run."""


class RunLockedError(TrainingError):
    """Another trainer holds out_dir's lock."""


class NonFiniteLossError(TrainingError):
    """A loss became NaN or infinite; `step` is the first update with a non-finite loss, `name` that loss."""

    def __init__(self, step: int, loss: float, message: str, name: str = "loss"):
        super().__init__(message)
        self.step = step
        self.loss = loss
        self.name = name
