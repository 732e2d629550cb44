"""Which stages one parameter makes stale. For one parameter of each stage family, edit it in a copy of the
repository's dvc.yaml, dvc.lock and params.yaml and ask DVC which stages changed: only those whose own declared
params (or the dep paths those params name) changed, never their downstream stages, which DVC reports only once
the upstream outputs change. Outputs and code are absent from the copy, so each stage's report is compared with
the one before the edit, and only its "changed params" and "changed deps" entries count.

The expected sets below come from what each stage's code reads (src/scorerepro/papers/<paper>/stages/), written
with the experiment names of params.yaml. A stage DVC reports that its set lacks declares a parameter it does not
read (it reruns for nothing); a stage of the set that DVC does not report reads a parameter it does not declare."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from workflow_helpers import REPO

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
NCSN = list(PARAMS["ncsn"]["experiments"])
MAIN = PARAMS["ncsn"]["sensitivity"]["experiment"]  # the experiment whose checkpoint the sensitivity grid samples
SHARDS = PARAMS["sharding"]["shards"]
DATASETS = list(PARAMS["datasets"])
AE_MCMC = list(PARAMS["ae_mcmc"]["experiments"])
SCORE_REPR = list(PARAMS["score_repr"]["experiments"])
WMVL = list(PARAMS["wmvl"]["experiments"])
REASONS = ("changed params", "changed deps")


def each(stage: str, keys) -> set[str]:
    return {f"{stage}@{k}" for k in keys}


def shards(stage: str, experiment: str) -> set[str]:
    return {f"{stage}@{experiment}-{s}" for s in SHARDS}


# (parameter, the stages that read it). A parameter absent from params.yaml (an experiment's override) is added
# with twice the defaults' value, the way `dvc exp run -S '+key=value'` adds one.
CASES = [
    # shared data: the dataset's own stages; the classifier declares only its training settings
    (f"datasets.{DATASETS[0]}.test_fraction",
     {f"download@{DATASETS[0]}", f"preprocess@{DATASETS[0]}", f"reference_stats@{DATASETS[0]}"}),
    ("inception.reference_max_images", each("reference_stats", DATASETS)),
    ("classifier.epochs", each("classifier", DATASETS)),
    # NCSN: training settings reach the training (and the tables that print them), not the samplers
    ("ncsn.defaults.model.ngf", each("ncsn_train", NCSN) | each("ncsn_summary_rows", NCSN) | {"ncsn_summary"}),
    (f"ncsn.experiments.{MAIN}.noise.sigma_end",
     {f"ncsn_train@{MAIN}", f"ncsn_summary_rows@{MAIN}", "ncsn_summary"}),
    (f"ncsn.experiments.{MAIN}.training.n_iters",
     {f"ncsn_train@{MAIN}", f"ncsn_summary_rows@{MAIN}", "ncsn_summary"}),
    # an experiment's sampling step: selection, sampling and its figures; inpainting has its own step settings
    # and the sensitivity grid its own step_lr values, and both load the checkpoint selected.json names
    (f"ncsn.experiments.{MAIN}.sampling.step_lr",
     shards("ncsn_select_sample", MAIN) | shards("ncsn_sample", MAIN)
     | {f"ncsn_figures@{MAIN}", f"ncsn_summary_rows@{MAIN}", "ncsn_summary"}),
    ("ncsn.defaults.select.n_samples",
     set().union(*(shards("ncsn_select_sample", e) for e in NCSN)) | each("ncsn_select", NCSN)
     | each("ncsn_summary_rows", NCSN) | {"ncsn_summary"}),
    ("ncsn.defaults.inpaint.n_images", each("ncsn_inpaint", NCSN) | each("ncsn_summary_rows", NCSN) | {"ncsn_summary"}),
    ("ncsn.sensitivity.n_samples", {"ncsn_sensitivity", "ncsn_summary"}),
    ("ncsn.toy.fig2_scores.n_iters", {"ncsn_toy@fig2_scores", "ncsn_summary"}),
    ("ncsn.toy.fig1_manifold.n_iters", {"ncsn_toy_manifold", "ncsn_summary"}),
    # ae_mcmc: the chain length is read by the chains, their figures and the summary, not by the training
    ("ae_mcmc.chains.steps", each("ae_mcmc_chains", AE_MCMC) | {"ae_mcmc_figures", "ae_mcmc_summary"}),
    ("ae_mcmc.defaults.training.epochs",
     each("ae_mcmc_train", AE_MCMC) | each("ae_mcmc_chains", AE_MCMC) | {"ae_mcmc_summary"}),
    # infusion: the main model's infusion rate and chain length reach its training, the sweep (which trains the
    # same architecture) and the evaluation; the summary reads only their outputs
    ("infusion.model.omega", {"infusion_train", "infusion_sweep", "infusion_evaluate"}),
    ("infusion.model.n_steps", {"infusion_train", "infusion_sweep", "infusion_evaluate"}),
    ("infusion.sweep.omegas", {"infusion_sweep"}),
    ("infusion.eval.n_samples", {"infusion_evaluate"}),
    # score_repr: the sampler's settings are evaluation-only; the SDE is read by everything
    ("score_repr.defaults.evaluate.sampler_steps",
     each("score_repr_evaluate", SCORE_REPR) | {"score_repr_summary"}),
    ("score_repr.sde.sigma_max",
     {"score_repr_toy", "score_repr_sweep", "score_repr_summary"} | each("score_repr_train", SCORE_REPR)
     | each("score_repr_evaluate", SCORE_REPR)),
    # wmvl: training settings reach the training, the AIS settings the evaluation, each synthetic study its own
    ("wmvl.defaults.training.n_iters", each("wmvl_train", WMVL) | {"wmvl_summary"}),
    ("wmvl.defaults.eval.ais.n_steps", each("wmvl_evaluate", WMVL) | {"wmvl_summary"}),
    ("wmvl.synthetic.circle.n_iters", {"wmvl_synthetic@circle", "wmvl_summary"}),
]


def _lookup(tree: dict, dotted: str):
    for key in dotted.split("."):
        tree = tree[key]
    return tree


def _default_of(dotted: str):
    """An experiment override's value where the experiment has none: the paper's defaults block."""
    parts = dotted.split(".")
    return _lookup(PARAMS, ".".join([parts[0], "defaults", *parts[3:]]))


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 if value else 1
    if isinstance(value, list):
        return value[:-1] if len(value) > 1 else value * 2
    raise TypeError(f"no rule to change {value!r}")


def edit(params: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    block = _lookup(params, ".".join(parents))
    block[leaf] = _changed(block[leaf] if leaf in block else _default_of(dotted))


def rounds(cases) -> list[list[tuple[str, set[str]]]]:
    """The cases packed into rounds of disjoint expected sets, each round one `dvc status`: a stage that a round
    reports is then stale from one edit only (a DVC status of the whole DAG takes seconds)."""
    packed: list[list[tuple[str, set[str]]]] = []
    for case in cases:
        free = next((r for r in packed if all(not (case[1] & other) for _, other in r)), None)
        if free is None:
            packed.append(free := [])
        free.append(case)
    return packed


ROUNDS = rounds(CASES)


def stale_entries(root: Path) -> dict[str, list]:
    """Per stage, its "changed params" / "changed deps" entries of `dvc status` (outputs and code are absent here)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        status = repo.status()
    # DVC names a stage by its dvc.yaml's path relative to the working directory: keep the stage's own name
    return {stage.rsplit(":", 1)[-1]: sorted((reason, sorted(entry[reason].items())) for entry in entries
                                             if isinstance(entry, dict) for reason in REASONS if reason in entry)
            for stage, entries in status.items()}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("staleness")
    for name in ("dvc.yaml", "dvc.lock", "params.yaml"):
        shutil.copy2(REPO / name, root / name)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    from dvc.repo import Repo

    Repo.init(str(root)).close()
    return root, stale_entries(root)


