"""Faults of issue #17 at the NCSN stages, on a tiny trained run (conftest.py): a runaway sampler (item 1)."""

from __future__ import annotations

import pytest

from scorerepro.papers.ncsn.sampling import SamplingDivergedError
from scorerepro.papers.ncsn.stages import sample

RUNAWAY_STEP_LR = 10.0  # the issue's setting: level 1's step is 10 * (1 / 0.01)^2 = 1e5


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


# ------------------------------------------------------------------------------------------ item 1: divergence

def test_sample_stage_refuses_a_runaway_chain_naming_level_and_step(tiny_run):
    with pytest.raises(SamplingDivergedError) as err:
        sample.run(tiny_run.params(step_lr=RUNAWAY_STEP_LR), "tiny_ncsn", 0)
    e = err.value
    assert (e.level, e.num_levels, e.step) == (1, 3, 1)
    assert "noise level 1/3" in str(e) and "step 1 of 1" in str(e) and "left [-100, 101]" in str(e)
    assert not (tiny_run.root / "samples/ncsn/tiny_ncsn/eval/shard_0.pt").exists()  # nothing to score
