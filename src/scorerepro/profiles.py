"""Parameter profiles: workflow/params/quick.yaml is the default params.yaml, written out in full; every other profile
is an overlay on it (`extends: quick.yaml`) that names only what it changes, and `scorerepro use-profile NAME` writes
the merged result as params.yaml.

The merge rule: a mapping of the overlay merges into the base's mapping key by key, recursively; anything else (a
number, a string, a list, null) replaces the base's value, and a key the base lacks is added at the end of its
mapping. A mapping tagged `!replace` replaces the base's mapping whole, which is how an overlay drops keys (an
experiment the profile does not run, a dataset it does not use).

The merge works on ruamel.yaml's round-trip nodes, the way DVC rewrites params.yaml, so each mapping and list keeps
the flow or block style its file gives it and the result is written in DVC's style (`dvc exp run -S` changes only
the lines it sets). Comments do not carry over (the base's describe the quick profile): the written params.yaml
opens with the overlay's first comment paragraph and says where it came from. No stage imports this module.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from scorerepro.core.fileio import write_text
from scorerepro.pipeline.paths import DATA, MODELS, RESULTS, SAMPLES

PROFILES_DIR = Path("workflow/params")
DEFAULT_PROFILE = "quick"
EXTENDS = "extends"  # the overlay's key naming its base file, relative to the overlay's folder
REPLACE_TAG = "!replace"
WIDTH = 80  # ruamel.yaml's default best_width, at which DVC's rewrite breaks a long flow collection mid-value


def round_trip_yaml() -> YAML:
    """ruamel.yaml set up as DVC sets it up to rewrite params.yaml (dvc.utils.serialize._yaml)."""
    y = YAML()
    y.default_flow_style = False
    return y


def profiles_dir() -> Path:
    """workflow/params under the working directory, else the one of the checkout this package runs from."""
    here = Path.cwd() / PROFILES_DIR
    return here if here.is_dir() else Path(__file__).resolve().parents[2] / PROFILES_DIR


def available_profiles(folder: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (folder or profiles_dir()).glob("*.yaml"))


def profile_file(name: str, folder: Path | None = None) -> Path:
    folder = folder or profiles_dir()
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no profile {name!r} in {folder} (available: {', '.join(available_profiles(folder))})")
    return path


def profile_text(name: str, folder: Path | None = None) -> str:
    """The params.yaml of profile `name`: the file itself for a full profile (quick), else its overlay merged onto
    its base, in DVC's style."""
    path = profile_file(name, folder)
    text = path.read_text()
    y = round_trip_yaml()
    overlay = y.load(text)
    if not isinstance(overlay, CommentedMap) or EXTENDS not in overlay:
        return text
    merged = _merged_nodes(path, overlay)
    unfold_long_flows(merged)
    out = io.StringIO()
    y.dump(merged, out)
    return _header(text, name, path, overlay[EXTENDS]) + out.getvalue()


def load_profile(name: str, folder: Path | None = None) -> dict:
    """Profile `name` as `scorerepro use-profile` writes it, parsed and validated."""
    from scorerepro.config import parse_params_text

    return parse_params_text(profile_text(name, folder), f"profile {name}")


def _merged_nodes(path: Path, overlay: CommentedMap) -> CommentedMap:
    """The overlay laid over its base (which may itself extend another file), comments dropped."""
    base_path = path.parent / overlay[EXTENDS]
    base = round_trip_yaml().load(base_path.read_text())
    if EXTENDS in base:
        base = _merged_nodes(base_path, base)
    merged = _plain_copy(base)
    lay_over(merged, {k: v for k, v in overlay.items() if k != EXTENDS})
    return merged


def lay_over(base: CommentedMap, overlay) -> None:
    """The merge rule (module docstring), in place on `base`."""
    for key, value in overlay.items():
        if _merges(value) and isinstance(base.get(key), CommentedMap):
            lay_over(base[key], value)
        else:
            base[key] = _plain_copy(value)


def _merges(node) -> bool:
    return isinstance(node, CommentedMap) and getattr(node.tag, "value", None) != REPLACE_TAG


def _plain_copy(node):
    """A copy of a node without comments or tags, keeping its flow or block style."""
    if isinstance(node, CommentedMap):
        out = CommentedMap((k, _plain_copy(v)) for k, v in node.items())
    elif isinstance(node, CommentedSeq):
        out = CommentedSeq(_plain_copy(v) for v in node)
    else:
        return node
    if node.fa.flow_style():
        out.fa.set_flow_style()
    else:
        out.fa.set_block_style()
    return out


