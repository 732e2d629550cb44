"""Stage `infusion train`: the main infusion model (params.yaml infusion.model); resumes from its last checkpoint.
Writes models/infusion/main/ and results/infusion/train_loss.csv."""

from __future__ import annotations

import shutil

from scorerepro.papers.infusion.data import hold_out_validation, load_images
from scorerepro.papers.infusion.experiment import describe, experiment_settings
from scorerepro.papers.infusion.locations import MAIN, RESULTS, model_dir
from scorerepro.papers.infusion.training import train_model


def run(params: dict) -> None:
    block = experiment_settings(params)
    images, _ = hold_out_validation(load_images(block["dataset"], "train")[0],
                                    params["infusion"]["eval"]["parzen_validation"])
    out = model_dir(MAIN)
    train_model(block, images, params["seed"], params["device"], out, MAIN)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS / ".train_loss.csv.tmp"
    shutil.copyfile(out / "loss.csv", tmp)
    tmp.replace(RESULTS / "train_loss.csv")
    print(f"infusion train: {describe(block)} on {block['dataset']} -> {out}")
