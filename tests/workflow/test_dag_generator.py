"""The Snakemake rules are generated from dvc.yaml (Snakefile, workflow/scripts/dvc_rules.py): for the default
params.yaml, the tiny test params and a paper profile, every stage DVC resolves has exactly one Snakemake job (from
`snakemake -n --forceall`), under its mapped rule name, with the same command (its output kept in the rule's log),
the same outputs (a persistent folder by one marker file inside it), inputs that are exactly its deps (a code file
as the files it lists, a source folder as its .py files, a folder of other stages' outputs as those outputs), the
same params keys, and the same edges between stages as DVC's own graph. No stage is run."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

import pytest
import yaml

from scorerepro.profiles import profile_text
from workflow_helpers import REPO, TINY_PARAMS, make_workspace, parse_dry_run, snakemake, tool_env

CODE_DIR = "workflow/code/"
PARAMS = {"default": REPO / "params.yaml", "tiny": TINY_PARAMS, "paper_mnist": "paper_mnist"}
DESCRIBE = """
include: "Snakefile"
import json as _json
_json.dump({_r.name: {"params": sorted(_r.params.get("dvc") or {}) if "dvc" in _r.params.keys() else None,
                      "log": [str(_l) for _l in _r.log]} for _r in workflow.rules},
           open("_describe.json", "w"))
"""


def dvc_side(root: Path) -> tuple[dict[str, dict], set[tuple[str, str]]]:
    """DVC's resolved stages (cmd, deps, params keys, outs with persist) and its graph's edges (stage, upstream)."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(root), uninitialized=True) as repo:
        stages = {s.name: {"cmd": s.cmd,
                           "deps": [d.def_path for d in s.deps if not isinstance(d, ParamsDependency)],
                           "params": sorted(k for d in s.deps if isinstance(d, ParamsDependency) for k in d.params),
                           "outs": [(o.def_path, bool(o.persist)) for o in s.outs]}
                  for s in repo.index.stages}
        edges = {(a.name, b.name) for a, b in repo.index.graph.edges}
    return stages, edges


@pytest.fixture(scope="module", params=sorted(PARAMS))
def sides(request, tmp_path_factory):
    params = PARAMS[request.param]
    if isinstance(params, str):  # a profile: an overlay on quick.yaml, merged as use-profile writes it
        params = tmp_path_factory.mktemp("profile") / "params.yaml"
        params.write_text(profile_text(request.param, REPO / "workflow" / "params"))
    root = make_workspace(tmp_path_factory.mktemp(request.param), params, git=True)
    stages, edges = dvc_side(root)
    (root / "_describe.smk").write_text(DESCRIBE)
    # code_deps is no target of `all` (onstart refreshes the code files), so it is named to dry-run it too
    res = snakemake(root, "-s", "_describe.smk", "all", "code_deps", "-n", "--forceall", "-p", "--cores", "1",
                    env=tool_env(root))
    jobs = {j["rule"]: j for j in parse_dry_run(res.stdout + res.stderr) if j["rule"] != "all"}
    return root, stages, edges, jobs, json.loads((root / "_describe.json").read_text())


def _inside(path: str, folder: str) -> bool:
    return PurePosixPath(folder) in PurePosixPath(path).parents


def expected_inputs(stage: dict, stages: dict, root: Path) -> set[str]:
    files = set()
    for dep in stage["deps"]:
        if dep.startswith(CODE_DIR):
            files |= {ln.split("  ", 1)[1] for ln in (root / dep).read_text().splitlines() if ln[:1] not in "#"}
        elif dep.startswith("src/"):
            files |= {p.relative_to(root).as_posix() for p in (root / dep).rglob("*.py")}
        else:
            outs = [(o, p) for s in stages.values() for o, p in s["outs"] if o == dep or _inside(o, dep)]
            files |= {o if not p else ("persistent", o) for o, p in outs} or {dep}
    return files


