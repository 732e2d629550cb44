"""The evaluation-sample stage on the tiny trained run (conftest.py, checkpoint 4 selected): batches no larger than
the samples it draws in all, and shards that still merge into the single-job result."""

from __future__ import annotations

import pytest
import torch

from scorerepro.papers.ncsn.shard_settings import eval_settings
from scorerepro.papers.ncsn.stages import sample
from scorerepro.pipeline.common import load_sample_shards


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def _eval_samples(tiny_run, params) -> torch.Tensor:
    from scorerepro.papers.ncsn.experiment import experiment_settings
    from scorerepro.papers.ncsn.locations import samples_dir

    for shard in params["sharding"]["shards"]:
        sample.run(params, "tiny_ncsn", shard)
    exp = experiment_settings(params, "tiny_ncsn")
    return load_sample_shards(samples_dir("tiny_ncsn") / "eval", params["sharding"]["shards"],
                              eval_settings(params, exp), "rerun")


def test_a_batch_larger_than_the_evaluation_set_draws_only_the_set(tiny_run, sampled_batch_sizes):
    from scorerepro.papers.ncsn.experiment import experiment_settings

    n = experiment_settings(tiny_run.params(), "tiny_ncsn")["eval"]["n_samples"]
    asked = sampled_batch_sizes(sample)
    one_job = _eval_samples(tiny_run, tiny_run.params(shards=[0], batch_size=10 * n))
    assert asked == [n]
    # Two shards at that batch give the same samples: the batch depends on the total, not on a shard's range.
    two_shards = _eval_samples(tiny_run, tiny_run.params(shards=[0, 1], batch_size=10 * n))
    assert asked == [n, n, n] and torch.equal(one_job, two_shards)
