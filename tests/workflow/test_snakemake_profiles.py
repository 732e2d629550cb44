"""The Snakemake profiles under workflow/executors/ parse and carry the resources every rule declares; the SLURM
profile's GPU requests become sbatch --gpus; a tiny part of the real pipeline runs through the cluster-generic
executor (the replacement for Snakemake 7's --cluster) with the example submit script, and a training whose
completion marker is gone is rerun and resumes from the checkpoints Snakemake left in place."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
import yaml

from workflow_helpers import REPO, TINY_PARAMS, make_workspace, parse_dry_run, snakemake, stage_kind, stage_names

PROFILES = REPO / "workflow" / "executors"
FAST_POLL = ["--seconds-between-status-checks", "1"]  # the example "cluster" is this machine: poll it often
GPU_RULES = {"ncsn_train", "ncsn_select_sample", "ncsn_select", "ncsn_sample", "ncsn_evaluate", "ncsn_sensitivity"}


def _two_gpu_params() -> str:
    p = yaml.safe_load(TINY_PARAMS.read_text())
    p["ncsn"]["experiments"]["tiny_ncsn"]["training"]["gpus"] = 2
    return yaml.safe_dump(p, sort_keys=False)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("profiles"), _two_gpu_params())


def test_profile_files():
    for name in ("local", "slurm", "cluster-generic"):
        cfg = yaml.safe_load((PROFILES / name / "config.yaml").read_text())
        assert "default-resources" in cfg and any("mem_mb" in r for r in cfg["default-resources"]), name
    assert yaml.safe_load((PROFILES / "slurm" / "config.yaml").read_text())["executor"] == "slurm"
    cg = yaml.safe_load((PROFILES / "cluster-generic" / "config.yaml").read_text())
    assert cg["executor"] == "cluster-generic"
    assert "local-submit.sh" in cg["cluster-generic-submit-cmd"]
    script = PROFILES / "cluster-generic" / "local-submit.sh"
    assert script.stat().st_mode & stat.S_IXUSR, "local-submit.sh must be executable (git update-index --chmod=+x)"


def _commented_set_resources(text: str) -> dict:
    """The example `# set-resources:` block a profile carries as comments, uncommented and parsed ({} if none)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("# set-resources:")]
    if not starts:
        return {}
    block = []
    for line in lines[starts[0]:]:
        if not line.startswith("# ") or (block and not line.startswith("#   ")):
            break
        block.append(line[2:])
    return yaml.safe_load("\n".join(block))["set-resources"]


def test_profiles_name_existing_rules():
    """A profile's set-resources (also a commented example) names rules made from the default params.yaml's
    stages (ncsn_train@fig5_mnist -> ncsn_train__fig5_mnist)."""
    rules = set(stage_names(REPO))
    examples = 0
    for name in ("local", "slurm", "cluster-generic"):
        text = (PROFILES / name / "config.yaml").read_text()
        named = dict(yaml.safe_load(text).get("set-resources") or {}) | _commented_set_resources(text)
        examples += bool(named)
        assert set(named) <= rules, (name, sorted(set(named) - rules))
    assert examples, "the slurm profile's set-resources example was not found"


@pytest.mark.parametrize("profile", ["local", "slurm", "cluster-generic"])
def test_profile_parses_and_sets_resources(workspace, profile):
    res = snakemake(workspace, "--profile", f"workflow/executors/{profile}", "-n", "--forceall")
    jobs = [j for j in parse_dry_run(res.stdout + res.stderr) if j["rule"] != "all"]
    assert len(jobs) > 15
    for j in jobs:
        r = j["resources"]
        assert int(r["mem_mb"]) > 0 and int(r["runtime"]) > 0 and "gpu" in r, j
        if profile == "slurm":
            assert r.get("slurm_partition") == "CHANGE_ME", j
    train = next(j for j in jobs if stage_kind(j["rule"]) == "ncsn_train")
    # ncsn.experiments.tiny_ncsn.training.gpus; the local profile's global limit (gpu=1) caps what a job may claim
    assert train["resources"]["gpu"] == ("1" if profile == "local" else "2")
    assert {stage_kind(j["rule"]) for j in jobs if int(j["resources"]["gpu"]) > 0} >= GPU_RULES


