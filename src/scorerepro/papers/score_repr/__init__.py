"""Seed 003: Abstreiter, Bauer & Mehrjou (2021), "Representation learning in continuous-time score-based generative
models": a VE score model conditioned on a learned code E(x_0); which noise levels it trains on decides what the
code captures.

Where things are: the VE SDE and Eq. 6's Gaussian constant `sde.py`; encoder and code-conditioned U-Net `nets.py`;
the objective `losses.py`; the predictor-corrector sampler `sampling.py`; Eq. 6 on images `constant.py` and on a
Gaussian toy `toy.py`; an experiment's settings, images, initial networks and loading them back `experiment.py`;
training them `training.py`; where its files live `locations.py`; claims `claims.py`; the paper's (figure-only)
statements `reported.py`; checks of its params block `params_checks.py`; one module per stage in `stages/`.
Settings: params.yaml `score_repr:`.
"""

from scorerepro.pipeline.registry import Stage

TITLE = "seed 003: Abstreiter, Bauer & Mehrjou 2021, representation learning in a continuous-time score model"

_S = "scorerepro.papers.score_repr.stages."
STAGES = {
    "train": Stage(_S + "train", "run", "train one experiment's encoder and score network (resumes)",
                   ("experiment",), trains=True),
    "sweep": Stage(_S + "sweep", "run", "Fig. 4: single-t trainings x seeds, silhouette of the test codes"),
    "toy": Stage(_S + "toy", "run", "Eq. 6's constant on a Gaussian toy, unconditional vs code-conditioned loss"),
    "evaluate": Stage(_S + "evaluate", "run", "codes, silhouette, own/other-code denoising, Eq. 6 on images, "
                      "diversity, samples scored for the leaderboard", ("experiment",)),
    "summary": Stage(_S + "summary", "run", "results/score_repr/claims.csv, leaderboard.csv, summary.md"),
}
