"""dvc.yaml (the source of truth) and the Snakemake front end (Snakefile, workflow/rules/*.smk) declare the same DAG.

For the repository's params.yaml, the paper profiles in workflow/params/, the tiny test params and a third shape
(two datasets, two NCSN experiments, three shards), every resolved DVC stage must have exactly one Snakemake job
(from `snakemake -n --forceall`) and vice versa, with the same rule name, the identical shell command, the same
outputs, the same inputs and the same params keys. The documented mapping (workflow/rules/common.smk):

* a persistent DVC output folder is represented in Snakemake by the completion marker its stage writes last
  (PERSISTENT_MARKERS below, explicit on purpose: a new persistent output must be added here and in common.smk);
* a DVC dependency on a folder that holds other stages' outputs is the list of those outputs;
* a code dependency (src/scorerepro/..., a folder or a file) is the .py files it holds (workflow/scripts/
  code_deps.py: expand), on the DVC side expanded here, on the Snakemake side by code(stage) in common.smk;
* a non-persistent output without a file suffix is a folder and must be `directory()` in Snakemake.

The last tests mutate one side (a stage only in dvc.yaml, a rule only in Snakemake, a changed command, a changed
path, a changed params key, a dropped data or code dependency; every rule file is mutated at least once) and check
that the comparison reports it. No stage is run.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml

from scorerepro.profiles import available_profiles, profile_text
from workflow_helpers import REPO, TINY_PARAMS, make_workspace, parse_dry_run, snakemake, tool_env

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
import code_deps  # noqa: E402

# DVC stage (rule) name -> file inside its persistent output folder that Snakemake declares instead.
PERSISTENT_MARKERS = {
    "download": "download.json",
    "inception_weights": "inception_weights.json",
    "ncsn_train": "completed.json",
    "infusion_train": "completed.json",
    "infusion_sweep": "sweep.json",
    "score_repr_train": "completed.json",
    "score_repr_sweep": "completed.json",
    "ae_mcmc_train": "completed.json",
    "wmvl_train": "completed.json",
}
RULE_FILES = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "workflow" / "rules").glob("*.smk"))

DESCRIBE = """
include: "Snakefile"

import json as _json
import os as _os
from snakemake.io import is_flagged as _is_flagged, strip_wildcard_constraints as _strip

_json.dump({
    _r.name: {
        "dvc_params": (list(getattr(_r.params.get("dvc"), "dvc_keys", None) or [])
                       if "dvc" in _r.params.keys() else None),
        "directory_outputs": [_strip(str(_o)) for _o in _r.output if _is_flagged(_o, "directory")],
    }
    for _r in workflow.rules
}, open(_os.environ["DESCRIBE_OUT"], "w"))
"""


# ----------------------------------------------------------------------------------------------------------------
# the two sides


def dvc_side(root: Path) -> dict[str, dict]:
    """Resolved dvc.yaml stages: name -> rule, cmd, deps (code deps as declared: folders and files), params keys,
    outs [(path, persist)]."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    old = dict(os.environ)
    os.environ.update({k: v for k, v in tool_env(root).items() if k.startswith("DVC_")})
    try:
        with Repo(str(root)) as repo:
            stages = {}
            for s in repo.index.stages:
                params = sorted(k for d in s.deps if isinstance(d, ParamsDependency) for k in d.params)
                stages[s.name] = {
                    "rule": s.name.split("@")[0],
                    "cmd": s.cmd,
                    "deps": sorted(d.def_path for d in s.deps if not isinstance(d, ParamsDependency)),
                    "params": params,
                    "outs": [(o.def_path, bool(o.persist)) for o in s.outs],
                }
            return stages
    finally:
        os.environ.clear()
        os.environ.update(old)


def snakemake_side(root: Path) -> tuple[list[dict], dict[str, dict]]:
    """Jobs of `snakemake -n --forceall` (target `all`), and per rule its params keys and directory outputs."""
    (root / "_describe.smk").write_text(DESCRIBE)
    out = root / "_describe.json"
    res = snakemake(root, "-s", "_describe.smk", "all", "-n", "--forceall", "-p", "--cores", "1",
                    env=tool_env(root, DESCRIBE_OUT=str(out)))
    jobs = parse_dry_run(res.stdout + "\n" + res.stderr)
    return jobs, json.loads(out.read_text())


# ----------------------------------------------------------------------------------------------------------------
# the comparison


def _is_under(path: str, folder: str) -> bool:
    return PurePosixPath(folder) in PurePosixPath(path).parents


def snakemake_output(rule: str, path: str, persist: bool) -> str:
    if persist:
        return f"{path}/{PERSISTENT_MARKERS[rule]}"
    return path


