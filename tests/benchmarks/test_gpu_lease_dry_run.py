"""The CPU dry run of benchmarks/gpu_lease_repro.sh, the script a GPU lease runs: the same script with
LEASE_DRY_RUN=1 (no wheels, device cpu, tiny settings merged onto the gpu_h100 profile), run as it is run there,
into a fresh $OUT. It must leave the results, dvc.lock and the per-stage times, with the neighbours stage (the
Inception network, not carried) left out and the Inception weights' stage standing in with a note.

To keep CI short it reproduces one chain per paper (LEASE_TARGETS) rather than the whole DAG: NCSN's through
the evaluation (data, classifier, training, selection, sampling, scoring), one training of each other paper; the
whole DAG on the CPU takes many minutes of stage start-up alone."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from gpu_lease_repro import apply_overlay, stage_times  # noqa: E402

TARGETS = ["ncsn_evaluate@fig5_mnist", "ncsn_neighbours@fig5_mnist", "ae_mcmc_train@vae", "infusion_train",
           "score_repr_train@uniform_t", "wmvl_train@vae_explicit_euc8"]


@pytest.mark.slow
def test_lease_script_dry_run_on_the_cpu(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), LEASE_DRY_RUN="1", LEASE_WORK=str(tmp_path / "work"), REPRO_S="900",
               LEASE_TARGETS=" ".join(TARGETS), OMP_NUM_THREADS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)  # the script puts the repository's src/ first itself
    res = subprocess.run(["bash", "benchmarks/gpu_lease_repro.sh"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=1200)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]

    lease = json.loads((out / "lease.json").read_text())
    assert lease["returncode"] == 0 and not lease["stopped_at_deadline"] and lease["stages_failed"] == []
    assert list(lease["left_out"]) == ["ncsn_neighbours@fig5_mnist"]
    with (out / "stage_times.csv").open() as f:
        rows = list(csv.DictReader(f))
    ran = {r["stage"] for r in rows}
    assert set(TARGETS) - {"ncsn_neighbours@fig5_mnist"} <= ran
    assert {"classifier@mnist_embedded", "ncsn_train@fig5_mnist", "ncsn_sample@fig5_mnist-0"} <= ran
    assert "ncsn_neighbours@fig5_mnist" not in ran and "inception_weights" not in ran
    assert all(r["status"] == "done" and float(r["seconds"]) > 0 for r in rows)

    lock = yaml.safe_load((out / "dvc.lock").read_text())["stages"]
    assert set(ran) | {"inception_weights"} <= set(lock)
    params = yaml.safe_load((out / "params.yaml").read_text())
    assert params["profile"] == "gpu_h100" and params["device"] == "cpu"
    assert params["ncsn"]["defaults"]["model"] == {"arch": "refinenet", "ngf": 4}  # the overlay's tiny network
    with tarfile.open(out / "results.tar.gz") as tar:
        metrics = json.load(tar.extractfile("results/ncsn/fig5_mnist/metrics.json"))
    assert metrics["n_samples"] == 10 and metrics["fid_mnist_classifier"] > 0
    assert "cpu dry run" in (out / "device.txt").read_text()


def test_overlay_merges_and_deletes():
    base = {"a": {"x": 1, "y": {"z": 2}}, "b": [1, 2], "c": {"keep": 1, "drop": 2}}
    assert apply_overlay(base, {"a": {"y": {"z": 3}}, "b": [3], "c": {"drop": None}}) == \
        {"a": {"x": 1, "y": {"z": 3}}, "b": [3], "c": {"keep": 1}}


def test_stage_times_from_dvc_output():
    events = [(1.0, "Running stage 'a':\n"), (1.1, "> scorerepro a\n"), (4.0, "Updating lock file 'dvc.lock'\n"),
              (4.2, "Running stage 'f':\n"), (4.3, "WARNING: failed to run: scorerepro f, exited with 2\n"),
              (4.5, "Running stage 'b':\n"), (9.0, "KeyboardInterrupt\n")]
    rows = stage_times(events, end=10.0, rc=255, stopped=True)
    assert rows == [{"stage": "a", "start_s": 1.0, "seconds": 3.0, "status": "done"},
                    {"stage": "f", "start_s": 4.2, "seconds": 0.1, "status": "failed"},
                    {"stage": "b", "start_s": 4.5, "seconds": 5.5, "status": "cut off"}]
    assert stage_times(events, end=10.0, rc=1)[-1]["status"] == "failed"


def test_dry_run_overlay_keeps_the_profile_valid():
    from scorerepro.config import validate_params
    from scorerepro.profiles import load_profile

    gpu = load_profile("gpu_h100", REPO / "workflow" / "params")
    tiny = apply_overlay(gpu, yaml.safe_load((REPO / "benchmarks/gpu_lease_dry_run.yaml").read_text()))
    validate_params(tiny, REPO / "workflow/schemas/params.schema.json")
    # the overlay shrinks sizes, never the DAG: the same experiments as the profile
    for paper in ("ncsn", "ae_mcmc", "score_repr", "wmvl"):
        assert list(tiny[paper]["experiments"]) == list(gpu[paper]["experiments"])