def compare(stages: dict, jobs: dict, rules: dict, root: Path) -> list[str]:
    """Every difference between DVC's stages and the Snakemake jobs, one line each (empty: in agreement)."""
    problems = [f"Snakemake job {r} has no DVC stage" for r in set(jobs) - {_name(s) for s in stages}]
    for name, s in stages.items():
        rule = _name(name)
        job = jobs.get(rule)
        if job is None:
            problems.append(f"DVC stage {name}: no Snakemake job {rule}")
            continue
        log = f"logs/{rule}.log"
        if job["shell"] != f"({s['cmd']}) 2>&1 | tee {log}" or rules[rule]["log"] != [log]:
            problems.append(f"{name}: Snakemake runs {job['shell']!r}, DVC {s['cmd']!r}")
        outs = set(job["output"])
        for o, persist in s["outs"]:
            inside = {f for f in outs if os.path.dirname(f) == o} if persist else {o} & outs
            if len(inside) != 1:
                problems.append(f"{name}: output {o} (persist: {persist}) is not one Snakemake output: {sorted(outs)}")
            outs -= inside
        problems += [f"{name}: Snakemake output {o} is no DVC output" for o in sorted(outs)]
        want = expected_inputs(s, stages, root)
        got = set(job["input"])
        for item in [w for w in want if isinstance(w, tuple)]:  # a persistent folder: by a file inside it
            want.discard(item)
            want |= {f for f in got if os.path.dirname(f) == item[1]}
        if got != want:
            problems.append(f"{name}: inputs only in dvc.yaml {sorted(want - got)}, only in Snakemake {sorted(got - want)}")
        if rules[rule]["params"] != s["params"]:
            problems.append(f"{name}: params {s['params']} but Snakemake tracks {rules[rule]['params']}")
    return problems


def _name(stage: str) -> str:
    """The documented mapping (docs/DESIGN.md): ncsn_select_sample@fig5_mnist-0 -> ncsn_select_sample__fig5_mnist_0."""
    kind, _, instance = stage.partition("@")
    return kind + ("__" + instance.replace("-", "_") if instance else "")


def test_every_stage_is_one_rule_with_the_same_job(sides):
    root, stages, _, jobs, rules = sides
    assert len(stages) > 30 and len(jobs) == len(stages)
    problems = compare(stages, jobs, rules, root)
    assert not problems, "dvc.yaml and the generated rules disagree:\n" + "\n".join(problems)


def test_snakemake_edges_are_dvcs_edges(sides):
    """Job A needs job B in Snakemake exactly where DVC's graph says stage A depends on stage B, except the edges to
    code_deps: Snakemake takes the code files' contents (the .py files) as inputs instead."""
    _, stages, edges, jobs, _ = sides
    made_by = {o: rule for rule, j in jobs.items() for o in j["output"]}
    snake = set()
    for rule, j in jobs.items():
        for f in j["input"]:
            producer = made_by.get(f) or next((r for o, r in made_by.items() if _inside(f, o)), None)
            if producer and producer != rule:
                snake.add((rule, producer))
    stage_of = {_name(s): s for s in stages}
    assert {(stage_of[a], stage_of[b]) for a, b in snake} == {(a, b) for a, b in edges if b != "code_deps"}


def test_resources_come_from_the_table(sides):
    root, _, _, jobs, _ = sides
    ncsn = yaml.safe_load((root / "params.yaml").read_text())["ncsn"]
    for rule, j in jobs.items():
        assert {"mem_mb", "runtime", "gpu"} <= set(j["resources"]), rule
        if rule.startswith("ncsn_train__"):
            exp = ncsn["experiments"][rule.removeprefix("ncsn_train__")]
            assert int(j["resources"]["gpu"]) == exp.get("training", {}).get("gpus", ncsn["defaults"]["training"]["gpus"])
        if rule.startswith(("ncsn_sample__", "ncsn_select__", "ncsn_evaluate__", "ncsn_sensitivity")):
            assert int(j["resources"]["gpu"]) >= 1, rule


# ----------------------------------------------------------------------------------------------------------------
# the comparison catches a wrong job, and the generator follows dvc.yaml


