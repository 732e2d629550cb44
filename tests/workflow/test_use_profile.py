"""`scorerepro use-profile`: after a switch, the folders of experiments and datasets the new profile does not have
are named (and kept), so a stale result folder is not mistaken for one of the new profile's."""

from __future__ import annotations

from pathlib import Path

from scorerepro.cli import main
from workflow_helpers import REPO


def _tree(root: Path, *paths: str) -> None:
    for p in paths:
        f = root / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x")


def test_use_profile_names_folders_of_other_profiles(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workflow").symlink_to(REPO / "workflow")
    _tree(tmp_path,
          # the quick profile's (fig5_mnist, ..., mnist_embedded) and a tiny one's (tiny_ncsn)
          "models/ncsn/fig5_mnist/final.pt", "models/ncsn/tiny_ncsn/final.pt",
          "samples/ncsn/fig5_mnist/eval/shard_0.pt", "results/ncsn/fig5_mnist/metrics.json",
          "results/ncsn/tiny_ncsn/metrics.json", "results/ncsn/toy/fig2_scores/metrics.json",
          "results/ncsn/sensitivity/metrics.json", "results/ncsn/summary.md",
          "data/ncsn/summary_rows/fig5_mnist.json", "data/ncsn/summary_rows/tiny_ncsn.json",
          "data/raw/mnist_embedded/download.json", "data/processed/mnist_embedded/train.pt",
          "data/processed/cifar10/train.pt", "models/classifier/mnist_embedded/model.pt",
          "results/classifier/mnist_embedded/metrics.json", "models/inception/inception_weights.json")

    assert main(["use-profile", "paper_cifar10"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "params.yaml").read_text() == (REPO / "workflow/params/paper_cifar10.yaml").read_text()
    listed = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert listed == sorted([
        "data/ncsn/summary_rows/fig5_mnist.json", "data/ncsn/summary_rows/tiny_ncsn.json",
        "data/processed/mnist_embedded", "data/raw/mnist_embedded", "models/classifier/mnist_embedded",
        "models/ncsn/fig5_mnist", "models/ncsn/tiny_ncsn", "results/classifier/mnist_embedded",
        "results/ncsn/fig5_mnist", "results/ncsn/tiny_ncsn", "samples/ncsn/fig5_mnist"]), out
    assert "kept" in out
    # nothing was deleted
    assert (tmp_path / "models/ncsn/fig5_mnist/final.pt").exists()
    assert (tmp_path / "results/ncsn/tiny_ncsn/metrics.json").exists()

    # back to quick: its own experiments are not listed, the tiny leftovers still are
    assert main(["use-profile", "quick"]) == 0
    listed = [line.strip() for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert "models/ncsn/fig5_mnist" not in listed and "data/processed/mnist_embedded" not in listed
    assert {"models/ncsn/tiny_ncsn", "results/ncsn/tiny_ncsn", "data/processed/cifar10"} <= set(listed)
