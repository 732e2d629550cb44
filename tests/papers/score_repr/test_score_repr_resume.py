"""Raising a finished score_repr run's length through the CLI continues it, as for the other papers; moving the
end of the first phase of a two-phase run starts afresh (the fine-tuning steps would change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from scorerepro.cli import main
from scorerepro.config import load_params

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_params.yaml"


@pytest.fixture()
def workdir(tmp_path, monkeypatch, one_torch_thread):
    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.data.preprocess import save_split

    d = tmp_path / "data" / "processed" / "mnist_embedded"
    g = torch.Generator().manual_seed(3)
    save_split(d / "train.pt", torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=g),
               torch.randint(0, 10, (64,), generator=g))
    write_json(d / "manifest.json", {"splits": {"train": {"file": "train.pt", "shape": [64, 1, 28, 28],
                                                           "sha256": sha256_file(d / "train.pt")}}})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _train(root: Path, exp: str, **training) -> dict:
    params = load_params(TINY)
    params["score_repr"]["experiments"][exp]["training"].update(training)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert main(["score_repr", "train", exp]) == 0
    return json.loads((root / "models" / "score_repr" / exp / "completed.json").read_text())


def test_raising_n_iters_continues_the_finished_run(workdir):
    assert _train(workdir, "uniform_t", n_iters=6)["resumed_from"] == 0
    done = _train(workdir, "uniform_t", n_iters=9)
    assert done["resumed_from"] == 6 and done["step"] == 9
    assert not (workdir / "models" / "score_repr" / "uniform_t.superseded").exists()


def test_raising_finetune_iters_continues_and_moving_the_phase_end_starts_afresh(workdir):
    assert _train(workdir, "uniform_sigma")["step"] == 6  # 4 + 2 fine-tuning
    assert _train(workdir, "uniform_sigma", finetune_iters=4)["resumed_from"] == 6
    assert _train(workdir, "uniform_sigma", n_iters=5, finetune_iters=4)["resumed_from"] == 0
    assert (workdir / "models" / "score_repr" / "uniform_sigma.superseded").is_dir()
