"""Each pipeline stage's code dependencies, and the check that dvc.yaml declares them.

A stage runs `scorerepro [<paper>] <stage>`. Its code is the params check (scorerepro/config.py), the CLI module's
own file, the stage's module (named in scorerepro/pipeline/registry.py or the paper's STAGES) and every scorerepro
module those import, directly or through others, at the top of a file or inside a function. The scan is static
(Python's ast over the sources), so it may list a module that one particular run does not execute, never the
reverse.

dvc.yaml declares code deps concisely: folders (a shared folder such as src/scorerepro/metrics, or a paper's
subfolder) and single files, so a stage reads in a few lines. `uncovered()` is the guarantee that this is enough:
every file of a stage's import closure lies in something the stage declares, so a code change reruns every stage
that runs the changed code (tests/workflow/test_code_deps.py). Folders may cover more than a stage runs; that reruns
a stage needlessly, never leaves one stale.

Not counted: the registration modules every command imports to find and validate its stage (FRONT_DOOR below: the
papers' registry and params checks, the stage table, package docstrings). They decide which function runs or refuse
bad params; no number flows from them into an output.

The Snakemake rules read the same declarations from dvc.yaml and expand folders into their .py files
(workflow/rules/common.smk: code(stage)), since Snakemake tracks files, not folders.

    python workflow/scripts/code_deps.py      # print each stage's closure and anything dvc.yaml does not cover
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

PACKAGE = "scorerepro"
SRC = "src"
CLI_MODULE = f"{PACKAGE}.cli"
CONFIG_MODULE = f"{PACKAGE}.config"
CODE_PREFIX = f"{SRC}/{PACKAGE}"
FRONT_DOOR = (
    "src/scorerepro/__init__.py", "src/scorerepro/papers/__init__.py", "src/scorerepro/papers/*/__init__.py",
    "src/scorerepro/papers/*/params_checks.py", "src/scorerepro/stages/__init__.py",
    "src/scorerepro/pipeline/registry.py",
)
# `*` stands for one path component (papers/ncsn/__init__.py, not papers/ncsn/nets/__init__.py)
_FRONT_DOOR_RE = re.compile("|".join(re.escape(p).replace(r"\*", "[^/]+") for p in FRONT_DOOR))


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


def _stage_table(root: Path) -> dict[str, str]:
    """dvc.yaml stage name -> the module that runs it, from the registries (read as source, not imported)."""
    def literal_stages(path: Path, var: str) -> dict[str, str]:
        tree = ast.parse(path.read_text())
        prefix = {}
        for node in tree.body:  # module-level string constants used to spell module names (e.g. _S = "...")
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                prefix[node.targets[0].id] = node.value.value
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == var for t in node.targets):
                out = {}
                for key, call in zip(node.value.keys, node.value.values):
                    arg = call.args[0]
                    if isinstance(arg, ast.BinOp):
                        module = prefix[arg.left.id] + arg.right.value
                    else:
                        module = arg.value
                    out[key.value] = module
                return out
        raise ValueError(f"{path} has no {var} = {{...}} table")

    src = root / SRC / PACKAGE
    table = literal_stages(src / "pipeline" / "registry.py", "SHARED_STAGES")
    for paper_init in sorted((src / "papers").glob("*/__init__.py")):
        paper = paper_init.parent.name
        table |= {f"{paper}_{stage}": module for stage, module in literal_stages(paper_init, "STAGES").items()}
    return table


def code_by_stage(root: str | Path = ".") -> dict[str, list[str]]:
    """dvc stage name -> the files its command runs (repository-relative, sorted), front door excluded."""
    root = Path(root)
    out = {}
    for stage, module in _stage_table(root).items():
        files = closure([CLI_MODULE, CONFIG_MODULE, module], root, leaves=(CLI_MODULE,))
        out[stage] = [f for f in files if not _FRONT_DOOR_RE.fullmatch(f)]
    return out


def stage_bodies(dvc_yaml: dict):
    """(name, body) of each stage definition; foreach/matrix stages have their body under `do` or at the top."""
    for name, stage in dvc_yaml["stages"].items():
        yield name, (stage["do"] if "do" in stage else stage)


def declared_code(dvc_yaml: dict) -> dict[str, list[str]]:
    """stage -> the code deps dvc.yaml declares for it (files and folders under src/scorerepro)."""
    return {name: [str(d) for d in body.get("deps", []) if str(d).startswith(CODE_PREFIX)]
            for name, body in stage_bodies(dvc_yaml)}


def expand(paths: list[str], root: str | Path = ".") -> list[str]:
    """Declared code deps as the .py files they hold (a folder: every .py under it), sorted."""
    root = Path(root)
    files = set()
    for p in paths:
        full = root / p
        if full.is_dir():
            files |= {f.relative_to(root).as_posix() for f in full.rglob("*.py")}
        else:
            files.add(p)
    return sorted(files)


def uncovered(dvc_yaml: dict, root: str | Path = ".") -> dict[str, list[str]]:
    """stage -> files its command runs that none of its declared code deps covers (empty when all is well)."""
    code = code_by_stage(root)
    out = {}
    for name, declared in declared_code(dvc_yaml).items():
        if name not in code:
            raise ValueError(f"dvc.yaml stage {name} has no entry in the stage registries (pipeline/registry.py or "
                             f"papers/<paper>/__init__.py STAGES)")
        have = set(expand(declared, root))
        out[name] = [f for f in code[name] if f not in have]
    return out


def main(argv: list[str]) -> int:
    root = Path(".")
    dvc_yaml = yaml.safe_load((root / "dvc.yaml").read_text())
    code = code_by_stage(root)
    missing = uncovered(dvc_yaml, root)
    for stage, files in code.items():
        print(f"{stage}:")
        for f in files:
            print(f"  {f}{'   <- NOT DECLARED in dvc.yaml' if f in missing.get(stage, []) else ''}")
    bad = {s: f for s, f in missing.items() if f}
    if bad:
        print(f"\n{len(bad)} stage(s) run code dvc.yaml does not declare: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
