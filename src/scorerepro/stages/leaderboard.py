"""Stage `leaderboard`: results/leaderboard.csv and .md, every generator of every paper scored the same way.

Each paper's summary stage writes one row per model and setting to results/<paper>/leaderboard.csv, with the sample
metrics below computed by the same code (scorerepro.pipeline.scoring) on the same data; the paper's own figure stands
beside ours where it reports one. A reference row for each dataset's real test images (the floor of the classifier
metrics) comes first, so a reader sees what a perfect generator would score."""

from __future__ import annotations

import json

import pandas as pd

from scorerepro.config import paper_blocks
from scorerepro.core.fileio import write_text
from scorerepro.pipeline import paths
from scorerepro.stages.claims_table import read_paper_rows
from scorerepro.pipeline.tables import SCORE_COLUMNS, to_markdown, with_error, write_csv

COLUMNS = ["paper", "model", "experiment", "dataset", "setting", *SCORE_COLUMNS, "parzen_log_likelihood",
           "reported_fid_inception", "reported_is_inception_mean", "reported_by", "source"]
SHOWN = ["paper", "model", "experiment", "dataset", *(c for c in SCORE_COLUMNS if c != "fid_mnist_classifier_se"),
         "parzen_log_likelihood", "reported_fid_inception", "reported_is_inception_mean"]


def reference_rows(datasets: list[str]) -> list[dict]:
    """Real test images scored by the MNIST classifier: the floor a generator's classifier FID is judged against."""
    rows = []
    for dataset in datasets:
        path = paths.classifier_results_dir(dataset) / "metrics.json"
        m = json.loads(path.read_text()) if path.is_file() else {}
        if m.get("applicable"):
            rows.append({"paper": "(reference)", "model": "real test images", "experiment": "", "dataset": dataset,
                         "setting": f"the {m['n_test']} test images against the training split",
                         "n_samples": m["n_test"],
                         "fid_mnist_classifier": m["fid_mnist_classifier_test_split"],
                         "fid_mnist_classifier_real_same_n": m["fid_mnist_classifier_test_split"],
                         "is_mnist_classifier_mean": m["is_mnist_classifier_mean_test_split"],
                         "source": str(path)})
    return rows


def run(params: dict) -> None:
    papers = paper_blocks(params)
    parts = [read_paper_rows(p, "leaderboard", COLUMNS) for p in papers]
    models = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    board = pd.concat([pd.DataFrame(reference_rows(sorted(set(models["dataset"]))), columns=COLUMNS),
                       models[COLUMNS]], ignore_index=True)
    write_csv(board, paths.RESULTS / "leaderboard.csv")
    write_text(paths.RESULTS / "leaderboard.md",
               f"# Leaderboard: every generator, the same metrics ({params['profile']} profile)\n\n"
               "Samples of every model are scored by the same code on the same data: the MNIST classifier's FID and "
               "IS (`*_mnist_classifier`, comparable only with each other), pytorch-fid's Inception FID where the "
               "profile computes it, a Parzen-window log-likelihood where the paper uses one. `reported_*` is the "
               "paper's own figure for that model where it reports one (at its scale, not this profile's). Lower "
               "FID is better; the reference row is real test data. `fid_mnist_classifier_real_same_n` is each "
               "row's floor: real test digits scored the same way at that row's sample count (FID's bias grows as "
               "the count shrinks, so compare a row's FID with its own floor, not with the reference row's). "
               "`+-` is the 95% interval of the FID over the row's samples (1.96 bootstrap standard errors, "
               "`fid_mnist_classifier_se` in the CSV). Settings: results/leaderboard.csv.\n\n"
               + to_markdown(with_error(board, "fid_mnist_classifier", "fid_mnist_classifier_se"), SHOWN))
    print(f"leaderboard: {len(models)} generator(s) of {len(papers)} paper(s), {len(board) - len(models)} "
          f"reference row(s)")
