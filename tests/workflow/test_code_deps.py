"""Every dvc.yaml stage declares (folders and files under src/scorerepro) code that covers the package files its
command runs: its import closure, found by workflow/scripts/code_deps.py, which follows imports the way Python does.
Dropping a declaration makes the check fail. The Snakemake side expands the same declarations (test_dag_agreement)."""

from __future__ import annotations

import copy
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
def dvc_yaml() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())


def test_every_stage_declares_the_code_it_runs(dvc_yaml):
    missing = {stage: files for stage, files in code_deps.uncovered(dvc_yaml, REPO).items() if files}
    assert not missing, ("dvc.yaml does not declare code these stages run (add the folder or file to the stage's "
                         f"deps; `python workflow/scripts/code_deps.py` lists each closure): {missing}")


def test_declared_code_exists_and_is_python(dvc_yaml):
    for stage, declared in code_deps.declared_code(dvc_yaml).items():
        assert declared, f"{stage} declares no code"
        for d in declared:
            path = REPO / d
            assert path.is_dir() or (path.is_file() and path.suffix == ".py"), f"{stage}: {d} does not exist"
            if path.is_dir():
                assert list(path.rglob("*.py")), f"{stage}: folder {d} holds no .py file"


def test_every_dvc_stage_is_in_the_stage_registries_and_back(dvc_yaml):
    """A dvc.yaml stage runs `scorerepro [<paper>] <stage>`, found in pipeline/registry.py or a paper's STAGES;
    every registered stage is a stage of the DAG."""
    registered = set(code_deps.code_by_stage(REPO))
    stages = set(dvc_yaml["stages"])
    assert stages - registered == set(), "dvc.yaml stages without a registered command"
    assert registered - stages == set(), "registered stages that dvc.yaml does not run"
    bad = copy.deepcopy(dvc_yaml)
    bad["stages"]["ncsn_bogus"] = {"cmd": "scorerepro ncsn bogus", "deps": [SRC + "cli.py"]}
    with pytest.raises(ValueError, match="stage registries"):
        code_deps.uncovered(bad, REPO)


def test_stage_commands_match_the_registries(dvc_yaml):
    """`scorerepro <stage>` for shared stages, `scorerepro <paper> <stage>` for `<paper>_<stage>`."""
    papers = {p.parent.name for p in (REPO / SRC / "papers").glob("*/__init__.py")}
    for name, body in code_deps.stage_bodies(dvc_yaml):
        words = body["cmd"].split()
        # the paper whose name prefixes the stage's (the longest: a paper's name may hold an underscore)
        paper = max((p for p in papers if name.startswith(p + "_")), key=len, default=None)
        if paper in papers:
            assert words[:3] == ["scorerepro", paper, name[len(paper) + 1:]], (name, body["cmd"])
        else:
            assert words[:2] == ["scorerepro", name], (name, body["cmd"])


def _drop(doc: dict, stage: str, dep: str) -> dict:
    doc = copy.deepcopy(doc)
    body = doc["stages"][stage].get("do", doc["stages"][stage])
    assert dep in body["deps"], f"{stage} does not declare {dep}"
    body["deps"] = [d for d in body["deps"] if d != dep]
    return doc


# (stage, declared folder or file): what the stage's closure needs from it
DROPS = [
    ("download", SRC + "data", SRC + "data/"),
    ("preprocess", SRC + "core", SRC + "core/"),
    ("inception_weights", SRC + "metrics", SRC + "metrics/"),
    ("classifier", SRC + "metrics", SRC + "metrics/"),
    ("ncsn_train", SRC + "training", SRC + "training/"),
    ("ncsn_train", SRC + "papers/ncsn/nets", SRC + "papers/ncsn/nets/"),
    ("ncsn_evaluate", SRC + "metrics", SRC + "metrics/"),
    ("ncsn_sample", SRC + "papers/ncsn/sampling.py", SRC + "papers/ncsn/sampling.py"),
    ("ncsn_toy", SRC + "papers/ncsn/toy_gmm.py", SRC + "papers/ncsn/toy_gmm.py"),
    ("ncsn_summary", SRC + "papers/ncsn/claims.py", SRC + "papers/ncsn/claims.py"),
    ("claims", SRC + "pipeline", SRC + "pipeline/"),
    ("leaderboard", SRC + "stages/claims_table.py", SRC + "stages/claims_table.py"),
]


@pytest.fixture(scope="module")
def repo_closures() -> dict[str, list[str]]:
    return code_deps.code_by_stage(REPO)


