"""NCSN's checks of params.yaml beyond the schema (run by scorerepro.config.load_params and the Snakefile)."""

from __future__ import annotations

from scorerepro.config import experiment


def sampling_options_error(sampling: dict) -> str | None:
    """What is wrong with a sampling block's speed options (relative to the block), or None."""
    if sampling.get("cuda_graphs") and not sampling.get("compile"):
        return ("cuda_graphs: true needs compile: true (CUDA graphs come from torch.compile's reduce-overhead "
                "mode)")
    return None


def check_params(params: dict) -> list[str]:
    problems = []
    block = params["ncsn"]
    for name in block["experiments"]:
        exp = experiment(params, "ncsn", name)
        where = f"ncsn.experiments.{name}"
        noise = exp["noise"]
        if noise["num_levels"] > 1 and noise["sigma_begin"] <= noise["sigma_end"]:
            problems.append(f"  {where}.noise.sigma_begin: {noise['sigma_begin']} must be greater than sigma_end: "
                            f"{noise['sigma_end']} (noise levels run from large to small; a value may come from "
                            f"ncsn.defaults.noise)")
        sampling_error = sampling_options_error(exp["sampling"])
        if sampling_error:
            problems.append(f"  {where}.sampling.{sampling_error}")
        t = exp["training"]
        if t["snapshot_freq"] > t["n_iters"]:
            problems.append(f"  {where}.training.snapshot_freq: {t['snapshot_freq']} exceeds n_iters {t['n_iters']}: "
                            f"no checkpoint would be written")
    sens = block.get("sensitivity", {})
    if sens.get("experiment") and sens["experiment"] not in block["experiments"]:
        problems.append(f"  ncsn.sensitivity.experiment: '{sens['experiment']}' is not an experiment "
                        f"(ncsn.experiments: {', '.join(block['experiments'])})")
    return problems
