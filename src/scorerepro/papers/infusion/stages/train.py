"""Stage `infusion train`: the main infusion model (params.yaml infusion.model); resumes from its last checkpoint.
Writes models/infusion/main/ and results/infusion/train_loss.csv. A training that diverges leaves diverged.json in
models/infusion/main/ and its loss log up to the divergence as train_loss.csv, then raises (exit 0 under
--record-divergence, so the stages downstream run and say so)."""

from __future__ import annotations

import shutil
from pathlib import Path

from scorerepro.papers.infusion.data import hold_out_validation, load_images
from scorerepro.papers.infusion.experiment import describe, experiment_settings
from scorerepro.papers.infusion.locations import MAIN, RESULTS, model_dir
from scorerepro.papers.infusion.training import train_model
from scorerepro.pipeline.divergence import write_diverged_outputs
from scorerepro.training.divergence import read_divergence
from scorerepro.training.train_errors import NonFiniteLossError

STAGE = "infusion train"
LOSS_LOG = RESULTS / "train_loss.csv"


def run(params: dict) -> None:
    block = experiment_settings(params)
    images, _ = hold_out_validation(load_images(block["dataset"], "train")[0],
                                    params["infusion"]["eval"]["parzen_validation"])
    out = model_dir(MAIN)
    try:
        train_model(block, images, params["seed"], params["device"], out, MAIN)
    except NonFiniteLossError:
        publish_diverged_loss_log(out)
        raise
    publish_loss_log(out)
    print(f"infusion train: {describe(block)} on {block['dataset']} -> {out}")


def publish_loss_log(out: Path) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS / ".train_loss.csv.tmp"
    shutil.copyfile(out / "loss.csv", tmp)
    tmp.replace(LOSS_LOG)


def publish_diverged_loss_log(out: Path) -> None:
    """The loss log up to the divergence (the diverging step is its last row) is the stage's loss CSV; should the
    run folder hold no log, the CSV names the divergence instead, so that the declared output exists."""
    if (out / "loss.csv").is_file():
        publish_loss_log(out)
        return
    record = read_divergence(out)
    if record is None:  # no record to carry: the error stands as it is
        return
    write_diverged_outputs(record, [LOSS_LOG], STAGE)
