"""A diverged training's record written into each kind of output a stage declares, and read back downstream."""

from __future__ import annotations

import csv

import pytest
import torch

from scorerepro.pipeline.divergence import (FOLDER_RECORD, diverged_gate, divergence_in, upstream_divergence,
                                            write_diverged_outputs)
from scorerepro.pipeline.evidence import claim_row, normal_interval
from scorerepro.training.divergence import DIVERGED_NAME, Divergence

RECORD = Divergence("models/wmvl/wae_gan_sph8", "reconstruction", 2, 600, 2.207e9, 5.463e6, "the training loss ...")


def test_every_kind_of_output_carries_the_record_and_reads_back(tmp_path, capsys):
    outs = [tmp_path / "m.json", tmp_path / "s.pt", tmp_path / "f.png", tmp_path / "t.csv", tmp_path / "n.md",
            tmp_path / "folder"]
    write_diverged_outputs(RECORD, outs, "wmvl evaluate wae_gan_sph8")
    assert "wmvl evaluate wae_gan_sph8: not run, training of models/wmvl/wae_gan_sph8 diverged at step 2 of 600" \
        in capsys.readouterr().out
    for p in (outs[0], outs[1], outs[5]):
        assert upstream_divergence(p) == RECORD
    assert (outs[5] / FOLDER_RECORD).is_file()
    assert outs[2].read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(outs[3].open()))
    assert rows == [{"diverged": RECORD.text()}]
    assert "beyond its bound 5.463e+06" in outs[4].read_text()
    assert divergence_in(torch.load(outs[1], weights_only=True)) == RECORD


def test_a_real_result_carries_no_record(tmp_path):
    (tmp_path / "m.json").write_text('{"fid": 3.0}')
    torch.save({"images": torch.zeros(2)}, tmp_path / "s.pt")
    (tmp_path / "run").mkdir()
    assert upstream_divergence(tmp_path / "m.json", tmp_path / "s.pt", tmp_path / "run", {"fid": 1}, None) is None
    assert upstream_divergence(tmp_path / "absent.json") is None


def test_a_run_folder_record_is_found_first_in_order(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / DIVERGED_NAME).write_text('{"run": "r", "loss": "loss", "step": 3, "n_iters": 9, "value": null, '
                                     '"bound": null, "message": "m", "config_record": {}, "train_config": {}}')
    found = upstream_divergence(tmp_path / "m.json", run)
    assert found.step == 3 and "not finite" in found.text()


def test_a_diverged_model_makes_the_claims_it_feeds_untested_naming_the_divergence():
    gate = diverged_gate("wae_gan_sph8", RECORD)
    row = claim_row("c", "s", "m", "yes", interval=normal_interval(1.0, 0.1, 10, "normal"), gates=[gate])
    assert row["holds"] == "untested"
    assert "wae_gan_sph8 trained FAILED: training of models/wmvl/wae_gan_sph8 diverged at step 2 of 600: loss " \
           "'reconstruction' 2.207e+09, beyond its bound 5.463e+06" in row["note"]


def test_an_unknown_output_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.npz"):
        write_diverged_outputs(RECORD, [tmp_path / "x.npz"], "stage")
