"""ae_mcmc's checks of params.yaml beyond the schema (run by scorerepro.config.load_params and the Snakefile)."""

from __future__ import annotations

from scorerepro.config import experiment

REQUIRED = ("dataset", "kind", "denoising", "corruption_variance", "model", "training")
MODEL_KEYS = ("latent_dim", "nf", "adversary_hidden", "adversary_dropout")
TRAINING_KEYS = ("epochs", "batch_size", "lr", "beta1", "snapshot_freq")


# The four models of the paper, by the names dvc.yaml's figures and summary stages read, and what each one is.
MODELS = {"vae": ("vae", False), "dvae": ("vae", True), "aae": ("aae", False), "daae": ("aae", True)}


def check_params(params: dict) -> list[str]:
    problems = []
    block = params["ae_mcmc"]
    if sorted(block["experiments"]) != sorted(MODELS):
        problems.append(f"  ae_mcmc.experiments: {sorted(block['experiments'])} must be exactly {sorted(MODELS)} "
                        f"(the paper's four models; dvc.yaml's figures and summary stages read each one)")
    for name in block["experiments"]:
        exp = experiment(params, "ae_mcmc", name)
        where = f"ae_mcmc.experiments.{name}"
        missing = [k for k in REQUIRED if k not in exp]
        missing += [f"model.{k}" for k in MODEL_KEYS if k not in exp.get("model", {})]
        missing += [f"training.{k}" for k in TRAINING_KEYS if k not in exp.get("training", {})]
        if missing:
            problems.append(f"  {where}: {', '.join(missing)} missing (set them there or in ae_mcmc.defaults)")
            continue
        if name in MODELS and (exp["kind"], exp["denoising"]) != MODELS[name]:
            problems.append(f"  {where}: kind {exp['kind']!r}, denoising {exp['denoising']} does not describe "
                            f"{name} (expected kind {MODELS[name][0]!r}, denoising {MODELS[name][1]})")
        if exp["dataset"] != block["defaults"].get("dataset"):
            problems.append(f"  {where}.dataset: '{exp['dataset']}' differs from ae_mcmc.defaults.dataset (all four "
                            f"models train on one dataset; dvc.yaml's deps name the default's): set it in defaults")
    ch = block["chains"]
    for key in ("steps", "image_steps"):
        steps = ch[key]
        if steps != sorted(set(steps)) or steps[0] != 0:
            problems.append(f"  ae_mcmc.chains.{key}: {steps} must be ascending without repeats and start at 0")
    if 1 not in ch["image_steps"]:
        problems.append(f"  ae_mcmc.chains.image_steps: {ch['image_steps']} must include 1 (the first step's "
                        f"movement is measured there)")
    if ch["n_samples"] % ch["batch_size"]:
        problems.append(f"  ae_mcmc.chains.n_samples: {ch['n_samples']} must be a multiple of batch_size "
                        f"{ch['batch_size']} (batch norm in train mode needs equal batches)")
    return problems