def expected_inputs(stage: dict, stages: dict[str, dict], root: Path) -> set[str]:
    """The Snakemake inputs a DVC stage's deps stand for: other stages' outputs (persistent ones by their markers),
    code deps as the .py files they hold, anything else as it is."""
    files = set()
    for dep in stage["deps"]:
        if dep.startswith(code_deps.CODE_PREFIX):  # a folder: its .py files (a missing path stays as it is)
            files |= set(code_deps.expand([dep], root))
            continue
        produced = {snakemake_output(s["rule"], o, p)
                    for s in stages.values() for o, p in s["outs"] if o == dep or _is_under(o, dep)}
        files |= produced or {dep}
    return files


def compare(stages: dict[str, dict], jobs: list[dict], rules: dict[str, dict], root: Path) -> list[str]:
    """Every difference between the DVC stages and the Snakemake jobs, as readable lines (empty: in agreement).
    `root` is the workspace whose src/ the code deps are expanded in."""
    problems = []
    for name, s in stages.items():
        for o, persist in s["outs"]:
            if persist and s["rule"] not in PERSISTENT_MARKERS:
                problems.append(f"{name}: persistent output {o} has no completion marker in PERSISTENT_MARKERS")
    by_outputs = {}
    for j in jobs:
        if j["rule"] == "all":
            continue
        by_outputs.setdefault(frozenset(j["output"]), []).append(j)
    matched = set()
    for name, s in sorted(stages.items()):
        try:
            outs = frozenset(snakemake_output(s["rule"], o, p) for o, p in s["outs"])
        except KeyError:
            continue  # reported above
        candidates = by_outputs.get(outs, [])
        if len(candidates) != 1:
            problems.append(f"DVC stage {name}: {len(candidates)} Snakemake jobs with outputs {sorted(outs)}")
            continue
        j = candidates[0]
        matched.add(id(j))
        if j["rule"] != s["rule"]:
            problems.append(f"DVC stage {name}: Snakemake rule is {j['rule']!r}, not {s['rule']!r}")
        if j["shell"] != s["cmd"]:
            problems.append(f"DVC stage {name}: command {s['cmd']!r} but Snakemake runs {j['shell']!r}")
        want_in = expected_inputs(s, stages, root)
        if set(j["input"]) != want_in:
            problems.append(f"DVC stage {name}: inputs differ: only in dvc.yaml {sorted(want_in - set(j['input']))},"
                            f" only in Snakemake {sorted(set(j['input']) - want_in)}")
        keys = (rules.get(j["rule"]) or {}).get("dvc_params")
        if keys is None:
            problems.append(f"Snakemake rule {j['rule']}: no `params: dvc=dvc_params(...)` entry")
        else:
            smk_keys = sorted(k.format(**j["wildcards"]) for k in keys)
            if smk_keys != s["params"]:
                problems.append(f"DVC stage {name}: params {s['params']} but Snakemake tracks {smk_keys}")
        dirs = {o.format(**j["wildcards"]) for o in (rules.get(j["rule"]) or {}).get("directory_outputs", [])}
        for o, persist in s["outs"]:
            folder = not persist and not PurePosixPath(o).suffix
            if folder != (o in dirs):
                problems.append(f"DVC stage {name}: output {o} should {'' if folder else 'not '}be directory()")
    for j in jobs:
        if j["rule"] != "all" and id(j) not in matched:
            problems.append(f"Snakemake job {j['rule']} {j['wildcards']} (outputs {j['output']}) has no DVC stage")
    dvc_rules = {s["rule"] for s in stages.values()}
    for rule in rules:
        if rule != "all" and rule not in dvc_rules:
            problems.append(f"Snakemake rule {rule} has no stage in dvc.yaml")
    return problems


# ----------------------------------------------------------------------------------------------------------------
# params files


def third_shape() -> str:
    """Two datasets, two NCSN experiments (one per dataset), three non-contiguous shards."""
    p = yaml.safe_load(TINY_PARAMS.read_text())
    p["datasets"]["mnist"] = {"test_fraction": 0.1, "limit": 100}
    p["sharding"]["shards"] = [0, 2, 5]
    other = copy.deepcopy(p["ncsn"]["experiments"]["tiny_ncsn"])
    other["dataset"] = "mnist"
    p["ncsn"]["experiments"]["other_exp"] = other
    return yaml.safe_dump(p, sort_keys=False)


PARAMS = {
    "repo_params": lambda: (REPO / "params.yaml").read_text(),
    "tiny_params": lambda: TINY_PARAMS.read_text(),
    "two_datasets_three_shards": third_shape,
}
# the paper-scale profiles (`scorerepro use-profile ...`); quick.yaml is the default params.yaml
for _profile in available_profiles(REPO / "workflow" / "params"):
    if _profile != "quick":
        PARAMS[f"profile_{_profile}"] = functools.partial(profile_text, _profile, REPO / "workflow" / "params")


