"""Every paper registered in scorerepro.papers.PAPERS is wired into every place "Adding a paper" (docs/DESIGN.md)
lists: a block in every params profile and the tiny test params, a schema part, stages named `<paper>_<stage>` in
dvc.yaml (the Snakemake rules are made from it), each stage's code file, its claims and leaderboard rows feeding
the cross-paper tables, and a tests folder. A paper that misses one of these fails here with the place named,
instead of later as a DVC interpolation error on someone's cluster."""

from __future__ import annotations

import json

import pytest
import yaml

from scorerepro.papers import PAPERS, paper_module
from scorerepro.profiles import available_profiles, profile_text
from workflow_helpers import REPO, TINY_PARAMS

# Every profile as `scorerepro use-profile` writes it, params.yaml and the tiny test params: name -> text
PROFILES = {**{f"profile {name}": profile_text(name, REPO / "workflow" / "params") for name in available_profiles()},
            "params.yaml": (REPO / "params.yaml").read_text(), "tests/fixtures/tiny_params.yaml": TINY_PARAMS.read_text()}
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_paper_is_wired_everywhere(paper):
    module = paper_module(paper)
    assert module.TITLE and module.STAGES, f"papers/{paper}/__init__.py needs TITLE and STAGES"
    for where, text in PROFILES.items():
        assert paper in yaml.safe_load(text), f"{where} has no `{paper}:` block"
    schema = json.loads((REPO / "workflow" / "schemas" / "params.schema.json").read_text())
    assert paper in schema["$defs"] and paper in schema["properties"], f"the schema has no part for {paper}"
    stages = [name for name in DVC if name.startswith(f"{paper}_")]
    assert stages, f"dvc.yaml has no `{paper}_<stage>` stages"
    for stage in stages:
        cmd = DVC[stage].get("do", DVC[stage]).get("cmd", "")
        assert cmd.startswith(f"scorerepro {paper} "), f"dvc.yaml stage {stage} does not run `scorerepro {paper} ...`"
        assert (REPO / "workflow" / "code" / f"{stage}.txt").is_file(), f"no code file for {stage}: run dvc repro"
    assert f"results/{paper}/claims.csv" in DVC["claims"]["deps"]
    assert f"results/{paper}/leaderboard.csv" in DVC["leaderboard"]["deps"]
    assert (REPO / "tests" / "papers" / paper).is_dir(), f"tests/papers/{paper}/ is missing"


def test_every_paper_package_is_registered():
    packages = {p.name for p in (REPO / "src" / "scorerepro" / "papers").iterdir()
                if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(PAPERS), "a folder under src/scorerepro/papers/ is not in PAPERS (or the reverse)"
