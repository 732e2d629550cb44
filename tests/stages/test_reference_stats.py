"""Stage reference_stats for a dataset whose Inception reference is switched off (datasets.<name>.
inception_reference: false), and what scoring with Inception then says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scorerepro.config import load_params
from scorerepro.pipeline import scoring
from scorerepro.stages import reference_stats

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def params(tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    return load_params(REPO / "params.yaml")


def test_the_quick_profile_skips_only_the_8x8_digits(params):
    flags = {name: block.get("inception_reference", True) for name, block in params["datasets"].items()}
    assert flags == {"mnist_embedded": True, "digits8x8": False}


def test_a_switched_off_reference_writes_only_its_record_and_inception_scoring_names_the_key(params, capsys):
    reference_stats.run(params, "digits8x8")  # no data, no Inception weights needed
    folder = Path("data/reference/digits8x8")
    assert sorted(p.name for p in folder.iterdir()) == ["reference.json"]
    assert json.loads((folder / "reference.json").read_text()) == {"dataset": "digits8x8",
                                                                    "inception_reference": False}
    assert "skipped" in capsys.readouterr().out
    images = torch.zeros((4, 1, 8, 8), dtype=torch.uint8)
    with pytest.raises(FileNotFoundError, match=r"datasets\.digits8x8\.inception_reference is false"):
        scoring.score(images, "digits8x8", params, torch.device("cpu"), inception=True, classifier=False)


def test_a_reference_never_computed_says_which_stage_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"run `scorerepro reference_stats mnist_embedded`"):
        scoring.inception_reference_file("mnist_embedded", scoring.INCEPTION_STATS)


def test_a_computed_reference_whose_statistics_were_deleted_is_not_blamed_on_the_flag(tmp_path, monkeypatch):
    """reference.json of a computed reference has no inception_reference: false; a missing statistics file beside it
    was deleted or never finished, and the error says to rerun the stage, not to switch the flag on."""
    monkeypatch.chdir(tmp_path)
    folder = Path("data/reference/mnist_embedded")
    folder.mkdir(parents=True)
    (folder / "reference.json").write_text(json.dumps({"dataset": "mnist_embedded", "split": "train",
                                                       "n_images": 200}))
    with pytest.raises(FileNotFoundError) as err:
        scoring.inception_reference_file("mnist_embedded", scoring.INCEPTION_STATS)
    assert "deleted or never finished" in str(err.value) and "inception_reference is false" not in str(err.value)


def test_missing_inception_weights_exit_with_the_documented_data_code(tmp_path, monkeypatch, capsys):
    from scorerepro.cli import main
    from scorerepro.core.errors import EXIT_DATA
    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.data.preprocess import save_split

    monkeypatch.chdir(tmp_path)
    d = tmp_path / "data" / "processed" / "mnist_embedded"
    save_split(d / "train.pt", torch.zeros((4, 1, 28, 28), dtype=torch.uint8), torch.zeros(4, dtype=torch.int64))
    write_json(d / "manifest.json", {"splits": {"train": {"file": "train.pt", "shape": [4, 1, 28, 28],
                                                           "sha256": sha256_file(d / "train.pt")}}})
    (tmp_path / "params.yaml").write_text((REPO / "tests" / "fixtures" / "tiny_params.yaml").read_text())
    assert main(["reference_stats", "mnist_embedded"]) == EXIT_DATA == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("scorerepro reference_stats: Inception weights unavailable:"), err
    assert "run `scorerepro inception_weights`" in err
