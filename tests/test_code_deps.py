"""Every dvc.yaml stage lists the package files its command runs (workflow/scripts/code_deps.py), and the scan that
finds them follows imports the way Python does. The Snakemake side takes the same lists (test_dag_agreement)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from workflow_helpers import REPO

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
import code_deps  # noqa: E402


def test_dvc_yaml_lists_each_stages_code():
    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    listed, expected = code_deps.listed_code_deps(doc), code_deps.expected_code_deps(doc, REPO)
    stale = {name: {"missing": sorted(set(expected[name]) - set(files)),
                    "extra": sorted(set(files) - set(expected[name]))}
             for name, files in listed.items() if files != expected[name]}
    assert not stale, ("dvc.yaml's code deps are out of date: run `python workflow/scripts/code_deps.py --write` "
                       f"({stale})")
    for files in listed.values():
        assert all((REPO / f).is_file() for f in files)


def test_stages_depend_on_the_code_they_run_and_not_on_the_rest():
    code = code_deps.code_by_subcommand(REPO)
    src = "src/scorerepro/"
    # Training does not depend on the sampler (a sampler fix must not retrain), sampling does.
    assert src + "training.py" in code["train"] and src + "sampling.py" not in code["train"]
    assert src + "sampling.py" in code["sample"] and src + "pipeline/batched_sampling.py" in code["select"]
    # Preprocessing needs neither networks nor metrics: a model change must not redo the data.
    assert not [f for f in code["preprocess"] if f.startswith((src + "models/", src + "metrics/"))]
    # Every stage runs the CLI and the params check; the schema-checked params are DVC params deps.
    assert all({src + "cli.py", src + "config.py"} <= set(files) for files in code.values())
    # The summary reads the claims module through `from scorerepro.pipeline import claims as ...`.
    assert src + "pipeline/claims.py" in code["summary"]


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
            STAGES = {"go": ("go", "help", None)}

            def tool():
                from scorerepro import heavy  # another subcommand's import: not the stage's code
            """,
        "scorerepro/config.py": "import json\n",
        "scorerepro/heavy.py": "",
        "scorerepro/pipeline/__init__.py": "",
        "scorerepro/pipeline/go.py": """
            import os
            from scorerepro.lib import helper
            from . import sibling

            def run():
                from scorerepro.metrics import fid  # a submodule, imported inside a function
                import scorerepro.noise
            """,
        "scorerepro/pipeline/sibling.py": "from ..lib.deep import value\n",
        "scorerepro/pipeline/unused.py": "",
        "scorerepro/lib/__init__.py": "from .core import helper\n",
        "scorerepro/lib/core.py": "helper = 1\n",
        "scorerepro/lib/deep.py": "value = 2\n",
        "scorerepro/metrics/__init__.py": "",
        "scorerepro/metrics/fid.py": "",
        "scorerepro/metrics/other.py": "",
        "scorerepro/noise.py": "",
    })
    got = code_deps.code_by_subcommand(root)
    want = ["__init__.py", "cli.py", "config.py", "lib/__init__.py", "lib/core.py", "lib/deep.py",
            "metrics/__init__.py", "metrics/fid.py", "noise.py", "pipeline/__init__.py", "pipeline/go.py",
            "pipeline/sibling.py"]
    assert got == {"go": [f"src/scorerepro/{f}" for f in want]}


def test_write_puts_code_after_data_deps_and_is_idempotent(tmp_path):
    root = _package(tmp_path, {
        "scorerepro/__init__.py": "",
        "scorerepro/cli.py": 'STAGES = {"go": ("go", "help", "name")}\n',
        "scorerepro/config.py": "",
        "scorerepro/pipeline/__init__.py": "",
        "scorerepro/pipeline/go.py": "",
    })
    (root / "dvc.yaml").write_text(textwrap.dedent("""\
        # a comment that must survive
        stages:
          one:
            foreach: [a, b]
            do:
              cmd: scorerepro go ${item}
              deps: ["data/${item}", src/scorerepro/stale.py]
              outs: ["out/${item}"]
          two:
            cmd: scorerepro go x
            outs: [out/x]
        """))
    assert code_deps.write_dvc_yaml(root) == ["one", "two"]
    text = (root / "dvc.yaml").read_text()
    doc = yaml.safe_load(text)
    code = [f"src/scorerepro/{f}" for f in ["__init__.py", "cli.py", "config.py", "pipeline/__init__.py",
                                            "pipeline/go.py"]]
    assert doc["stages"]["one"]["do"]["deps"] == ["data/${item}", *code]
    assert list(doc["stages"]["two"]) == ["cmd", "deps", "outs"] and doc["stages"]["two"]["deps"] == code
    assert text.startswith("# a comment that must survive")
    assert code_deps.write_dvc_yaml(root) == []
    assert (root / "dvc.yaml").read_text() == text


def test_a_stage_command_that_is_not_scorerepro_is_refused():
    with pytest.raises(ValueError, match="scorerepro <subcommand>"):
        code_deps.subcommand_of("python train.py")
