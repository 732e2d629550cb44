"""A tiny trained NCSN run (tests/fixtures/tiny_params.yaml: 4 iterations, checkpoints 2 and 4, a selected.json),
trained once per session and copied for each test that damages or reconfigures it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_params.yaml"


def fake_mnist(root: Path, n: int = 24) -> None:
    """A processed mnist_embedded train split of random digits, with its manifest."""
    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.data.preprocess import save_split

    d = root / "data" / "processed" / "mnist_embedded"
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    save_split(d / "train.pt", images, None)
    write_json(d / "manifest.json", {"splits": {"train": {"file": "train.pt", "shape": [n, 1, 28, 28],
                                                           "sha256": sha256_file(d / "train.pt")}}})


def select_checkpoint(root: Path, step: int) -> None:
    """results/ncsn/tiny_ncsn/selected.json naming checkpoint `step`, as the select stage writes it."""
    from scorerepro.core.fileio import sha256_file, write_json

    rel = Path("models/ncsn/tiny_ncsn/checkpoints") / f"checkpoint_{step}.pt"
    write_json(root / "results/ncsn/tiny_ncsn/selected.json",
               {"experiment": "tiny_ncsn", "iteration": step, "checkpoint": str(rel),
                "checkpoint_sha256": sha256_file(root / rel)})


@pytest.fixture(scope="session")
def tiny_run_template(tmp_path_factory) -> Path:
    from scorerepro.config import load_params
    from scorerepro.papers.ncsn.stages import train

    root = tmp_path_factory.mktemp("tiny_run")
    fake_mnist(root)
    before, threads = os.getcwd(), torch.get_num_threads()
    os.chdir(root)
    torch.set_num_threads(1)
    try:
        train.run(load_params(TINY), "tiny_ncsn")
    finally:
        os.chdir(before)
        torch.set_num_threads(threads)
    select_checkpoint(root, 4)
    shutil.copyfile(TINY, root / "params.yaml")
    return root


class TinyRun:
    """A copy of the trained tiny run in `root`; `params(**sampling)` are its params with sampling overrides."""

    def __init__(self, root: Path):
        self.root = root

    def params(self, shards: list[int] | None = None, **sampling) -> dict:
        from scorerepro.config import load_params

        params = load_params(self.root / "params.yaml")
        params["ncsn"]["experiments"]["tiny_ncsn"]["sampling"].update(sampling)
        if shards is not None:
            params["sharding"]["shards"] = shards
        return params

    def write_params(self, params: dict, name: str = "params.yaml") -> Path:
        path = self.root / name
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        return path

    def selected(self) -> dict:
        return json.loads((self.root / "results/ncsn/tiny_ncsn/selected.json").read_text())

    def select(self, step: int) -> None:
        select_checkpoint(self.root, step)


@pytest.fixture
def tiny_run(tiny_run_template, tmp_path, monkeypatch) -> TinyRun:
    root = tmp_path / "run"
    shutil.copytree(tiny_run_template, root)
    monkeypatch.chdir(root)
    return TinyRun(root)


@pytest.fixture
def sampled_batch_sizes(monkeypatch):
    """`record(module)` wraps the stage module's sample_batches and returns the list every call's batch_size is
    appended to (None where the stage left it to the experiment's sampling.batch_size)."""

    def record(module) -> list:
        asked = []
        real = module.sample_batches

        def recording(*args, **kwargs):
            asked.append(kwargs.get("batch_size"))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, "sample_batches", recording)
        return asked

    return record
