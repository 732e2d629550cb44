"""params.yaml: loading and validation.

The one JSON schema lives in workflow/schemas/params.schema.json so that Snakemake's `validate` and this module
check the same thing (one part per paper). Checks a JSON schema cannot express (finite numbers, an experiment naming
a dataset that is not declared) are added here, and each paper adds its own (`check_params` in its package, e.g.
sigma_begin > sigma_end). Every stage calls `load_params` before doing any work.

A paper's block holds `defaults` and `experiments`: each experiment names the settings it changes, and
`experiment(params, paper, name)` lays them over the defaults.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from scorerepro.core.errors import EXIT_USAGE, UserError

DEFAULT_PARAMS = Path("params.yaml")
SCHEMA_RELPATH = Path("workflow/schemas/params.schema.json")


# Experiment names that would share output folders with other stages (results/<name>, models/<name>).
RESERVED_NAMES = frozenset({"inception", "classifier", "toy", "sensitivity", "summary", "reference", "claims",
                            "leaderboard"})


class _ParamsLoader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where `1e-05` (no dot) is a string; DVC (`dvc exp run -S key=1e-5`) writes floats
    that way, and YAML 1.2 (ruamel, DVC's reader) reads them as floats. Accept both spellings."""


_ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)
# A profile overlay's `!replace` mapping (scorerepro.profiles) reads as a plain mapping, so that loading an overlay
# by mistake gets to the message that says what it is.
_ParamsLoader.add_constructor("!replace", lambda loader, node: loader.construct_mapping(node, deep=True))


def read_params_yaml(path: str | Path) -> Any:
    """Parse a params file the way DVC does (YAML 1.2 floats), without validating it."""
    return parse_params_yaml(Path(path).read_text())


def parse_params_yaml(text: str) -> Any:
    """Parse the text of a params file the way DVC does (YAML 1.2 floats), without validating it."""
    return yaml.load(text, Loader=_ParamsLoader)  # noqa: S506 - a SafeLoader subclass


class ParamsError(UserError, ValueError):
    """params.yaml is missing, malformed or fails validation; the message names the offending key."""

    label, exit_code = "invalid parameters", EXIT_USAGE


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


def _non_finite(value, path=()):
    """Paths of NaN or infinite numbers anywhere in params (JSON Schema's "number" lets them through)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _non_finite(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _non_finite(v, path + (i,))


def _cross_checks(params: dict, source: str) -> None:
    """What the schema cannot say: finite numbers everywhere, experiment names that do not collide with other
    outputs, datasets that are declared; then each paper's own checks (scorerepro.papers.check_params)."""
    problems = [f"  {_key_path(p)}: {_lookup(params, p)} is not a finite number" for p in _non_finite(params)]
    for paper in paper_blocks(params):
        for name in params[paper].get("experiments", {}):
            if name in RESERVED_NAMES:
                problems.append(f"  {paper}.experiments.{name}: the name is reserved (its results/ and models/ "
                                f"folders belong to other stages: {', '.join(sorted(RESERVED_NAMES))}); rename the "
                                f"experiment")
    for keys, block in _dataset_blocks(params):
        problems += _dataset_problems(params, keys, block)
    problems = list(dict.fromkeys(problems))  # experiments sharing their paper's defaults share its problems
    if not problems:
        from scorerepro.papers import check_params  # config is the params front door: it knows the papers' checks

        problems = check_params(params)
    if problems:
        raise ParamsError(f"{source} failed validation:\n" + "\n".join(problems))