@pytest.mark.parametrize("break_it", ["shell", "output", "input", "params", "extra job"])
def test_compare_catches_a_wrong_job(sides, break_it):
    root, stages, _, jobs, rules = sides
    jobs = json.loads(json.dumps(jobs))
    rules = json.loads(json.dumps(rules))
    job = jobs["claims"]
    if break_it == "shell":
        job["shell"] = job["shell"].replace("scorerepro claims", "scorerepro claims --fast")
    elif break_it == "output":
        job["output"][0] = "results/claims_other.csv"
    elif break_it == "input":
        job["input"].pop()
    elif break_it == "params":
        rules["claims"]["params"] = ["threads"]
    else:
        jobs["extra"] = dict(job)
    assert compare(stages, jobs, rules, root)


def test_a_stage_added_to_dvc_yaml_becomes_a_rule_that_runs_its_own_command(tmp_path):
    """Two rules made in the same loop each run their own stage's command (no late binding), logging it."""
    ws = make_workspace(tmp_path / "ws")
    doc = (ws / "dvc.yaml").read_text()
    (ws / "dvc.yaml").write_text(doc + "\n  tally:\n    foreach: [a-1, b]\n    do:\n"
                                       "      cmd: echo ${item} > results/tally_${item}.txt\n"
                                       "      outs: [\"results/tally_${item}.txt\"]\n")
    res = snakemake(ws, "-n", "--forceall", "-p", "--cores", "1", "results/tally_a-1.txt", "results/tally_b.txt")
    jobs = {j["rule"]: j for j in parse_dry_run(res.stdout + res.stderr)}
    assert jobs["tally__b"]["shell"] == "(echo b > results/tally_b.txt) 2>&1 | tee logs/tally__b.log"
    snakemake(ws, "--cores", "1", "results/tally_a-1.txt", "results/tally_b.txt")
    assert [(ws / f"results/tally_{k}.txt").read_text() for k in ("a-1", "b")] == ["a-1\n", "b\n"]
    assert (ws / "logs" / "tally__a_1.log").is_file()


def test_a_persistent_output_without_a_marker_is_refused(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    doc = (ws / "dvc.yaml").read_text()
    (ws / "dvc.yaml").write_text(doc + "\n  keeper:\n    cmd: echo\n    outs:\n      - models/keeper:\n"
                                       "          persist: true\n")
    res = snakemake(ws, "-n", "--cores", "1", check=False)
    assert res.returncode != 0 and "PERSISTENT_MARKERS" in res.stdout + res.stderr


# ----------------------------------------------------------------------------------------------------------------
# bad params stop Snakemake before any job


def _tiny_with(edit) -> str:
    p = yaml.safe_load(TINY_PARAMS.read_text())
    edit(p)
    return yaml.safe_dump(p, sort_keys=False)


BAD_PARAMS = {
    "schema": (lambda p: p.update(seed=-1), "seed"),
    "cross-field": (lambda p: p["ncsn"]["experiments"]["tiny_ncsn"]["noise"].update(sigma_begin=0.001),
                    "sigma_begin"),
    "undeclared dataset": (lambda p: p["ncsn"]["experiments"]["tiny_ncsn"].update(dataset="cifar10"),
                           "not declared"),
    "reserved experiment name": (lambda p: p["ncsn"]["experiments"].update(toy=p["ncsn"]["experiments"]["tiny_ncsn"]),
                                 "reserved"),
}


@pytest.mark.parametrize("case", sorted(BAD_PARAMS))
def test_bad_params_stop_before_any_job(tmp_path, case):
    edit, message = BAD_PARAMS[case]
    ws = make_workspace(tmp_path / "ws", _tiny_with(edit))
    res = snakemake(ws, "-n", "--cores", "1", check=False)
    assert res.returncode != 0 and message in res.stdout + res.stderr, res.stdout + res.stderr
    assert "Building DAG of jobs" not in res.stdout + res.stderr


def test_config_overrides_are_refused(tmp_path):
    """The stages read params.yaml, so a --config value would make Snakemake track what the job does not use."""
    ws = make_workspace(tmp_path / "ws", TINY_PARAMS)
    res = snakemake(ws, "-n", "--cores", "1", "--config", "seed=5", check=False)
    assert res.returncode != 0 and "differs from params.yaml" in res.stdout + res.stderr