def _header(text: str, name: str, path: Path, base: str) -> str:
    """The overlay's first comment paragraph (what the profile is), then where this params.yaml came from."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    folder = PROFILES_DIR.as_posix()
    return "\n".join(lines + [
        f"# Written by `scorerepro use-profile {name}`: {folder}/{base} with {folder}/{path.name}",
        "# laid over it (the settings the profile changes, and why, are commented there).", ""])


def unfold_long_flows(node, indent: int = 0) -> None:
    """Block style for each flow mapping or list whose line would pass WIDTH columns, which DVC's rewrite would break
    mid-value (`lr:\\n    0.001`); shorter ones stay on their line."""
    items = node.items() if isinstance(node, CommentedMap) else enumerate(node)
    for key, value in items:
        if not isinstance(value, (CommentedMap, CommentedSeq)):
            continue
        if value.fa.flow_style() and indent + len(str(key)) + 2 + len(_flow_text(value)) > WIDTH - 4:
            value.fa.set_block_style()
        unfold_long_flows(value, indent + 2)


def _flow_text(node) -> str:
    """The one-line flow form of `node`, without comments (PyYAML's spelling; ruamel's differs by a few chars)."""
    return yaml.safe_dump(_plain(node), default_flow_style=True, width=math.inf).strip()


def _plain(node):
    if isinstance(node, CommentedMap):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    for kind in (bool, int, float, str):  # ruamel's scalar subclasses, which PyYAML cannot write
        if isinstance(node, kind):
            return kind(node)
    return node


def use_profile(profile: str, params_path: str = "params.yaml") -> list[str]:
    """Write profile `profile` (workflow/params/<profile>.yaml; an overlay is merged onto its base first) as
    `params_path`. Returns (and prints) the result, sample, model and data folders left by
    earlier profiles that belong to no experiment or dataset of the new one: they are kept (a profile switched back
    finds its results and checkpoints), never deleted here."""
    from scorerepro.config import parse_params_text

    text = profile_text(profile, PROFILES_DIR)
    params = parse_params_text(text, f"profile {profile}")  # refuse to install an invalid profile
    write_text(params_path, text)
    print(f"{params_path} is now the {profile} profile ({PROFILES_DIR / profile}.yaml)")
    orphans = orphaned_outputs(params, Path(params_path).resolve().parent)
    if orphans:
        print(f"These folders belong to no experiment or dataset of the {profile} profile; they were kept (delete "
              "them yourself if you no longer need them; `dvc gc` then frees their cache):")
        for path in orphans:
            print(f"  {path}")
    return orphans


def orphaned_outputs(params: dict, root: Path = Path(".")) -> list[str]:
    """Folders under `root` made for an experiment or dataset that `params` does not have: per dataset
    data/{raw,processed,reference}/<dataset>, models/classifier/<dataset>, results/classifier/<dataset>; per
    paper models/<paper>/<experiment>, samples/<paper>/<experiment>, results/<paper>/<experiment> (names the
    paper's other stages use, such as results/ncsn/toy, are not experiments), data/<paper>/*/<experiment>.json,
    and everything of a paper the profile has no block for. Paths relative to `root`, sorted."""
    from scorerepro.config import RESERVED_NAMES, paper_blocks
    from scorerepro.papers import PAPERS

    found: list[Path] = []
    datasets = set(params.get("datasets") or {})
    for parent in (DATA / "raw", DATA / "processed", DATA / "reference",
                   MODELS / "classifier", RESULTS / "classifier"):
        if (root / parent).is_dir():
            found += [d for d in (root / parent).iterdir() if d.is_dir() and d.name not in datasets]
    profile_papers = set(paper_blocks(params))
    for paper in PAPERS:
        experiments = set((params.get(paper) or {}).get("experiments") or {}) if paper in profile_papers else None
        for top in (MODELS, SAMPLES, RESULTS, DATA):
            base = root / top / paper
            if not base.is_dir():
                continue
            if experiments is None:  # a paper this profile does not run
                found.append(base)
            elif top == DATA:  # a paper's intermediate tables, one file per experiment
                found += [f for f in base.glob("*/*.json") if f.stem not in experiments]
            else:
                found += [d for d in base.iterdir()
                          if d.is_dir() and d.name not in experiments and d.name not in RESERVED_NAMES]
    return sorted(p.relative_to(root).as_posix() for p in found)
