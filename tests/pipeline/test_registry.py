"""scorerepro.pipeline.registry: every declared stage, shared or a paper's, names a function that exists."""

from __future__ import annotations

import importlib
import inspect

import pytest

from scorerepro.papers import PAPERS, paper_module
from scorerepro.pipeline.registry import SHARED_STAGES


def _all_stages():
    yield from (pytest.param(stage, id=name) for name, stage in SHARED_STAGES.items())
    for paper in PAPERS:
        yield from (pytest.param(stage, id=f"{paper}-{name}") for name, stage in paper_module(paper).STAGES.items())


@pytest.mark.parametrize("stage", list(_all_stages()))
def test_each_stage_names_a_function_taking_params_and_its_arguments(stage):
    function = getattr(importlib.import_module(stage.module), stage.function)
    assert list(inspect.signature(function).parameters)[:1 + len(stage.args)] == ["params", *stage.args]
    assert stage.help