@pytest.fixture
def scan_once(monkeypatch, repo_closures):
    """The repository's closures scanned once for the module (a scan takes seconds), other roots as usual."""
    real = code_deps.code_by_stage
    monkeypatch.setattr(code_deps, "code_by_stage",
                        lambda root=".": copy.deepcopy(repo_closures) if Path(root) == REPO else real(root))


@pytest.mark.parametrize("stage,dropped,needed", DROPS, ids=[f"{s}-{d.removeprefix(SRC)}" for s, d, _ in DROPS])
def test_dropping_a_declared_folder_or_file_fails(dvc_yaml, scan_once, stage, dropped, needed):
    assert not code_deps.uncovered(dvc_yaml, REPO)[stage]
    missing = code_deps.uncovered(_drop(dvc_yaml, stage, dropped), REPO)
    assert missing[stage] and all(f.startswith(needed) for f in missing[stage]), missing[stage]
    assert all(not files for s, files in missing.items() if s != stage)


def test_stages_depend_on_the_code_they_run_and_not_on_the_rest(dvc_yaml):
    code = code_deps.code_by_stage(REPO)
    declared = {stage: code_deps.expand(paths, REPO) for stage, paths in code_deps.declared_code(dvc_yaml).items()}
    ncsn = SRC + "papers/ncsn/"
    # Training does not depend on the sampler (a sampler fix must not retrain), sampling does.
    for files in (code, declared):
        assert any(f.startswith(SRC + "training/") for f in files["ncsn_train"])
        assert ncsn + "sampling.py" not in files["ncsn_train"]
        assert ncsn + "sampling.py" in files["ncsn_sample"]
        assert ncsn + "stages/batched_sampling.py" in files["ncsn_select"]
        # Preprocessing needs neither networks nor metrics: a model change must not redo the data.
        assert not [f for f in files["preprocess"] if f.startswith((SRC + "nets/", SRC + "metrics/", SRC + "papers/"))]
        # The shared tables run no paper's code: a change in one paper reruns them through its rows files only.
        for stage in ("claims", "leaderboard"):
            assert not [f for f in files[stage] if f.startswith(SRC + "papers/")], stage
        # Every stage runs the CLI and the params check; the schema-checked params are DVC params deps.
        assert all({SRC + "cli.py", SRC + "config.py"} <= set(f) for f in files.values())
        # The summary reads the claims module.
        assert ncsn + "claims.py" in files["ncsn_summary"]
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

    # declared folders and files cover a closure; a narrower declaration leaves files uncovered
    doc = {"stages": {
        "go": {"cmd": "scorerepro go", "deps": ["data/x", SRC + "cli.py", SRC + "config.py", SRC + "lib",
                                                SRC + "metrics", SRC + "pipeline", SRC + "papers/ncsn/noise.py"]},
        "ncsn_fit": {"foreach": ["a"], "do": {"cmd": "scorerepro ncsn fit", "deps": [
            SRC + "cli.py", SRC + "config.py", SRC + "papers/ncsn"]}},
    }}
    assert code_deps.uncovered(doc, root) == {"go": [], "ncsn_fit": []}
    assert SRC + "pipeline/unused.py" in code_deps.expand(doc["stages"]["go"]["deps"], root)
    doc["stages"]["go"]["deps"].remove(SRC + "lib")
    doc["stages"]["ncsn_fit"]["do"]["deps"][-1] = SRC + "papers/ncsn/stages"
    assert code_deps.uncovered(doc, root) == {
        "go": [SRC + f for f in ("lib/__init__.py", "lib/core.py", "lib/deep.py")],
        "ncsn_fit": [SRC + f for f in ("papers/ncsn/nets/__init__.py", "papers/ncsn/nets/mlp.py",
                                       "papers/ncsn/noise.py")],
    }


def test_expand_lists_python_files_of_folders(tmp_path):
    root = _package(tmp_path, {"scorerepro/a/__init__.py": "", "scorerepro/a/b/c.py": "", "scorerepro/a/data.json": "",
                               "scorerepro/d.py": ""})
    (root / "src/scorerepro/a/__pycache__").mkdir()
    (root / "src/scorerepro/a/__pycache__/x.cpython-312.pyc").write_text("")
    assert code_deps.expand([SRC + "a", SRC + "d.py"], root) == [SRC + f for f in ("a/__init__.py", "a/b/c.py",
                                                                                  "d.py")]
