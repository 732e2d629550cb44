"""Each pipeline stage's code dependencies: the files of the scorerepro package its subcommand can run.

A stage runs `scorerepro <subcommand>`. Its code is the CLI module (its file only), the params check
(scorerepro/config.py), the subcommand's pipeline module (named in scorerepro/cli.py's STAGES) and every scorerepro
module those import, directly or through others, at the top of a file or inside a function, plus the package
__init__ files on the way. The scan is static (Python's ast over the
sources), so it may list a module that one particular run does not execute, never the reverse.

dvc.yaml lists these files among each stage's deps, so a change to the code a stage runs makes `dvc repro` rerun
that stage and what depends on it, and nothing else (editing the sampler reruns sampling, not training). The
Snakemake rules take the same lists from here (workflow/rules/common.smk); tests/test_code_deps.py checks that
dvc.yaml is current.

    python workflow/scripts/code_deps.py            # print each subcommand's files
    python workflow/scripts/code_deps.py --write    # rewrite the code deps of every stage in dvc.yaml
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "scorerepro"
SRC = "src"
CLI_MODULE = f"{PACKAGE}.cli"
CONFIG_MODULE = f"{PACKAGE}.config"
CODE_PREFIX = f"{SRC}/{PACKAGE}/"


def module_file(module: str, root: Path) -> Path | None:
    """src/scorerepro/a/b.py or src/scorerepro/a/b/__init__.py for module 'scorerepro.a.b', or None."""
    base = root / SRC / Path(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imported_modules(module: str, path: Path, root: Path) -> set[str]:
    """The package's modules that `module` (at `path`) imports anywhere in its source, with their parents."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[:len(parts) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            found.add(target)
            # `from scorerepro.metrics import fid` imports the submodule fid
            found |= {f"{target}.{a.name}" for a in node.names if module_file(f"{target}.{a.name}", root)}
    with_parents = set()
    for name in found:
        parts = name.split(".")
        with_parents |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return with_parents


def closure(modules: list[str], root: Path, leaves: tuple[str, ...] = ()) -> list[str]:
    """Repository-relative paths of `modules` and everything of the package they import, sorted. Modules in
    `leaves` count as files, their imports are not followed."""
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name, root)
        if path is None:
            continue  # an attribute imported from a module, not a module
        seen[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        if name not in leaves:
            todo += sorted(_imported_modules(name, path, root))
    return sorted(p.relative_to(root).as_posix() for p in seen.values())


def subcommand_modules(root: Path) -> dict[str, str]:
    """subcommand -> pipeline module, read from the STAGES literal in scorerepro/cli.py (not imported)."""
    cli = module_file(CLI_MODULE, root)
    for node in ast.parse(cli.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "STAGES" for t in node.targets):
            stages = ast.literal_eval(node.value)
            return {sub: f"{PACKAGE}.pipeline.{entry[0]}" for sub, entry in stages.items()}
    raise ValueError(f"{cli} has no STAGES = {{...}} literal")


def code_by_subcommand(root: str | Path = ".") -> dict[str, list[str]]:
    """subcommand -> the files its stage depends on (repository-relative, sorted)."""
    root = Path(root)
    # The CLI's own lazy imports serve its other subcommands (model-summary, use-profile); what it runs for a stage
    # is the params check (config) and the stage's module.
    return {sub: closure([CLI_MODULE, CONFIG_MODULE, module], root, leaves=(CLI_MODULE,))
            for sub, module in subcommand_modules(root).items()}


def subcommand_of(cmd: str) -> str:
    words = cmd.split()
    if len(words) < 2 or words[0] != PACKAGE:
        raise ValueError(f"stage command {cmd!r} does not run `{PACKAGE} <subcommand>`")
    return words[1]


def _stage_bodies(dvc_yaml: dict):
    """(name, body) of each stage definition; foreach/matrix stages have their body under `do` or at the top."""
    for name, stage in dvc_yaml["stages"].items():
        yield name, (stage["do"] if "do" in stage else stage)


def listed_code_deps(dvc_yaml: dict) -> dict[str, list[str]]:
    """stage -> the code deps dvc.yaml lists for it (deps under src/scorerepro/)."""
    return {name: [d for d in body.get("deps", []) if str(d).startswith(CODE_PREFIX)]
            for name, body in _stage_bodies(dvc_yaml)}


def expected_code_deps(dvc_yaml: dict, root: str | Path = ".") -> dict[str, list[str]]:
    code = code_by_subcommand(root)
    return {name: code[subcommand_of(body["cmd"])] for name, body in _stage_bodies(dvc_yaml)}


def write_dvc_yaml(root: Path) -> list[str]:
    """Rewrite each stage's deps as its data deps followed by its code deps; returns the stages changed."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 118
    yaml.indent(mapping=2, sequence=4, offset=2)
    path = root / "dvc.yaml"
    doc = yaml.load(path.read_text())
    expected = expected_code_deps(doc, root)
    changed = []
    for name, body in _stage_bodies(doc):
        data = [d for d in body.get("deps", []) if not str(d).startswith(CODE_PREFIX)]
        if [d for d in body.get("deps", []) if str(d).startswith(CODE_PREFIX)] == expected[name]:
            continue
        deps = CommentedSeq(data + expected[name])
        deps.fa.set_block_style()
        if "deps" in body:
            body["deps"] = deps
        else:  # deps go right after cmd, where a reader looks for them
            body.insert(list(body.keys()).index("cmd") + 1, "deps", deps)
        changed.append(name)
    if changed:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as f:
            yaml.dump(doc, f)
        tmp.replace(path)
    return changed


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    if argv == ["--write"]:
        changed = write_dvc_yaml(root)
        print(f"dvc.yaml: code deps rewritten for {', '.join(changed)}" if changed else "dvc.yaml: code deps current")
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    for sub, files in code_by_subcommand(root).items():
        print(f"{sub}: {' '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
