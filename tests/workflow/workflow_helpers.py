"""Shared by the workflow tests (tests/workflow/: test_dag_generator, test_snakemake_profiles, test_interop, test_e2e,
test_code_deps): a temporary copy of the repository's workflow files, an environment that keeps DVC and Snakemake
local, a parser for the job list that `snakemake -n` prints, and the stage a rule was made from."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY_PARAMS = REPO / "tests" / "fixtures" / "tiny_params.yaml"
BIN = Path(sys.executable).parent  # the environment's snakemake, dvc and scorerepro live beside its python

# What a workspace needs: the DAG (dvc.yaml), the Snakefile and its rules, schema, profiles, scripts and code files,
# and the package source, which every stage's code file lists (workflow/scripts/code_deps.py). And the repository's .gitignore:
# where git already ignores an output (data/, models/, samples/), DVC writes no .gitignore of its own into the
# folder above it, so folder deps (samples/ncsn/<exp>/select, ...) hash the same as in the repository.
WORKFLOW_FILES = ["Snakefile", "dvc.yaml", "workflow", ".dvcignore", ".gitignore", "src"]


def tool_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SNAKEMAKE_PROFILE", None)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(tmp / ".dvc-site-cache"),
        XDG_CACHE_HOME=str(tmp / ".cache"),
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


def make_workspace(dest: Path, params: Path | str = TINY_PARAMS, *, git: bool = False, dvc: bool = False) -> Path:
    """Copy the workflow files into `dest` with `params` (a file, or YAML text) as its params.yaml."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    text = Path(params).read_text() if isinstance(params, Path) else params
    (dest / "params.yaml").write_text(text)
    if git or dvc:
        run(["git", "init", "-q"], dest)
    if dvc:
        run([str(BIN / "dvc"), "init", "-q"], dest)
        run(["git", "add", "-A"], dest)
        run(["git", "commit", "-qm", "workspace"], dest)
    return dest


def run(cmd: list[str], cwd: Path, *, env: dict | None = None, check: bool = True, timeout: float = 600,
        ) -> subprocess.CompletedProcess:
    # A session of its own, so no signal the tools or their jobs send to a process group reaches pytest.
    res = subprocess.run(cmd, cwd=cwd, env=env or tool_env(cwd), capture_output=True, text=True, timeout=timeout,
                         start_new_session=True)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({res.returncode}) in {cwd}:\n"
                             f"--- stdout\n{res.stdout[-6000:]}\n--- stderr\n{res.stderr[-6000:]}")
    return res


def snakemake(cwd: Path, *args: str, env: dict | None = None, check: bool = True, timeout: float = 600):
    return run([str(BIN / "snakemake"), *args], cwd, env=env, check=check, timeout=timeout)


def dvc(cwd: Path, *args: str, env: dict | None = None, check: bool = True, timeout: float = 600):
    return run([str(BIN / "dvc"), *args], cwd, env=env, check=check, timeout=timeout)


_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_FIELD = re.compile(r"^\s+(\w+): (.*)$")


def parse_dry_run(text: str) -> list[dict]:
    """Jobs of `snakemake -n` output: rule, input, output (lists), wildcards, resources (dicts), shell."""
    jobs: list[dict] = []
    job = None
    for line in text.splitlines():
        m = _RULE.match(line)
        if m:
            job = {"rule": m.group(1), "input": [], "output": [], "wildcards": {}, "resources": {}, "shell": None}
            jobs.append(job)
            continue
        if job is None:
            continue
        if line.startswith("Shell command: "):
            job["shell"] = line[len("Shell command: "):].strip()
            job = None
            continue
        m = _FIELD.match(line)
        if not m:
            continue
        key, value = m.groups()
        if key in ("input", "output"):
            job[key] = [v.strip() for v in value.split(", ") if v.strip()]
        elif key in ("wildcards", "resources"):
            job[key] = dict(item.split("=", 1) for item in value.split(", ") if "=" in item)
    return jobs


def stage_kind(rule: str) -> str:
    """The dvc.yaml stage a Snakemake rule was made from, without its foreach key: ncsn_train__tiny_ncsn ->
    ncsn_train (workflow/scripts/dvc_rules.py: rule_name)."""
    return rule.split("__")[0]


def stage_names(ws: Path) -> dict[str, str]:
    """Snakemake rule -> DVC stage name, for the workspace's dvc.yaml and params.yaml."""
    sys.path.insert(0, str(REPO / "workflow" / "scripts"))
    import dvc_rules

    return {dvc_rules.rule_name(s.name): s.name for s in dvc_rules.load_stages(ws)}


def nothing_to_do(res: subprocess.CompletedProcess) -> bool:
    return "Nothing to be done" in res.stdout + res.stderr