def _dataset_blocks(params: dict):
    """({"dataset": key, "batch_size": key}, settings) of every block that trains on a dataset: each experiment with
    its paper's defaults laid under it (a key names where the value was set), and any other block of a paper naming
    its own dataset (infusion.model, score_repr.sweep, ncsn.toy.fig1_manifold)."""
    for paper in paper_blocks(params):
        block = params[paper]
        defaults = block.get("defaults", {})
        for name, exp in block.get("experiments", {}).items():
            if not isinstance(exp, dict):
                continue
            own = f"{paper}.experiments.{name}"
            batch_own = "batch_size" in (exp.get("training") or {})
            yield ({"dataset": f"{own if 'dataset' in exp else paper + '.defaults'}.dataset",
                    "batch_size": f"{own if batch_own else paper + '.defaults'}.training.batch_size"},
                   deep_merge(defaults, exp))
        stack = [(f"{paper}.{k}", v) for k, v in block.items() if k not in ("experiments", "defaults")]
        while stack:
            where, sub = stack.pop()
            if isinstance(sub, dict):
                if "dataset" in sub:
                    yield {"dataset": f"{where}.dataset", "batch_size": f"{where}.training.batch_size"}, sub
                stack += [(f"{where}.{k}", v) for k, v in sub.items()]


def _dataset_problems(params: dict, keys: dict, block: dict) -> list[str]:
    """The block's dataset must be declared, and its training batch must fit in that dataset's training split."""
    name = block.get("dataset")
    if not isinstance(name, str):
        return []
    declared = params.get("datasets", {})
    if name not in declared:
        return [f"  {keys['dataset']}: '{name}' is not declared under datasets (declared: {', '.join(declared)})"]
    batch = (block.get("training") or {}).get("batch_size")
    n_max = _train_images_at_most(name, declared[name])
    if isinstance(batch, int) and n_max is not None and batch > n_max:
        return [f"  {keys['batch_size']}: {batch} is more than the {n_max} images '{name}' has at most "
                f"(datasets.{name}.limit and the data's size); lower it, or raise the limit"]
    return []


def _train_images_at_most(name: str, settings: dict) -> int | None:
    """An upper bound on the training split's size (all the data's images, or `limit`), None for an unknown name:
    never smaller than the split preprocess writes, so a batch refused here could never be drawn."""
    from scorerepro.data.registry import dataset_info

    try:
        info = dataset_info(name)
    except (KeyError, ValueError):
        return None
    total = sum(count for _, count in info.split_sizes)
    limit = settings.get("limit") if isinstance(settings, dict) else None
    return total if limit is None else min(total, limit)


def _lookup(params: dict, path) -> Any:
    for p in path:
        params = params[p]
    return params


def paper_blocks(params: dict) -> list[str]:
    """The papers params.yaml has a block for (the papers this profile runs), in file order."""
    from scorerepro.papers import PAPERS

    return [k for k in params if k in PAPERS]


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} not found: run from the repository root, or pass --params PATH")
    return parse_params_text(path.read_text(), str(path), find_schema(path))


def parse_params_text(text: str, source: str, schema_path: Path | None = None) -> dict[str, Any]:
    """Parse and validate the text of a params file; `source` names it in messages."""
    try:
        params = parse_params_yaml(text)
    except yaml.YAMLError as e:
        raise ParamsError(f"{source} is not valid YAML: {e}") from e
    if not isinstance(params, dict):
        raise ParamsError(f"{source} must hold a mapping of keys, got {type(params).__name__}")
    if "extends" in params:
        raise ParamsError(f"{source} is a profile overlay on {params['extends']}, not a whole params file: "
                          f"`scorerepro use-profile NAME` writes the merged profile as params.yaml")
    validate_params(params, schema_path or find_schema(), source=source)
    return params


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of `base` with `override` laid over it, key by key inside nested mappings. A mapping that names another
    `arch` than the base's replaces it whole: a network's keys depend on its architecture, so the default network's
    keys (ngf, ...) must not leak into another kind of network."""
    if "arch" in override and override["arch"] != base.get("arch"):
        return copy.deepcopy(override)
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def experiment(params: dict, paper: str, name: str) -> dict[str, Any]:
    """One experiment's full settings: the paper's `defaults` with the experiment's overrides laid over them,
    plus its `name`."""
    block = params.get(paper)
    if not isinstance(block, dict) or name not in block.get("experiments", {}):
        known = ", ".join(block.get("experiments", {})) if isinstance(block, dict) else f"no `{paper}` block"
        raise ParamsError(f"experiment '{name}' is not in params.yaml under {paper}.experiments ({known})")
    exp = deep_merge(block.get("defaults", {}), block["experiments"][name])
    exp["name"] = name
    return exp
