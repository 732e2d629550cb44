"""What an NCSN sample shard records about how it was made: every setting that determines its content. select,
evaluate, neighbours and figures read a shard only when these equal the current params' (pipeline.common
read_shards), so a shard left over from other settings is never scored or drawn."""

from __future__ import annotations

import json
from typing import Any

from scorerepro.core.fileio import sha256_file
from scorerepro.papers.ncsn.locations import model_dir, results_dir
from scorerepro.training import list_checkpoints

#: The commands that remake one shard ({shard}: its index), named in every shard error.
SELECT_RERUN = "scorerepro ncsn select_sample {name} {{shard}}"
EVAL_RERUN = "scorerepro ncsn sample {name} {{shard}}"


def _common(params: dict, exp: dict, stream: str, n_samples: int) -> dict[str, Any]:
    return {"experiment": exp["name"], "stream": stream, "dataset": exp["dataset"], "seed": params["seed"],
            "n_samples": n_samples, "shards": list(params["sharding"]["shards"]), "sampling": exp["sampling"],
            "noise": exp["noise"], "model": exp["model"]}


def checkpoint_hashes(name: str) -> dict[str, str]:
    """{step: sha256 of the file} of every checkpoint of the experiment: a retrained or restored run differs."""
    return {str(step): sha256_file(path) for step, path in list_checkpoints(model_dir(name))}


def select_settings(params: dict, exp: dict, hashes: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings of a selection shard: samples of every checkpoint (`hashes`: checkpoint_hashes, if known)."""
    hashes = checkpoint_hashes(exp["name"]) if hashes is None else hashes
    return {**_common(params, exp, "select", exp["select"]["n_samples"]), "checkpoints": hashes}


def selected(exp: dict) -> dict[str, Any]:
    path = results_dir(exp["name"]) / "selected.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `scorerepro ncsn select {exp['name']}` first")
    return json.loads(path.read_text())


def eval_settings(params: dict, exp: dict) -> dict[str, Any]:
    """Settings of an evaluation shard: samples of the checkpoint selected.json names."""
    sel = selected(exp)
    checkpoint = {"path": sel["checkpoint"], "iteration": sel["iteration"], "sha256": sel.get("checkpoint_sha256")}
    return {**_common(params, exp, "eval", exp["eval"]["n_samples"]), "checkpoint": checkpoint}
