"""Each stage's code deps are its import closure (workflow/scripts/code_deps.py, which follows imports the way Python
does), written by dvc.yaml's stage code_deps to workflow/code/<stage>.txt; every other stage depends on its own code
file. Checked: the checked-in code files are a fresh computation, every stage depends on its own, and editing a
module changes exactly the code files of the stages that import it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from workflow_helpers import REPO

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
import code_deps  # noqa: E402

SRC = "src/scorerepro/"


@pytest.fixture(scope="module")
def dvc_stages() -> dict:
    """dvc.yaml's stage definitions: name -> body (under `do` for foreach stages)."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def test_checked_in_code_files_are_a_fresh_computation():
    code = code_deps.code_by_stage(REPO)
    on_disk = sorted(p.name for p in (REPO / code_deps.CODE_DIR).glob("*" + code_deps.CODE_SUFFIX))
    assert on_disk == sorted(Path(code_deps.code_file(s)).name for s in code)
    stale = [s for s, files in code.items()
             if (REPO / code_deps.code_file(s)).read_text() != code_deps.code_file_text(s, files, REPO)]
    assert not stale, f"run `python workflow/scripts/code_deps.py --write` (or dvc repro code_deps): {stale}"


def test_every_stage_depends_on_its_own_code_file_and_on_no_source(dvc_stages):
    for name, body in dvc_stages.items():
        deps = [str(d) for d in body.get("deps", [])]
        if name == code_deps.CODE_STAGE:
            assert deps == [code_deps.CODE_PREFIX, "workflow/scripts/code_deps.py"]
            assert [next(iter(o)) for o in body["outs"]] == [code_deps.CODE_DIR]
            continue
        assert [d for d in deps if d.startswith(code_deps.CODE_DIR + "/")] == [code_deps.code_file(name)], name
        assert not [d for d in deps if d.startswith(code_deps.CODE_PREFIX)], name


def test_every_dvc_stage_is_in_the_stage_registries_and_back(dvc_stages):
    """A dvc.yaml stage runs `scorerepro [<paper>] <stage>`, found in pipeline/registry.py or a paper's STAGES;
    every registered stage is a stage of the DAG."""
    registered = set(code_deps.code_by_stage(REPO))
    stages = set(dvc_stages) - {code_deps.CODE_STAGE}
    assert stages - registered == set(), "dvc.yaml stages without a registered command"
    assert registered - stages == set(), "registered stages that dvc.yaml does not run"


def test_stage_commands_match_the_registries(dvc_stages):
    """`scorerepro <stage>` for shared stages, `scorerepro <paper> <stage>` for `<paper>_<stage>`."""
    papers = {p.parent.name for p in (REPO / SRC / "papers").glob("*/__init__.py")}
    for name, body in dvc_stages.items():
        if name == code_deps.CODE_STAGE:
            continue
        words = body["cmd"].split()
        # the longest paper name prefixing the stage's (a paper's name may hold "_", as score_repr)
        paper = next((p for p in sorted(papers, key=len, reverse=True) if name.startswith(p + "_")), None)
        if paper is not None:
            assert words[:3] == ["scorerepro", paper, name[len(paper) + 1:]], (name, body["cmd"])
        else:
            assert words[:2] == ["scorerepro", name], (name, body["cmd"])


def _copy_sources(dest: Path) -> Path:
    shutil.copytree(REPO / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / code_deps.CODE_DIR, dest / code_deps.CODE_DIR)
    return dest


def _write(root: Path) -> str:
    res = subprocess.run([sys.executable, str(REPO / "workflow/scripts/code_deps.py"), "--write", "--root", str(root)],
                         capture_output=True, text=True, check=True)
    return res.stdout


def test_editing_a_module_rewrites_exactly_the_code_files_of_its_importers(tmp_path):
    root = _copy_sources(tmp_path)
    assert "0 code file(s) changed" in _write(root)
    files = {p.name: p.stat().st_mtime_ns for p in (root / code_deps.CODE_DIR).iterdir()}
    sampler = SRC + "papers/ncsn/sampling.py"
    with open(root / sampler, "a") as f:
        f.write("# an edit\n")
    importers = {s for s, code in code_deps.code_by_stage(REPO).items() if sampler in code}
    assert {"ncsn_sample", "ncsn_select_sample", "ncsn_toy"} <= importers and "ncsn_train" not in importers
    out = _write(root)
    assert f"{len(importers)} code file(s) changed" in out
    for name, mtime in files.items():
        changed = (root / code_deps.CODE_DIR / name).stat().st_mtime_ns != mtime
        assert changed == (name.removesuffix(code_deps.CODE_SUFFIX) in importers), name
    assert code_deps.listed_files((root / code_deps.code_file("ncsn_sample")).read_text()) == \
        code_deps.code_by_stage(root)["ncsn_sample"]


def test_a_stage_gone_from_the_registry_loses_its_code_file(tmp_path):
    root = _copy_sources(tmp_path)
    (root / code_deps.CODE_DIR / "ncsn_bogus.txt").write_text("# left over\n")
    assert "workflow/code/ncsn_bogus.txt" in _write(root)
    assert not (root / code_deps.CODE_DIR / "ncsn_bogus.txt").exists()


