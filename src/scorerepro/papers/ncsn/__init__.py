"""NCSN: Song & Ermon (2019), "Generative Modeling by Estimating Gradients of the Data Distribution", reproduced the
way seed 000 (its reproducibility report) did.

Where things are: noise schedules `noise.py`; DSM/SSM losses `losses.py`; Langevin, annealed Langevin and
inpainting `sampling.py`; networks (RefineNet, baseline, ResNets, toy MLP) `nets/`; the toy GMM `toy_gmm.py` and
studies `toy_studies.py`; an experiment's settings, network and initial weights `experiment.py`; where its files live
`locations.py`; the paper's and seed 000's numbers `reported.py`; claims `claims.py`; checks of its params block
`params_checks.py`; a diverged training's record in sample shards `divergence.py`; one module per stage in
`stages/`; `scorerepro ncsn model-summary` (parameters and FLOPs of a network) `model_summary.py`. Settings:
params.yaml `ncsn:` (defaults, experiments, toy, sensitivity).
"""

from scorerepro.pipeline.registry import Command, Stage

TITLE = "seed 000: Song & Ermon 2019 (NCSN), as reproduced by its reproducibility report"

_S = "scorerepro.papers.ncsn.stages."
STAGES = {
    "train": Stage(_S + "train", "run", "train one experiment's score network (resumes from its last checkpoint)",
                   ("experiment",), trains=True),
    "select_sample": Stage(_S + "select", "sample_shard", "one shard of samples from every checkpoint",
                           ("experiment", "shard")),
    "select": Stage(_S + "select", "run", "FID of every checkpoint; pick the best (seed 000 Fig. 13)",
                    ("experiment",)),
    "sample": Stage(_S + "sample", "run", "one shard of eval.n_samples samples from the selected checkpoint",
                    ("experiment", "shard")),
    "evaluate": Stage(_S + "evaluate", "run", "IS and FID of the samples (results/ncsn/<experiment>/metrics.json)",
                      ("experiment",)),
    "neighbours": Stage(_S + "neighbours", "run", "k nearest training images of samples, pixel and Inception space",
                        ("experiment",)),
    "inpaint": Stage(_S + "inpaint", "run", "inpainting under several masks (seed 000 Fig. 7, 18)", ("experiment",)),
    "figures": Stage(_S + "figures", "run", "sample grids, per-level intermediates, loss curves", ("experiment",)),
    "toy_manifold": Stage(_S + "toy", "run_manifold", "the SSM manifold study of seed 000 Fig. 1 (reads a dataset)"),
    "toy": Stage(_S + "toy", "run", "one toy study of seed 000 section 4 (Fig. 2, 3, 11)", ("study",)),
    "sensitivity": Stage(_S + "sensitivity", "run", "sampling sensitivity grid over step_lr and n_steps_each (Fig. 8)"),
    "summary_rows": Stage(_S + "summary", "summary_rows", "one experiment's rows of the summary table",
                          ("experiment",)),
    "summary": Stage(_S + "summary", "run",
                     "results/ncsn/summary.*, this paper's claims and leaderboard rows"),
}
# Tools that are no stage of the DAG: `scorerepro ncsn <command> ...`
COMMANDS = {"model-summary": Command("scorerepro.papers.ncsn.model_summary")}