def test_slurm_plugin_turns_gpu_resource_into_gpus(workspace):
    """snakemake-executor-plugin-slurm 2.x: the resource is `gpu` (count), sent as sbatch --gpus=N; 0 sends
    nothing. Checked with the plugin's own function on the resources the slurm profile gives each job."""
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    class Resources(dict):
        __getattr__ = dict.__getitem__

    class Job:
        def __init__(self, resources):
            self.resources = Resources(resources)

    res = snakemake(workspace, "--profile", "workflow/executors/slurm", "-n", "--forceall")
    seen = {}
    for j in parse_dry_run(res.stdout + res.stderr):
        if j["rule"] == "all":
            continue
        r = {k: int(v) if v.isdigit() else v for k, v in j["resources"].items()}
        seen[stage_kind(j["rule"])] = set_gres_string(Job(r)).strip()
    assert seen["ncsn_train"] == "--gpus=2"
    assert seen["ncsn_sample"] == "--gpus=1"
    assert seen["download"] == "" and seen["ncsn_toy"] == ""


def test_slurm_profile_refuses_its_placeholder_partition(workspace):
    """The slurm profile ships `slurm_partition=CHANGE_ME`: a dry run warns loudly, a run refuses before it submits
    anything; with a partition given, no warning."""
    target = "results/ncsn/toy/fig2_scores/metrics.json"
    dry = snakemake(workspace, "--profile", "workflow/executors/slurm", "-n", "--forceall", target)
    assert "WARNING" in dry.stderr and "slurm_partition=CHANGE_ME" in dry.stderr
    res = snakemake(workspace, "--profile", "workflow/executors/slurm", "--forceall", target, check=False)
    assert res.returncode != 0
    assert "refusing to submit" in res.stderr and "slurm_partition=CHANGE_ME" in res.stderr, res.stderr[-3000:]
    assert not (workspace / target).exists()
    assert "Submitted" not in res.stdout + res.stderr
    ok = snakemake(workspace, "--profile", "workflow/executors/slurm", "-n", "--forceall", target,
                   "--default-resources", "slurm_partition=gpu", "mem_mb=4000", "runtime=60", "gpu=0")
    assert "CHANGE_ME" not in ok.stdout + ok.stderr


@pytest.mark.slow
def test_cluster_generic_runs_real_stages(tmp_path):
    ws = make_workspace(tmp_path / "ws", TINY_PARAMS)
    targets = ["data/processed/mnist_embedded", "results/ncsn/toy/fig2_scores/metrics.json",
               "models/ncsn/tiny_ncsn/outcome.json"]
    snakemake(ws, "--profile", "workflow/executors/cluster-generic", "--jobs", "2", *FAST_POLL, *targets,
              timeout=480)

    manifest = json.loads((ws / "data/processed/mnist_embedded/manifest.json").read_text())
    assert manifest["splits"]["train"]["shape"][1:] == [1, 28, 28]
    train = torch.load(ws / "data/processed/mnist_embedded/train.pt", weights_only=True)
    images = train["images"] if isinstance(train, dict) else train
    assert images.dtype == torch.uint8 and images.shape[1:] == (1, 28, 28) and int(images.max()) > 0
    metrics = json.loads((ws / "results/ncsn/toy/fig2_scores/metrics.json").read_text())
    json.dumps(metrics, allow_nan=False)
    assert metrics["run"]["profile"] == "tiny" and metrics["study"] == "fig2_scores"
    assert (ws / "results/ncsn/toy/fig2_scores/fig2_scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    done = json.loads((ws / "models/ncsn/tiny_ncsn/completed.json").read_text())
    assert done["step"] == 4 and done["resumed_from"] == 0

    # every job went through the submit script, which saw the job's resources
    logs = list((ws / ".snakemake" / "local-submit").glob("*.log"))
    assert {stage_kind(p.name.split(".")[0]) for p in logs} == {"download", "preprocess", "ncsn_toy", "ncsn_train"}
    heads = {stage_kind(p.name.split(".")[0]): p.read_text().splitlines()[0] for p in logs}
    assert "gpus=1" in heads["ncsn_train"] and "gpus=0" in heads["download"] and "mem_mb=32000" in heads["ncsn_train"]

    # a training that lost its completion marker (killed before the end) is rerun, and Snakemake did not delete
    # the persistent folder: the rerun resumes from the last checkpoint instead of starting afresh
    sentinel = ws / "models/ncsn/tiny_ncsn/kept-by-snakemake.txt"
    sentinel.write_text("x")
    for marker in ("outcome.json", "completed.json"):
        os.remove(ws / "models/ncsn/tiny_ncsn" / marker)
    res = snakemake(ws, "--profile", "workflow/executors/cluster-generic", *FAST_POLL,
                    "models/ncsn/tiny_ncsn/outcome.json", timeout=300)
    assert "ncsn_train" in res.stdout + res.stderr
    assert sentinel.exists()
    done = json.loads((ws / "models/ncsn/tiny_ncsn/completed.json").read_text())
    assert done["resumed_from"] == 4 and done["steps_this_run"] == 0
