"""Stage `score_repr train <experiment>`: train an experiment's encoder and score network (resumes from its last
checkpoint; models/score_repr/<experiment>/ is a persistent output)."""

from __future__ import annotations

from scorerepro.papers.score_repr.experiment import experiment_settings, set_threads
from scorerepro.papers.score_repr.locations import model_dir
from scorerepro.papers.score_repr.training import train_experiment


def run(params: dict, experiment: str) -> None:
    set_threads(params)
    exp = experiment_settings(params, experiment)
    result = train_experiment(params, exp, model_dir(exp["name"]))
    print(f"score_repr train {exp['name']}: done, last checkpoint {result.final_checkpoint}")
