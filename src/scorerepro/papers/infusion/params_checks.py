"""Infusion's checks of params.yaml beyond the schema."""

from __future__ import annotations


def _rates(where: str, s: dict, problems: list[str]) -> None:
    last = s["alpha0"] + (s["n_steps"] - 1) * s["omega"] if s["schedule"] == "increasing" else s["alpha0"]
    if last > 1:
        problems.append(f"  {where}: the infusion rate reaches {last:g} > 1 at the last step (alpha0 + (n_steps - 1) "
                        f"* omega); lower omega or n_steps")


def check_params(params: dict) -> list[str]:
    problems: list[str] = []
    block = params["infusion"]
    model = block["model"]
    if model["dataset"] not in params.get("datasets", {}):
        problems.append(f"  infusion.model.dataset: '{model['dataset']}' is not under datasets: "
                        f"({', '.join(params.get('datasets', {}))})")
    _rates("infusion.model", model, problems)
    t = model["training"]
    if t["snapshot_freq"] > t["n_iters"]:
        problems.append(f"  infusion.model.training.snapshot_freq: {t['snapshot_freq']} exceeds n_iters "
                        f"{t['n_iters']}: no checkpoint would be written")
    ev = block["eval"]
    if ev["sampling_steps"] < model["n_steps"]:
        problems.append(f"  infusion.eval.sampling_steps: {ev['sampling_steps']} is fewer than the model's "
                        f"n_steps {model['n_steps']} (the figure shows MORE steps than training used)")
    sweep = block["sweep"]
    if any(a > 1 for a in sweep["constant_alphas"]):
        problems.append("  infusion.sweep.constant_alphas: rates must be at most 1")
    return problems