def test_the_copied_lock_matches_params_yaml(workspace):
    """The comparison needs a lock whose params are those of params.yaml: a parameter that is already stale
    before the edit cannot become stale by it."""
    _, before = workspace
    stale_params = {s: e for s, entries in before.items() for e in entries if e[0] == "changed params"}
    assert not stale_params, f"dvc.lock is not up to date with params.yaml: {stale_params}"


def test_the_cases_cover_every_stage_family():
    families = {stage.split("@")[0] for _, expected in CASES for stage in expected}
    assert len(families) >= 30 and len(ROUNDS) < len(CASES)


@pytest.mark.parametrize("cases", ROUNDS, ids=[",".join(p for p, _ in r) for r in ROUNDS])
def test_a_parameter_makes_stale_exactly_the_stages_that_read_it(workspace, cases):
    root, before = workspace
    params = copy.deepcopy(PARAMS)
    for param, _ in cases:
        edit(params, param)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        after = stale_entries(root)
    finally:
        shutil.copy2(REPO / "params.yaml", root / "params.yaml")
    stale = {stage for stage, entries in after.items() if entries != before.get(stage)}
    for param, expected in cases:
        own = {s for s in stale if s.split("@")[0] in {e.split("@")[0] for e in expected}}
        assert own == expected, (f"{param}: stale but not expected {sorted(own - expected)}; "
                                 f"expected but not stale {sorted(expected - own)}")
    expected_all = set().union(*(e for _, e in cases))
    assert stale == expected_all, f"{[p for p, _ in cases]}: stale, read by none of them: {sorted(stale - expected_all)}"
