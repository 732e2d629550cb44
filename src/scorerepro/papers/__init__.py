"""One package per seed paper, holding what only that paper uses (networks, losses, samplers, stages, the numbers it
reports, its claims). Shared code (core, data, metrics, nets, training, plots, stages) never imports from here.

A paper package exposes `STAGES` (its `scorerepro <paper> <stage>` subcommands) and a one-line `TITLE`; register it
in PAPERS below and it appears in the CLI, the claims table and the leaderboard.
"""

from __future__ import annotations

import importlib

# paper name -> (package, the seed file it reproduces)
PAPERS = {
    "ncsn": ("scorerepro.papers.ncsn", "seed 000: Song & Ermon 2019 (NCSN), as reproduced by its reproducibility report"),
    "ae_mcmc": ("scorerepro.papers.ae_mcmc", "seed 001: Creswell, Arulkumaran & Bharath 2017, MCMC sampling from "
                                             "generative autoencoders"),
    "infusion": ("scorerepro.papers.infusion", "seed 002: Bordes, Honari & Vincent 2017, infusion training"),
    "score_repr": ("scorerepro.papers.score_repr", "seed 003: Abstreiter, Bauer & Mehrjou 2021, representation "
                                                   "learning in a continuous-time score model"),
    "wmvl": ("scorerepro.papers.wmvl", "seed 004: Wang et al. 2020, Wasserstein minimum velocity learning"),
}


def paper_module(name: str):
    if name not in PAPERS:
        raise ValueError(f"unknown paper {name!r} (papers: {', '.join(PAPERS)})")
    return importlib.import_module(PAPERS[name][0])


def check_params(params: dict) -> list[str]:
    """Every paper's own checks of its params block (problems as indented lines naming the key)."""
    problems: list[str] = []
    for name in PAPERS:
        if name in params:
            module = importlib.import_module(PAPERS[name][0] + ".params_checks")
            problems += module.check_params(params)
    return problems