@pytest.fixture(scope="module", params=sorted(PARAMS))
def sides(request, tmp_path_factory):
    root = make_workspace(tmp_path_factory.mktemp(request.param), PARAMS[request.param](), dvc=True)
    stages = dvc_side(root)
    jobs, rules = snakemake_side(root)
    return root, stages, jobs, rules


def test_front_ends_agree(sides):
    root, stages, jobs, rules = sides
    params = yaml.safe_load((root / "params.yaml").read_text())
    # both sides really resolved the whole study for this params file
    assert len(stages) > 10 and len([j for j in jobs if j["rule"] != "all"]) == len(stages)
    experiments = params["ncsn"]["experiments"]
    assert {f"ncsn_train@{e}" for e in experiments} <= set(stages)
    shards = params["sharding"]["shards"]
    assert {f"ncsn_select_sample@{e}-{s}" for e in experiments for s in shards} <= set(stages)
    assert {"claims", "leaderboard", "ncsn_summary", "ncsn_sensitivity", "ncsn_toy_manifold"} <= set(stages)
    problems = compare(stages, jobs, rules, root)
    assert not problems, "dvc.yaml and the Snakemake rules disagree:\n" + "\n".join(problems)


def test_code_inputs_are_the_declared_code_expanded(sides):
    """Every job's src/ inputs are exactly its stage's declared code deps, folders expanded into .py files (all of
    them files that exist), and each stage's code is more than the CLI."""
    root, stages, jobs, _ = sides
    by_outputs = {frozenset(j["output"]): j for j in jobs if j["rule"] != "all"}
    for name, s in stages.items():
        outs = frozenset(snakemake_output(s["rule"], o, p) for o, p in s["outs"])
        code = sorted(f for f in by_outputs[outs]["input"] if f.startswith(code_deps.CODE_PREFIX))
        declared = [d for d in s["deps"] if d.startswith(code_deps.CODE_PREFIX)]
        assert code == code_deps.expand(declared, root), name
        assert all((root / f).is_file() and f.endswith(".py") for f in code), name
        assert len(code) > 2 and any((root / d).is_dir() for d in declared), name


def test_every_rule_declares_resources(sides):
    _, _, jobs, _ = sides
    for j in jobs:
        if j["rule"] == "all":
            continue
        assert {"mem_mb", "runtime", "gpu"} <= set(j["resources"]), j
    params = yaml.safe_load((sides[0] / "params.yaml").read_text())
    ncsn = params["ncsn"]
    for j in jobs:
        if j["rule"] == "ncsn_train":
            exp = ncsn["experiments"][j["wildcards"]["experiment"]]
            gpus = exp.get("training", {}).get("gpus", ncsn["defaults"]["training"]["gpus"])
            assert int(j["resources"]["gpu"]) == gpus
        if j["rule"] in ("ncsn_select_sample", "ncsn_select", "ncsn_sample", "ncsn_evaluate", "ncsn_sensitivity"):
            assert int(j["resources"]["gpu"]) >= 1, j


def test_snakefile_includes_every_rule_file():
    included = re.findall(r'^include: "([^"]+)"', (REPO / "Snakefile").read_text(), flags=re.M)
    assert sorted(included) == RULE_FILES and "workflow/rules/common.smk" == included[0]


# ----------------------------------------------------------------------------------------------------------------
# the comparison catches a change on one side


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = make_workspace(tmp_path_factory.mktemp("mutations"), TINY_PARAMS, dvc=True)
    stages = dvc_side(root)
    jobs, rules = snakemake_side(root)
    assert not compare(stages, jobs, rules, root)
    return root, stages, jobs, rules


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not in {path}, or not once"
    path.write_text(text.replace(old, new, 1))


DVC_MUTATIONS = {
    "stage only in dvc.yaml": ("stages:\n", "stages:\n  extra:\n    cmd: scorerepro claims\n"
                                             "    outs: [results/extra.csv]\n"),
    "output path changed in dvc.yaml": ("results/ncsn/${key}/neighbours.json", "results/ncsn/${key}/nn.json"),
    "command changed in dvc.yaml": ("cmd: scorerepro ncsn inpaint ${key}",
                                    "cmd: scorerepro ncsn inpaint ${key} --fast"),
    "params key changed in dvc.yaml": ('params: [threads, ncsn.defaults.neighbours, '
                                       '"ncsn.experiments.${key}.neighbours"]',
                                       'params: [threads, seed, ncsn.defaults.neighbours, '
                                       '"ncsn.experiments.${key}.neighbours"]'),
    "dependency dropped in dvc.yaml": ('cmd: scorerepro ncsn evaluate ${key}\n'
                                       '      deps: ["samples/ncsn/${key}/eval", ',
                                       'cmd: scorerepro ncsn evaluate ${key}\n      deps: ['),
    "code file dropped in dvc.yaml": (",\n             src/scorerepro/papers/ncsn/stages/evaluate.py]", "]"),
    "code folder dropped in dvc.yaml": ("src/scorerepro/metrics, src/scorerepro/stages/classifier.py]",
                                        "src/scorerepro/stages/classifier.py]"),
    "code folder narrowed in dvc.yaml": ("src/scorerepro/metrics, src/scorerepro/stages/inception_weights.py]",
                                         "src/scorerepro/metrics/inception.py, "
                                         "src/scorerepro/stages/inception_weights.py]"),
}


