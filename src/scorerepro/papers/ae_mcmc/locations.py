"""ae_mcmc's folders: scorerepro.pipeline.paths with the paper's name filled in."""

from __future__ import annotations

from functools import partial

from scorerepro.pipeline import paths

PAPER = "ae_mcmc"
RESULTS = paths.paper_results_dir(PAPER)  # results/ae_mcmc
model_dir = partial(paths.model_dir, PAPER)
samples_dir = partial(paths.samples_dir, PAPER)
results_dir = partial(paths.results_dir, PAPER)
