"""params.yaml: loading and validation.

The one JSON schema lives in workflow/schemas/params.schema.json so that Snakemake's `validate` and this module
check the same thing. Checks a JSON schema cannot express (sigma_begin > sigma_end, an experiment naming a dataset
that is not declared) are added here. Every stage calls `load_params` before doing any work.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

DEFAULT_PARAMS = Path("params.yaml")
SCHEMA_RELPATH = Path("workflow/schemas/params.schema.json")


# Experiment names that would share output folders with other stages (results/<name>, models/<name>).
RESERVED_NAMES = frozenset({"inception", "classifier", "toy", "sensitivity", "summary", "reference"})


class _ParamsLoader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where `1e-05` (no dot) is a string; DVC (`dvc exp run -S key=1e-5`) writes floats
    that way, and YAML 1.2 (ruamel, DVC's reader) reads them as floats. Accept both spellings."""


_ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_params_yaml(path: str | Path) -> Any:
    """Parse a params file the way DVC does (YAML 1.2 floats), without validating it."""
    with open(path) as f:
        return yaml.load(f, Loader=_ParamsLoader)  # noqa: S506 - a SafeLoader subclass


class ParamsError(ValueError):
    """params.yaml is missing, malformed or fails validation; the message names the offending key."""


def find_schema(params_path: Path | None = None) -> Path:
    candidates = []
    if params_path is not None:
        candidates.append(Path(params_path).resolve().parent / SCHEMA_RELPATH)
    candidates.append(Path.cwd() / SCHEMA_RELPATH)
    candidates.append(Path(__file__).resolve().parents[2] / SCHEMA_RELPATH)
    for c in candidates:
        if c.is_file():
            return c
    raise ParamsError(f"cannot find the params schema {SCHEMA_RELPATH}; run from the repository root")


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate_params(params: dict, schema_path: Path | None = None, source: str = "params.yaml") -> None:
    import json

    schema = json.loads(Path(schema_path or find_schema()).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors[:10]:
            where = _key_path(e.absolute_path)
            if e.validator == "required":
                missing = e.message.split("'")[1] if "'" in e.message else e.message
                where = f"{where}.{missing}" if e.absolute_path else missing
                lines.append(f"  {where}: missing (required)")
            elif e.validator == "additionalProperties":
                lines.append(f"  {where}: {e.message}")
            else:
                lines.append(f"  {where}: {e.message}")
        raise ParamsError(f"{source} failed validation against {SCHEMA_RELPATH}:\n" + "\n".join(lines))
    _cross_checks(params, source)


def sampling_options_error(sampling: dict) -> str | None:
    """What is wrong with a sampling block's speed options (relative to the block), or None."""
    if sampling.get("cuda_graphs") and not sampling.get("compile"):
        return ("cuda_graphs: true needs compile: true (CUDA graphs come from torch.compile's reduce-overhead "
                "mode)")
    return None


def _cross_checks(params: dict, source: str) -> None:
    problems = []
    for name in params.get("experiments", {}):
        if name in RESERVED_NAMES:
            problems.append(f"  experiments.{name}: the name is reserved (its results/ and models/ folders belong to "
                            f"other stages: {', '.join(sorted(RESERVED_NAMES))}); rename the experiment")
    for name, exp in params.get("experiments", {}).items():
        noise = exp["noise"]
        key = f"experiments.{name}.noise"
        if noise["num_levels"] > 1 and noise["sigma_begin"] <= noise["sigma_end"]:
            problems.append(
                f"  {key}.sigma_begin: {noise['sigma_begin']} must be greater than "
                f"{key}.sigma_end: {noise['sigma_end']} (noise levels run from large to small)"
            )
        if exp["dataset"] not in params["datasets"]:
            problems.append(
                f"  experiments.{name}.dataset: '{exp['dataset']}' is not declared under datasets "
                f"(declared: {', '.join(params['datasets'])})"
            )
        sampling_error = sampling_options_error(exp["sampling"])
        if sampling_error:
            problems.append(f"  experiments.{name}.sampling.{sampling_error}")
        if exp["training"]["snapshot_freq"] > exp["training"]["n_iters"]:
            problems.append(
                f"  experiments.{name}.training.snapshot_freq: {exp['training']['snapshot_freq']} exceeds "
                f"n_iters {exp['training']['n_iters']}: no checkpoint would be written"
            )
    sens = params.get("sensitivity", {})
    if sens.get("experiment") and sens["experiment"] not in params.get("experiments", {}):
        problems.append(f"  sensitivity.experiment: '{sens['experiment']}' is not an experiment")
    if problems:
        raise ParamsError(f"{source} failed validation:\n" + "\n".join(problems))


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} not found: run from the repository root, or pass --params PATH")
    try:
        params = read_params_yaml(path)
    except yaml.YAMLError as e:
        raise ParamsError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(params, dict):
        raise ParamsError(f"{path} must hold a mapping of keys, got {type(params).__name__}")
    validate_params(params, find_schema(path), source=str(path))
    return params


def experiment(params: dict, name: str) -> dict[str, Any]:
    try:
        exp = copy.deepcopy(params["experiments"][name])
    except KeyError:
        raise ParamsError(
            f"experiment '{name}' is not in params.yaml (experiments: {', '.join(params['experiments'])})"
        ) from None
    exp["name"] = name
    return exp
