"""Stage `ncsn sample <experiment> <shard>`: this shard's share of eval.n_samples samples from the selected
checkpoint (uint8). Sample j comes from the same random numbers whatever the sharding, so the merged shards
equal a single job's output."""

from __future__ import annotations

from scorerepro.core.fileio import save_torch
from scorerepro.papers.ncsn.stages.batched_sampling import sample_batches
from scorerepro.papers.ncsn.experiment import experiment_settings, load_score_net, selected_checkpoint
from scorerepro.pipeline.common import resolve_device, shard_range, to_uint8
from scorerepro.papers.ncsn.locations import samples_dir

# Sampling for evaluation uses a seed stream apart from selection's, so the selected checkpoint is not scored on
# the very samples that selected it.
EVAL_SEED_OFFSET = 7919


def run(params: dict, experiment: str, shard: int) -> None:
    exp = experiment_settings(params, experiment)
    shards = params["sharding"]["shards"]
    device = resolve_device(params)
    ckpt = selected_checkpoint(exp)
    net = load_score_net(exp, ckpt, device)
    start, stop = shard_range(exp["eval"]["n_samples"], shards, shard)
    samples, _ = sample_batches(net, exp, start, stop, params["seed"] + EVAL_SEED_OFFSET, device)
    save_torch(samples_dir(exp["name"]) / "eval" / f"shard_{shard}.pt",
               {"range": [start, stop], "checkpoint": str(ckpt), "images": to_uint8(samples)})
    print(f"sample {experiment} shard {shard}: samples {start}..{stop - 1} from {ckpt}")
