"""The NCSN train stage from nothing: same params, same bits (the network's initial weights included)."""

from __future__ import annotations

from pathlib import Path

import torch

from scorerepro.config import load_params
from scorerepro.core.fileio import sha256_file, write_json
from scorerepro.data.preprocess import save_split
from scorerepro.papers.ncsn.experiment import build_score_net, experiment_settings
from scorerepro.papers.ncsn.stages import train as stage

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_params.yaml"


def _fake_mnist(root: Path) -> None:
    d = root / "data" / "processed" / "mnist_embedded"
    images = torch.randint(0, 256, (24, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    save_split(d / "train.pt", images, None)
    write_json(d / "manifest.json", {"splits": {"train": {"file": "train.pt", "shape": [24, 1, 28, 28],
                                                           "sha256": sha256_file(d / "train.pt")}}})


def _final_weights(root: Path, params: dict) -> dict:
    from scorerepro.training import load_model_weights

    net = build_score_net(experiment_settings(params, "tiny_ncsn"))
    load_model_weights(net, root / "models" / "ncsn" / "tiny_ncsn" / "checkpoints" / "checkpoint_4.pt", which="model")
    return net.state_dict()


def test_training_twice_from_nothing_gives_the_same_weights(tmp_path, monkeypatch, one_torch_thread):
    params = load_params(TINY)
    runs = []
    for i in range(2):
        root = tmp_path / f"run{i}"
        _fake_mnist(root)
        monkeypatch.chdir(root)
        torch.rand(int(torch.randint(1, 100, ()).item()))  # whatever the global RNG did before must not matter
        stage.run(params, "tiny_ncsn")
        runs.append(_final_weights(root, params))
        assert (root / "results" / "ncsn" / "tiny_ncsn" / "fig12_loss.csv").is_file()
    assert runs[0].keys() == runs[1].keys()
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