@pytest.mark.parametrize("mutation", sorted(DVC_MUTATIONS))
def test_dvc_side_change_is_caught(tiny, tmp_path, mutation):
    root, _, jobs, rules = tiny
    copy_root = make_workspace(tmp_path / "ws", (root / "params.yaml").read_text(), dvc=True)
    _edit(copy_root / "dvc.yaml", *DVC_MUTATIONS[mutation])
    assert compare(dvc_side(copy_root), jobs, rules, copy_root), mutation


SMK_MUTATIONS = {
    "rule only in Snakemake": ("workflow/rules/ncsn.smk", "rule ncsn_summary_rows:",
                               'rule extra:\n    output: "results/extra.csv"\n    shell: "touch {output}"\n\n\n'
                               "rule ncsn_summary_rows:"),
    "command changed in Snakemake": ("workflow/rules/ncsn.smk", '"scorerepro ncsn evaluate {wildcards.experiment}"',
                                     '"scorerepro ncsn evaluate {wildcards.experiment} --fast"'),
    "output path changed in Snakemake": ("workflow/rules/ncsn.smk", '"results/ncsn/{experiment}/neighbours.json",',
                                         '"results/ncsn/{experiment}/nn.json",'),
    "input dropped in Snakemake": ("workflow/rules/shared.smk",
                                   'dvc_inputs("results/claims.csv", PAPER_CLAIMS_ROWS, code("claims")),',
                                   'dvc_inputs("results/claims.csv", code("claims")),'),
    "code dependencies changed in Snakemake": ("workflow/rules/ncsn.smk", 'code("ncsn_evaluate")',
                                               'code("ncsn_sample")'),
    "params key changed in Snakemake": ("workflow/rules/shared.smk", 'dvc_params("threads", "seed", "classifier")',
                                        'dvc_params("threads", "classifier")'),
    "completion marker changed in Snakemake": ("workflow/rules/common.smk",
                                               '"ncsn_train": "models/ncsn/{experiment}/completed.json",',
                                               '"ncsn_train": "models/ncsn/{experiment}/done.json",'),
    "infusion output changed in Snakemake": ("workflow/rules/infusion.smk",
                                             '"results/infusion/table4_heatmap.png",',
                                             '"results/infusion/table4.png",'),
    "output changed in Snakemake (score_repr)": ("workflow/rules/score_repr.smk",
                                                 '"results/score_repr/sweep/silhouette.csv"',
                                                 '"results/score_repr/sweep/silhouettes.csv"'),
    "wmvl command changed in Snakemake": ("workflow/rules/wmvl.smk",
                                          '"scorerepro wmvl evaluate {wildcards.experiment}"',
                                          '"scorerepro wmvl evaluate {wildcards.experiment} --fast"'),
    "code expansion changed in Snakemake": ("workflow/rules/common.smk",
                                            "for f in code_deps.expand(declared, workflow.basedir)]",
                                            "for f in code_deps.expand(declared, workflow.basedir)[1:]]"),
    "ae_mcmc params key changed in Snakemake": ("workflow/rules/ae_mcmc.smk",
                                                'dvc_params("threads", "ae_mcmc.experiments", "ae_mcmc.chains")',
                                                'dvc_params("threads", "ae_mcmc.chains")'),
}


def test_mutations_cover_every_rule_file():
    assert {file for file, _, _ in SMK_MUTATIONS.values()} == set(RULE_FILES)


@pytest.mark.parametrize("mutation", sorted(SMK_MUTATIONS))
def test_snakemake_side_change_is_caught(tiny, tmp_path, mutation):
    root, stages, _, _ = tiny
    copy_root = make_workspace(tmp_path / "ws", (root / "params.yaml").read_text())
    file, old, new = SMK_MUTATIONS[mutation]
    _edit(copy_root / file, old, new)
    jobs, rules = snakemake_side(copy_root)
    assert compare(stages, jobs, rules, root), mutation


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
