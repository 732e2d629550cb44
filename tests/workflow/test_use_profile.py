"""`scorerepro use-profile`: a profile other than quick is an overlay on quick.yaml, merged into exactly the settings
it had when written out in full; after a switch, the folders of experiments and datasets the new profile does not
have are named (and kept), so a stale result folder is not mistaken for one of the new profile's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scorerepro.cli import main
from scorerepro.config import ParamsError, load_params, parse_params_yaml
from scorerepro.profiles import available_profiles, profile_text
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
    assert (tmp_path / "params.yaml").read_text() == profile_text("paper_cifar10", REPO / "workflow" / "params")
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


# The profiles as they were written out in full, before they became overlays on quick.yaml: what each merges to.
RECORDED = sorted((REPO / "tests" / "fixtures" / "profiles").glob("*.json"))


@pytest.mark.parametrize("recorded", RECORDED, ids=lambda p: p.stem)
def test_each_profile_merges_to_its_recorded_settings_in_their_order(recorded):
    merged = parse_params_yaml(profile_text(recorded.stem, REPO / "workflow" / "params"))
    # json.dumps keeps key order: the order of experiments is the order of summary rows and DAG listings
    assert json.dumps(merged) == json.dumps(json.loads(recorded.read_text()))


def test_every_profile_has_its_recorded_settings():
    assert [p.stem for p in RECORDED] == available_profiles(REPO / "workflow" / "params")


def test_merge_rule(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "a: {x: 1, y: {z: 2, w: 3}}\nb: [1, 2]\nc: {keep: 1, drop: 2}\nd: 4\nexperiments:\n  e1: {n: 1}\n"
        "  e2: {n: 2}\n")
    (tmp_path / "mid.yaml").write_text("extends: base.yaml\nd: 5\n")
    (tmp_path / "top.yaml").write_text(
        "# what top is\n\n# how it merges\nextends: mid.yaml\na: {y: {z: 9}}\nb: [3]\nc: !replace {keep: 1}\n"
        "d:\nnew: {k: 1}\nexperiments: !replace\n  e2: {n: 20}\n")
    text = profile_text("top", tmp_path)
    assert parse_params_yaml(text) == {"a": {"x": 1, "y": {"z": 9, "w": 3}}, "b": [3], "c": {"keep": 1}, "d": None,
                                       "experiments": {"e2": {"n": 20}}, "new": {"k": 1}}
    assert list(parse_params_yaml(text)) == ["a", "b", "c", "d", "experiments", "new"]  # a new key comes last
    assert text.startswith("# what top is\n# Written by `scorerepro use-profile top`: workflow/params/mid.yaml") and "how it merges" not in text
    assert "a: {x: 1, y: {z: 9, w: 3}}\n" in text and "!replace" not in text  # the base's flow style stays
    assert profile_text("base", tmp_path) == (tmp_path / "base.yaml").read_text()  # a whole profile as it is


def test_use_profile_writes_the_params_file_it_is_given(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workflow").symlink_to(REPO / "workflow")
    assert main(["use-profile", "gpu_h100", "--params", "other.yaml"]) == 0
    assert "other.yaml is now the gpu_h100 profile" in capsys.readouterr().out
    assert (tmp_path / "other.yaml").read_text() == profile_text("gpu_h100", REPO / "workflow" / "params")
    assert not (tmp_path / "params.yaml").exists()
    assert load_params(tmp_path / "other.yaml")["profile"] == "gpu_h100"


def test_use_profile_help_lists_every_profile(capsys):
    with pytest.raises(SystemExit):
        main(["use-profile", "--help"])
    listed = " ".join(capsys.readouterr().out.split())
    assert "one of: gpu_h100, paper_celeba, paper_cifar10, paper_mnist, quick" in listed


def test_an_overlay_read_as_a_params_file_says_what_it_is():
    with pytest.raises(ParamsError, match="profile overlay on quick.yaml.*use-profile"):
        load_params(REPO / "workflow" / "params" / "gpu_h100.yaml")
