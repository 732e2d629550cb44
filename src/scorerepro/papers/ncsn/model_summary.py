"""`scorerepro ncsn model-summary`: a score network's parameter count and forward FLOPs per image, as JSON, for a
preset of ncsn/nets (`--list`), an NCSN experiment of params.yaml, or a JSON spec. Torch is imported only when the
command runs, so that building the CLI stays fast."""

from __future__ import annotations

import argparse
import copy
import json

HELP = "parameter count and forward FLOPs per image of a score network, as JSON"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="a preset (see --list) or an NCSN experiment in params.yaml")
    p.add_argument("--list", action="store_true", help="list the presets")
    p.add_argument("--spec", help="a JSON model spec instead of a name, e.g. '{\"arch\": \"refinenet\", \"ngf\": 64}'")


def model_summary(name: str | None, spec_json: str | None = None, params_path: str = "params.yaml") -> dict:
    from scorerepro.config import load_params
    from scorerepro.nets.model_summary import summarize
    from scorerepro.papers.ncsn.experiment import experiment_settings, model_spec
    from scorerepro.papers.ncsn.nets import PRESETS, build_model, input_shape

    if spec_json:
        spec = json.loads(spec_json)
    elif name in PRESETS:
        spec = copy.deepcopy(PRESETS[name])
    elif name:
        spec = model_spec(experiment_settings(load_params(params_path), name))
    else:
        raise ValueError("give a preset name, an experiment name or --spec (see --list)")
    model = build_model(spec)
    summary = summarize(model, input_shape(spec))
    return {"name": name, "spec": model.spec, **summary}


def run(args: argparse.Namespace) -> int:
    from scorerepro.papers.ncsn.nets import PRESETS

    if args.list:
        print(json.dumps(sorted(PRESETS), indent=2))
        return 0
    print(json.dumps(model_summary(args.name, spec_json=args.spec, params_path=args.params), indent=2))
    return 0