def test_stages_depend_on_the_code_they_run_and_not_on_the_rest():
    code = code_deps.code_by_stage(REPO)
    ncsn = SRC + "papers/ncsn/"
    # Training does not depend on the sampler (a sampler fix must not retrain), sampling does.
    assert any(f.startswith(SRC + "training/") for f in code["ncsn_train"])
    assert ncsn + "sampling.py" not in code["ncsn_train"]
    assert ncsn + "sampling.py" in code["ncsn_sample"]
    assert ncsn + "stages/batched_sampling.py" in code["ncsn_select"]
    # Preprocessing needs neither networks nor metrics: a model change must not redo the data.
    assert not [f for f in code["preprocess"] if f.startswith((SRC + "nets/", SRC + "metrics/", SRC + "papers/"))]
    # The shared tables run no paper's code: a change in one paper reruns them through its rows files only.
    for stage in ("claims", "leaderboard"):
        assert not [f for f in code[stage] if f.startswith(SRC + "papers/")], stage
    # Every stage runs the CLI and the params check; the schema-checked params are DVC params deps.
    assert all({SRC + "cli.py", SRC + "config.py"} <= set(f) for f in code.values())
    # The summary reads the claims module.
    assert ncsn + "claims.py" in code["ncsn_summary"]
    # The registration modules are not code deps (code_deps.FRONT_DOOR): no stage lists them.
    assert not [f for files in code.values() for f in files if f in (SRC + "__init__.py", SRC + "pipeline/registry.py")]


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_scan_follows_every_kind_of_import(tmp_path):
    root = _package(tmp_path, {
        "scorerepro/__init__.py": "",
        "scorerepro/cli.py": """
            from scorerepro.pipeline.registry import SHARED_STAGES

            def tool():
                from scorerepro import heavy  # another subcommand's import: not the stage's code
            """,
        "scorerepro/config.py": "import json\n",
        "scorerepro/heavy.py": "",
        "scorerepro/pipeline/__init__.py": "",
        "scorerepro/pipeline/registry.py": """
            from scorerepro.heavy import nothing  # the front door: registration, not a stage's code

            SHARED_STAGES = {"go": Stage("scorerepro.pipeline.go", "run", "help")}
            """,
        "scorerepro/pipeline/go.py": """
            import os
            from scorerepro.lib import helper
            from . import sibling

            def run():
                from scorerepro.metrics import fid  # a submodule, imported inside a function
                import scorerepro.papers.ncsn.noise
            """,
        "scorerepro/pipeline/sibling.py": "from ..lib.deep import value\n",
        "scorerepro/pipeline/unused.py": "",
        "scorerepro/lib/__init__.py": "from .core import helper\n",
        "scorerepro/lib/core.py": "helper = 1\n",
        "scorerepro/lib/deep.py": "value = 2\n",
        "scorerepro/metrics/__init__.py": "",
        "scorerepro/metrics/fid.py": "",
        "scorerepro/metrics/other.py": "",
        "scorerepro/papers/__init__.py": "",
        "scorerepro/papers/ncsn/__init__.py": """
            _S = "scorerepro.papers.ncsn.stages."
            STAGES = {"fit": Stage(_S + "fit", "run", "help")}
            """,
        "scorerepro/papers/ncsn/noise.py": "",
        "scorerepro/papers/ncsn/params_checks.py": "",
        "scorerepro/papers/ncsn/stages/__init__.py": "",
        "scorerepro/papers/ncsn/stages/fit.py": "from ..noise import x\nfrom scorerepro.papers.ncsn import nets\n",
        "scorerepro/papers/ncsn/nets/__init__.py": "from .mlp import MLP\n",
        "scorerepro/papers/ncsn/nets/mlp.py": "",
    })
    got = code_deps.code_by_stage(root)
    go = ["cli.py", "config.py", "lib/__init__.py", "lib/core.py", "lib/deep.py", "metrics/__init__.py",
          "metrics/fid.py", "papers/ncsn/noise.py", "pipeline/__init__.py", "pipeline/go.py", "pipeline/sibling.py"]
    fit = ["cli.py", "config.py", "papers/ncsn/nets/__init__.py", "papers/ncsn/nets/mlp.py", "papers/ncsn/noise.py",
           "papers/ncsn/stages/__init__.py", "papers/ncsn/stages/fit.py"]
    assert got == {"go": [SRC + f for f in go], "ncsn_fit": [SRC + f for f in fit]}



def test_expand_lists_python_files_of_folders(tmp_path):
    root = _package(tmp_path, {"scorerepro/a/__init__.py": "", "scorerepro/a/b/c.py": "", "scorerepro/a/data.json": "",
                               "scorerepro/d.py": ""})
    (root / "src/scorerepro/a/__pycache__").mkdir()
    (root / "src/scorerepro/a/__pycache__/x.cpython-312.pyc").write_text("")
    assert code_deps.expand([SRC + "a", SRC + "d.py"], root) == [SRC + f for f in ("a/__init__.py", "a/b/c.py",
                                                                                  "d.py")]
