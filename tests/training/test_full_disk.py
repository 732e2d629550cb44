"""A full disk through the CLI: training and evaluation stop with one line naming the file and an exit code (74),
leave nothing half-written under an output's name, and a rerun with space resumes bit-identically.

The full disk is a real one: a small tmpfs mounted over the output folder, so the test needs the right to mount
(root with CAP_SYS_ADMIN) and is skipped without it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params
from scorerepro.core.errors import EXIT_IO
from scorerepro.core.fileio import sha256_file
from scorerepro.training import load_checkpoint

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_params.yaml"
TRAIN = ["wmvl", "train", "wae_gan_sph8"]


@pytest.fixture()
def workdir(tmp_path, monkeypatch, one_torch_thread):
    from scorerepro.core.fileio import write_json
    from scorerepro.data.preprocess import save_split

    d = tmp_path / "data" / "processed" / "mnist_embedded"
    g = torch.Generator().manual_seed(3)
    splits = {}
    for name, n in (("train", 64), ("test", 24)):
        save_split(d / f"{name}.pt", torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g),
                   torch.randint(0, 10, (n,), generator=g))
        splits[name] = {"file": f"{name}.pt", "shape": [n, 1, 28, 28], "sha256": sha256_file(d / f"{name}.pt")}
    write_json(d / "manifest.json", {"splits": splits})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(load_params(TINY), sort_keys=False))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def small_disk(tmp_path):
    """mount(folder, size) mounts a tmpfs of that size over a folder of tmp_path, grow(folder, size) makes it larger
    (keeping its files); all are unmounted afterwards."""
    mounted: list[Path] = []

    def mount(folder: str, size: str, remount: bool = False) -> Path:
        where = tmp_path / folder
        where.mkdir(parents=True, exist_ok=True)
        opts = f"remount,size={size}" if remount else f"size={size}"
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True,
                             text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {res.stderr.strip()}")
        if not remount:
            mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", str(where)], check=True)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _one_line(err: str, command: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("scorerepro ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"scorerepro {command}: write failed: "), err
    assert "No space left on device" in lines[0], err
    return lines[0]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(path)
    return {f"{n}.{k}": v for n, sd in ckpt["networks"].items() for k, v in sd.items()}


def test_training_on_a_full_disk_is_one_line_and_a_rerun_resumes_bit_identically(workdir, small_disk, capsys,
                                                                                    tmp_path_factory,
                                                                                    monkeypatch):
    reference = tmp_path_factory.mktemp("reference")
    shutil.copytree(workdir / "data", reference / "data")
    shutil.copy(workdir / "params.yaml", reference / "params.yaml")
    run = Path("models/wmvl/wae_gan_sph8")
    small_disk("models", "500k")  # room for the checkpoint at step 2 (374 kB), not for the one at step 4
    assert main(TRAIN) == EXIT_IO
    line = _one_line(capsys.readouterr().err, "wmvl train")
    assert f"{run}/checkpoints/checkpoint_4.pt" in line, line
    assert _files(workdir / run) == ["checkpoints/checkpoint_2.pt", "checkpoints/latest.pt", "loss.csv"]

    small_disk("models", "4m", remount=True)  # space again, the files kept
    assert main(TRAIN) == 0
    assert json.loads((workdir / run / "completed.json").read_text())["resumed_from"] == 2
    monkeypatch.chdir(reference)
    assert main(TRAIN) == 0  # the same run without a full disk
    ours, theirs = _weights(workdir / run / "final.pt"), _weights(reference / run / "final.pt")
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert (workdir / run / "loss.csv").read_text() == (reference / run / "loss.csv").read_text()


def test_evaluation_on_a_full_disk_is_one_line_and_leaves_no_half_written_output(workdir, small_disk, capsys):
    assert main(TRAIN) == 0
    results = small_disk("results", "12k")  # too small for the samples figure
    assert main(["wmvl", "evaluate", "wae_gan_sph8"]) == EXIT_IO
    line = _one_line(capsys.readouterr().err, "wmvl evaluate")
    assert "results/wmvl/models/wae_gan_sph8/" in line, line
    assert not [f for f in _files(results) if ".tmp" in Path(f).name], _files(results)
    small_disk("results", "4m", remount=True)
    assert main(["wmvl", "evaluate", "wae_gan_sph8"]) == 0
