"""Infusion training: Bordes, Honari & Vincent (ICLR 2017), "Learning to generate samples from noise through
infusion training" (seed 002).

Where things are: the model, infusion chain, objectives, sampling and log-likelihood estimators `model.py`; the
data as the paper reads it `data.py`; training one model `training.py`; the main model's settings, its schedule and
its initial network `experiment.py`; where its files live `locations.py`; the paper's numbers `reported.py`; claims
`claims.py`; checks of its params block `params_checks.py`; one module per stage in `stages/` (train, sweep = the
reduced Table 4, evaluate with the figures, summary). Settings: params.yaml `infusion:` (model, eval, sweep).
"""

from scorerepro.pipeline.registry import Stage

TITLE = "seed 002: Bordes, Honari & Vincent 2017 (infusion training)"

_S = "scorerepro.papers.infusion.stages."
STAGES = {
    "train": Stage(_S + "train", "run", "train the main infusion model (resumes from its last checkpoint)",
                   trains=True),
    "sweep": Stage(_S + "sweep", "run", "the reduced Table 4 sweep over steps T and infusion rates, with a heatmap"),
    "evaluate": Stage(_S + "evaluate", "run",
                      "lower bound, IS estimate, Parzen and classifier scores of the main model; its figures (Fig. 1, 2, 4, 5)"),
    "summary": Stage(_S + "summary", "run", "results/infusion/summary.md, claims.csv and leaderboard.csv"),
}
