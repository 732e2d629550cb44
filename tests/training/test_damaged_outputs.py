"""Damaged training outputs through the CLI: a damaged final model is remade before the run calls itself finished,
and the repair a damaged checkpoint's message advises works when followed as written."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params
from scorerepro.core.fileio import sha256_file
from scorerepro.training import load_checkpoint

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_params.yaml"
RUN = Path("models/wmvl/wae_gan_sph8")
TRAIN = ["wmvl", "train", "wae_gan_sph8"]


@pytest.fixture()
def workdir(tmp_path, monkeypatch, one_torch_thread):
    from scorerepro.core.fileio import write_json
    from scorerepro.data.preprocess import save_split

    d = tmp_path / "data" / "processed" / "mnist_embedded"
    g = torch.Generator().manual_seed(3)
    save_split(d / "train.pt", torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=g),
               torch.randint(0, 10, (64,), generator=g))
    write_json(d / "manifest.json", {"splits": {"train": {"file": "train.pt", "shape": [64, 1, 28, 28],
                                                           "sha256": sha256_file(d / "train.pt")}}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(load_params(TINY), sort_keys=False))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def flip_bytes(path: Path, n: int = 16) -> None:
    """Replace the file by a copy with n bytes inverted in its middle (never touching a hard-linked twin)."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + n] = bytes(b ^ 0xFF for b in data[mid:mid + n])
    path.unlink()
    path.write_bytes(bytes(data))


def test_a_damaged_final_model_is_remade_before_training_calls_itself_finished(workdir, capsys):
    assert main(TRAIN) == 0
    good = sha256_file(RUN / "final.pt")
    flip_bytes(RUN / "final.pt")
    assert main(TRAIN) == 0
    assert "did not match the sha256 in completed.json (damaged); remade it" in capsys.readouterr().out
    assert sha256_file(RUN / "final.pt") == good == json.loads((RUN / "completed.json").read_text())["final_sha256"]
    load_checkpoint(RUN / "final.pt")  # verifies its checksum


def _dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("name", ["checkpoint_4.pt", "checkpoint_2.pt"], ids=["latest", "earlier"])
def test_the_advised_dvc_checkout_restores_a_damaged_checkpoint_of_a_finished_run(workdir, capsys, name):
    assert main(TRAIN) == 0
    assert _dvc("init", "--no-scm", cwd=workdir).returncode == 0
    added = _dvc("add", str(RUN), cwd=workdir)
    assert added.returncode == 0, added.stderr
    newest = RUN / "checkpoints" / name
    good = sha256_file(newest)
    flip_bytes(newest)
    capsys.readouterr()
    assert main(TRAIN) == 4
    err = capsys.readouterr().err
    advice = re.search(r"`(dvc checkout [^`]+)`", err)
    assert advice, err
    cmd = shlex.split(advice.group(1))
    done = _dvc(*cmd[1:], cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert sha256_file(newest) == good
    assert main(TRAIN) == 0
