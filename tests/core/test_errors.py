"""scorerepro.core.errors: every error a user can act on carries the exit code docs/reliability.md lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scorerepro.config import ParamsError
from scorerepro.core import errors
from scorerepro.data.loading import DataIntegrityError
from scorerepro.data.sources import DataSourceError
from scorerepro.metrics.inception import InceptionWeightsUnavailable
from scorerepro.papers.ncsn.sampling import SamplingDivergedError
from scorerepro.pipeline.common import ShardError
from scorerepro.training import train_errors as T

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cls, code", [
    (ParamsError, 2), (DataIntegrityError, 3), (DataSourceError, 3), (InceptionWeightsUnavailable, 3),
    (T.CheckpointError, 4), (T.ConfigMismatchError, 4), (T.TrainingError, 5), (T.NonFiniteLossError, 5),
    (T.LossDivergedError, 5), (SamplingDivergedError, 6), (ShardError, 7), (T.RunLockedError, 75),
])
def test_each_kind_of_failure_has_its_documented_exit_code(cls, code):
    assert issubclass(cls, errors.UserError)
    assert cls.exit_code == code and cls.label != errors.UserError.label


def test_errors_stay_catchable_as_the_builtins_they_were():
    assert issubclass(ParamsError, ValueError) and issubclass(ShardError, RuntimeError)
    assert issubclass(T.RunLockedError, RuntimeError)


def test_the_exit_codes_are_those_the_reliability_page_lists():
    text = (REPO / "docs" / "reliability.md").read_text()
    paragraph = text[text.index("Exit codes (`src/scorerepro/core/errors.py`)"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    documented = {int(n) for n in re.findall(r"(?<![\w.])(\d+) (?=[a-z(])", paragraph)}
    defined = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert documented == defined
