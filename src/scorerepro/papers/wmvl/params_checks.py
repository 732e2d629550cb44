"""WMVL's checks of params.yaml beyond the schema."""

from __future__ import annotations

from scorerepro.config import experiment

def check_params(params: dict) -> list[str]:
    problems = []
    block = params["wmvl"]
    for name in block["experiments"]:
        exp = experiment(params, "wmvl", name)
        where = f"wmvl.experiments.{name}"
        t = exp["training"]
        if t["snapshot_freq"] > t["n_iters"]:
            problems.append(f"  {where}.training.snapshot_freq: {t['snapshot_freq']} exceeds n_iters {t['n_iters']}: "
                            f"no checkpoint would be written")
        if t["batch_size"] > 4500:
            problems.append(f"  {where}.training.batch_size: {t['batch_size']} exceeds the training split")
    banana = block["synthetic"]["banana"]
    if banana["z_test_eps"] not in banana["eps_grid"]:
        problems.append(f"  wmvl.synthetic.banana.z_test_eps: {banana['z_test_eps']} is not in eps_grid "
                        f"{banana['eps_grid']}")
    if len(block["synthetic"]["banana"]["eps_grid"]) < 3:
        problems.append("  wmvl.synthetic.banana.eps_grid: needs at least 3 values to fit the variance slope")
    return problems
