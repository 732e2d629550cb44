"""Stage `ncsn sample <experiment> <shard>`: this shard's share of eval.n_samples samples from the selected
checkpoint (uint8). Sample j comes from the same random numbers whatever the sharding, so the merged shards
equal a single job's output. The shard records the settings it was made under (shard_settings.eval_settings);
a sampler that diverges (level and step named) writes no shard: such samples are never scored. A model whose
training diverged gets a shard holding that record instead (pipeline.divergence)."""

from __future__ import annotations

from pathlib import Path

from scorerepro.core.fileio import sha256_file
from scorerepro.papers.ncsn.experiment import experiment_settings, load_score_net
from scorerepro.papers.ncsn.locations import model_dir, results_dir, samples_dir
from scorerepro.papers.ncsn.shard_settings import eval_settings
from scorerepro.papers.ncsn.stages.batched_sampling import batch_size_for, sample_batches
from scorerepro.pipeline.common import (remove_unlisted_shards, resolve_device, save_shard, shard_file, shard_range,
                                        to_uint8)
from scorerepro.pipeline.divergence import upstream_divergence, write_diverged_outputs
from scorerepro.training import CheckpointError, load_checkpoint

# Sampling for evaluation uses a seed stream apart from selection's, so the selected checkpoint is not scored on
# the very samples that selected it.
EVAL_SEED_OFFSET = 7919


def _check_selected(exp: dict, made_with: dict) -> Path:
    """The selected checkpoint, refused if it is no longer the file select chose (retrained or restored since)."""
    ckpt = made_with["checkpoint"]
    path, chosen = Path(ckpt["path"]), ckpt["sha256"]
    if chosen is not None and path.is_file() and sha256_file(path) != chosen:
        load_checkpoint(path)  # a damaged file is refused as such, naming the good checkpoint and the repair
        raise CheckpointError(f"{path} is not the checkpoint select chose (sha256 {chosen[:12]}... in "
                              f"{results_dir(exp['name']) / 'selected.json'}): the run was retrained or restored "
                              f"since. Rerun `scorerepro ncsn select {exp['name']}` first")
    return path


def run(params: dict, experiment: str, shard: int) -> None:
    exp = experiment_settings(params, experiment)
    shards = params["sharding"]["shards"]
    folder = samples_dir(exp["name"]) / "eval"
    diverged = upstream_divergence(model_dir(exp["name"]), results_dir(exp["name"]) / "selected.json")
    if diverged is not None:  # no checkpoint to sample: the shard says why
        return write_diverged_outputs(diverged, [shard_file(folder, shard)], f"ncsn sample {experiment} {shard}")
    device = resolve_device(params)
    made_with = eval_settings(params, exp)
    ckpt = _check_selected(exp, made_with)
    net = load_score_net(exp, ckpt, device)
    start, stop = shard_range(exp["eval"]["n_samples"], shards, shard)
    samples, _ = sample_batches(net, exp, start, stop, params["seed"] + EVAL_SEED_OFFSET, device,
                                batch_size=batch_size_for(exp, exp["eval"]["n_samples"]))
    save_shard(folder, shard, made_with, {"range": [start, stop], "checkpoint": str(ckpt), "images": to_uint8(samples)})
    remove_unlisted_shards(folder, shards)
    print(f"sample {experiment} shard {shard}: samples {start}..{stop - 1} from {ckpt}")
