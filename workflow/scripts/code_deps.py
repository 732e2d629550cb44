"""Each pipeline stage's code: the files its command runs, written to one code file per stage (workflow/code/).

A stage runs `scorerepro [<paper>] <stage>`. Its code is the params check (scorerepro/config.py), the CLI module's
own file, the stage's module (named in scorerepro/pipeline/registry.py or the paper's STAGES) and every scorerepro
module those import, directly or through others, at the top of a file or inside a function. The scan is static
(Python's ast over the sources), so it may list a module that one particular run does not execute, never the
reverse.

DVC cannot compute this, and cannot splice a list into a stage's deps, so dvc.yaml's first stage, `code_deps`,
runs `python workflow/scripts/code_deps.py --write`: it writes workflow/code/<stage>.txt, one line per file of the
stage's closure with the file's SHA-256 (`sha256sum -c` reads it), and every other stage depends on its own code
file. Editing a module changes exactly the code files of the stages that import it, so only those rerun. A file is
rewritten only when its text changes (run by hand, unchanged files keep their modification times). Snakemake takes
the same closure as its rules' inputs (workflow/scripts/dvc_rules.py), file by file.

Not counted: the registration modules every command imports to find and validate its stage (FRONT_DOOR below: the
papers' registry and params checks, the stage table, package docstrings). They decide which function runs or refuse
bad params; no number flows from them into an output.

    python workflow/scripts/code_deps.py           # print each stage's closure
    python workflow/scripts/code_deps.py --write   # (re)write workflow/code/ (dvc.yaml stage code_deps)
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import re
import sys
from pathlib import Path

PACKAGE = "scorerepro"
SRC = "src"
CLI_MODULE = f"{PACKAGE}.cli"
CONFIG_MODULE = f"{PACKAGE}.config"
CODE_PREFIX = f"{SRC}/{PACKAGE}"
# dvc.yaml: stage CODE_STAGE writes CODE_DIR/<stage>.txt; every other stage depends on its own
CODE_DIR = "workflow/code"
CODE_STAGE = "code_deps"
CODE_SUFFIX = ".txt"
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
    key = (module, path.resolve())
    if key not in _SCANNED:
        _SCANNED[key] = _scan_imports(module, path, root)
    return _SCANNED[key]


# (module, file) -> its imports, for one code_by_stage() call: the stages share most of their modules
_SCANNED: dict[tuple[str, Path], set[str]] = {}


def _scan_imports(module: str, path: Path, root: Path) -> set[str]:
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
    _SCANNED.clear()
    try:
        for stage, module in _stage_table(root).items():
            files = closure([CLI_MODULE, CONFIG_MODULE, module], root, leaves=(CLI_MODULE,))
            out[stage] = [f for f in files if not _FRONT_DOOR_RE.fullmatch(f)]
    finally:
        _SCANNED.clear()  # a later call may see edited sources
    return out


def expand(paths: list[str], root: str | Path = ".") -> list[str]:
    """Paths as the .py files they hold (a folder: every .py under it), sorted."""
    root = Path(root)
    files = set()
    for p in paths:
        full = root / p
        if full.is_dir():
            files |= {f.relative_to(root).as_posix() for f in full.rglob("*.py")}
        else:
            files.add(p)
    return sorted(files)


def code_file(stage: str) -> str:
    """The code file of dvc.yaml stage `stage` (its kind: ncsn_train for ncsn_train@fig5_mnist)."""
    return f"{CODE_DIR}/{stage.split('@')[0]}{CODE_SUFFIX}"


def code_file_text(stage: str, files: list[str], root: str | Path = ".") -> str:
    """`sha256  path` per file (the format of sha256sum), under a header naming the stage."""
    root = Path(root)
    lines = [f"# the files `{stage}` runs, with their SHA-256: written by workflow/scripts/code_deps.py --write"]
    lines += [f"{hashlib.sha256((root / f).read_bytes()).hexdigest()}  {f}" for f in files]
    return "\n".join(lines) + "\n"


def listed_files(text: str) -> list[str]:
    """The paths a code file lists."""
    return [line.split("  ", 1)[1] for line in text.splitlines() if line and not line.startswith("#")]


def write_code_files(root: str | Path = ".") -> list[str]:
    """Write CODE_DIR/<stage>.txt for every registered stage, each only when its text changes, and remove the
    files of stages that are gone; returns the paths written or removed."""
    root = Path(root)
    folder = root / CODE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {code_file(stage): code_file_text(stage, files, root) for stage, files in code_by_stage(root).items()}
    changed = []
    for rel, text in sorted(wanted.items()):
        path = root / rel
        if not path.is_file() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            changed.append(rel)
    for path in sorted(folder.glob(f"*{CODE_SUFFIX}")):
        if path.relative_to(root).as_posix() not in wanted:
            path.unlink()
            changed.append(path.relative_to(root).as_posix())
    return changed


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write {CODE_DIR}/<stage>{CODE_SUFFIX}")
    ap.add_argument("--root", default=".")
    args = ap.parse_args(argv)
    if args.write:
        changed = write_code_files(args.root)
        print(f"code_deps: {len(changed)} code file(s) changed" + (f": {', '.join(changed)}" if changed else ""))
        return 0
    for stage, files in code_by_stage(args.root).items():
        print(f"{stage}:")
        print("\n".join(f"  {f}" for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
