"""The NCSN train stage from nothing: same params, same bits (the network's initial weights included)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scorerepro.config import load_params
from scorerepro.core.fileio import sha256_file, write_json
from scorerepro.data.preprocess import save_split
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

    net = stage.build_score_net(stage.experiment_settings(params, "tiny_ncsn"))
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


def test_initial_weights_depend_on_seed_and_experiment():
    params = load_params(TINY)
    exp = stage.experiment_settings(params, "tiny_ncsn")
    a = stage.initial_score_net(exp, 7).state_dict()
    b = stage.initial_score_net(exp, 7).state_dict()
    c = stage.initial_score_net(exp, 8).state_dict()
    other = stage.initial_score_net({**exp, "name": "other"}, 7).state_dict()
    weights = [k for k in a if a[k].is_floating_point() and a[k].numel() > 1 and a[k].std() > 0]
    assert weights and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in weights)
    assert not all(torch.equal(a[k], other[k]) for k in weights)


def test_raising_n_iters_continues_the_finished_run(tmp_path, monkeypatch, one_torch_thread):
    import copy

    params = load_params(TINY)
    _fake_mnist(tmp_path)
    monkeypatch.chdir(tmp_path)
    stage.run(params, "tiny_ncsn")
    out = tmp_path / "models" / "ncsn" / "tiny_ncsn"
    first = (out / "loss.csv").read_text().splitlines()
    longer = copy.deepcopy(params)
    longer["ncsn"]["experiments"]["tiny_ncsn"]["training"]["n_iters"] = 6
    stage.run(longer, "tiny_ncsn")
    lines = (out / "loss.csv").read_text().splitlines()
    assert lines[:len(first)] == first and len(lines) == len(first) + 2  # steps 5 and 6 appended, 1-4 kept
    assert {p.name for p in (out / "checkpoints").glob("checkpoint_*.pt")} >= {"checkpoint_4.pt", "checkpoint_6.pt"}
    assert not (tmp_path / "models" / "ncsn" / "tiny_ncsn.superseded").exists()


def test_the_torchrun_relaunch_runs_this_papers_train_command(tmp_path, monkeypatch):
    """training.gpus > 1 reruns the stage under torchrun: the command must be one the CLI knows, and a failure
    of the workers is one TrainingError, not a CalledProcessError traceback."""
    import copy
    import subprocess

    from scorerepro.cli import build_parser
    from scorerepro.training import TrainingError

    params = copy.deepcopy(load_params(TINY))
    params["ncsn"]["experiments"]["tiny_ncsn"]["training"]["gpus"] = 2
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    seen = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: seen.append(cmd) or subprocess.CompletedProcess(cmd, 3))
    with pytest.raises(TrainingError, match="torchrun workers .* failed \\(exit code 3\\)"):
        stage.run(params, "tiny_ncsn")
    cli_args = seen[0][seen[0].index("scorerepro.cli") + 1:]
    args = build_parser().parse_args(cli_args)
    assert (args.command, args.paper_stage, args.experiment) == ("ncsn", "train", "tiny_ncsn")
    assert not list(tmp_path.glob("params-*.yaml"))  # the temporary params file is removed
