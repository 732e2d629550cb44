"""The command line: --help lists every paper and stage, and a bad stage, argument or parameter stops with the
documented exit code (docs/reliability.md), naming what was wrong."""

from __future__ import annotations

import copy
import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scorerepro import cli
from scorerepro.config import load_params
from scorerepro.papers import PAPERS, paper_module
from scorerepro.pipeline.registry import SHARED_STAGES

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick() -> dict:
    return load_params(REPO / "params.yaml")


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    """cli.main's exit code (argparse's SystemExit included), stdout and stderr."""
    try:
        code = cli.main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_paper_and_every_shared_stage(capsys):
    code, out, _ = _main(capsys, "--help")
    assert code == 0
    assert all(paper in out for paper in PAPERS) and all(stage in out for stage in SHARED_STAGES)


@pytest.mark.parametrize("paper", list(PAPERS))
def test_a_papers_help_lists_every_stage_of_it(capsys, paper):
    code, out, _ = _main(capsys, paper, "--help")
    assert code == 0 and all(stage in out for stage in paper_module(paper).STAGES)


def test_an_unknown_stage_exits_2_naming_it(capsys):
    code, _, err = _main(capsys, "ncsn", "no_such_stage")
    assert code == 2 and "'no_such_stage'" in err


def test_a_bad_shard_argument_exits_2_naming_it(capsys):
    code, _, err = _main(capsys, "ncsn", "sample", "fig5_mnist", "first")
    assert code == 2 and "shard" in err and "'first'" in err


def test_an_unknown_experiment_exits_2_naming_it_and_the_known_ones(capsys):
    code, _, err = _main(capsys, "ncsn", "train", "no_such_exp", "--params", str(REPO / "params.yaml"))
    assert code == 2 and "'no_such_exp'" in err and "fig5_mnist" in err and "Traceback" not in err


def test_a_missing_params_file_exits_2_naming_it(capsys, tmp_path):
    code, _, err = _main(capsys, "ncsn", "train", "fig5_mnist", "--params", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err


@pytest.mark.parametrize("error, label, code", [
    (PermissionError(errno.EACCES, "Permission denied", "results/x"), "permission denied", 77),
    (OSError(errno.ENOSPC, "No space left on device", "models/x.pt"), "write failed", 74),
    (OSError(errno.EIO, "Input/output error", "models/x.pt"), "I/O error", 74),
    (FileNotFoundError("data/processed/x/train.pt is missing"), "error", 2),
])
def test_os_and_input_errors_map_to_their_exit_codes_and_name_the_file(error, label, code):
    got_label, message, got_code = cli._user_error(error)
    assert (got_label, got_code) == (label, code)
    assert (error.filename or "data/processed/x/train.pt") in message


def test_a_bug_keeps_its_traceback():
    assert cli._user_error(RuntimeError("a bug")) is None and cli._user_error(KeyError("k")) is None


def test_cli_stops_before_any_work_on_bad_params(tmp_path, quick):
    bad = copy.deepcopy(quick)
    bad["ncsn"]["experiments"]["fig5_mnist"]["training"]["n_iters"] = 0
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(bad))
    res = subprocess.run([sys.executable, "-m", "scorerepro.cli", "ncsn", "train", "fig5_mnist", "--params", str(path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "experiments.fig5_mnist.training.n_iters" in res.stderr
    assert not (tmp_path / "models").exists()


def test_model_summary_cli_prints_official_budget():
    res = subprocess.run([sys.executable, "-m", "scorerepro.cli", "ncsn", "model-summary", "refinenet_mnist"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    # ermongroup/ncsn CondRefineNetDilated, MNIST (ngf 64): parameter count tallied in tests/test_models.py.
    assert out["params"] == 7_638_657
    assert 3.7e9 < out["flops_per_image"] < 3.9e9


def test_cli_help_lists_the_papers():
    res = subprocess.run([sys.executable, "-m", "scorerepro.cli", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "ncsn" in res.stdout and "seed 000" in res.stdout
    res = subprocess.run([sys.executable, "-m", "scorerepro.cli", "ncsn", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert all(s in res.stdout for s in ("train", "select_sample", "summary_rows", "toy_manifold"))
