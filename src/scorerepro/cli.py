"""The `scorerepro` command: one subcommand per pipeline stage, plus a few tools.

Thin on purpose: each subcommand parses its arguments, loads and validates params.yaml, and calls one function
in scorerepro.pipeline. Imports are lazy so that `scorerepro --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# name -> (pipeline module, help, positional argument or None)
STAGES = {
    "download": ("download", "fetch a dataset source into data/raw/<dataset>", "dataset"),
    "preprocess": ("preprocess", "turn data/raw/<dataset> into verified uint8 tensor files", "dataset"),
    "inception-weights": ("inception_weights", "resolve the FID Inception weights into models/inception", None),
    "reference-stats": ("reference_stats", "feature statistics of a dataset's training split", "dataset"),
    "train-classifier": ("classifier", "train the MNIST classifier used for the classifier FID/IS", "dataset"),
    "train": ("train", "train one experiment's score network (resumes from its last checkpoint)", "experiment"),
    "select": ("select", "FID of every checkpoint; pick the best (seed 000 Fig. 13)", "experiment"),
    "sample": ("sample", "draw eval.n_samples samples from the selected checkpoint", "experiment"),
    "evaluate": ("evaluate", "IS and FID of the samples (results/<experiment>/metrics.json)", "experiment"),
    "neighbours": ("neighbours", "k nearest training images of samples, pixel and Inception space", "experiment"),
    "inpaint": ("inpaint", "inpainting under several masks (seed 000 Fig. 7, 18)", "experiment"),
    "figures": ("figures", "sample grids, per-level intermediates, loss curves", "experiment"),
    "toy": ("toy", "one toy study of seed 000 section 4", "study"),
    "sensitivity": ("sensitivity", "sampling sensitivity grid over step_lr and n_steps_each (Fig. 8)", None),
    "summary": ("summary", "results/summary.csv, summary.md and the claims table", None),
}


def _add_params_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scorerepro", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text, positional) in STAGES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if positional:
            p.add_argument(positional)
        _add_params_arg(p)
        if name == "summary":
            p.add_argument("--rows", metavar="EXPERIMENT", help="only write one experiment's summary rows")
        if name in ("sample", "select"):
            p.add_argument("--shard", type=int, default=None, help="run only this shard (0-based) of the work")
            p.add_argument("--merge", action="store_true", help="merge the shards' outputs")

    p = sub.add_parser("model-summary", help="parameter count and forward FLOPs per image, as JSON")
    p.add_argument("name", nargs="?", help="a preset (see --list) or an experiment in params.yaml")
    p.add_argument("--list", action="store_true", help="list the presets")
    p.add_argument("--spec", help="a JSON model spec instead of a name, e.g. '{\"arch\": \"refinenet\", \"ngf\": 64}'")
    _add_params_arg(p)

    p = sub.add_parser("use-profile", help="copy a parameter profile from workflow/params/ into params.yaml")
    p.add_argument("profile", help="quick, paper_mnist, paper_cifar10 or paper_celeba")
    _add_params_arg(p)
    return parser


def _run_stage(args: argparse.Namespace) -> int:
    from scorerepro.config import load_params

    module_name, _, positional = STAGES[args.command]
    params = load_params(args.params)
    module = importlib.import_module(f"scorerepro.pipeline.{module_name}")
    kwargs = {}
    if positional:
        kwargs[positional] = getattr(args, positional)
    for opt in ("shard", "merge", "rows"):
        value = getattr(args, opt, None)
        if value is not None and value is not False:
            kwargs[opt] = value
    module.run(params, **kwargs)
    return 0


def _model_summary(args: argparse.Namespace) -> int:
    from scorerepro.models import PRESETS
    from scorerepro.pipeline.common import model_summary

    if args.list:
        print(json.dumps(sorted(PRESETS), indent=2))
        return 0
    print(json.dumps(model_summary(args.name, spec_json=args.spec, params_path=args.params), indent=2))
    return 0


def _use_profile(args: argparse.Namespace) -> int:
    from scorerepro.pipeline.common import use_profile

    use_profile(args.profile, args.params)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from scorerepro.config import ParamsError

    try:
        if args.command == "model-summary":
            return _model_summary(args)
        if args.command == "use-profile":
            return _use_profile(args)
        return _run_stage(args)
    except ParamsError as e:
        print(f"scorerepro {args.command}: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as e:  # user-facing input problems: message, no traceback
        print(f"scorerepro {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
