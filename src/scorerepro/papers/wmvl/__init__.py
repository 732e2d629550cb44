"""WMVL: Wang, Cheng, Li, Zhu & Zhang (AISTATS 2020), "A Wasserstein minimum velocity approach to learning
unnormalized models" (seed 004).

Where things are: estimators (MVL, variance-reduced DSM, CD-1 with the control variate, SSM, exact SM)
`estimators.py`; Langevin on S^n in a stereographic chart and Riemannian MVL `sphere.py`; energy networks
`energies.py`; VAEs/WAEs with Euclidean or hyperspherical latents `autoencoders.py`; AIS `ais.py`; the synthetic
experiments `synthetic_studies.py` and their figures `plots.py`; an experiment's settings, images and initial
networks `experiment.py`; where its files live `locations.py`; the paper's numbers `reported.py`; claims
`claims.py`; checks of its params block `params_checks.py`; one module per stage in `stages/`. Settings: params.yaml
`wmvl:` (synthetic, defaults, experiments, claims).
"""

from scorerepro.pipeline.registry import Stage

TITLE = "seed 004: Wang et al. 2020, Wasserstein minimum velocity learning (WMVL)"

_S = "scorerepro.papers.wmvl.stages."
STAGES = {
    "synthetic": Stage(_S + "synthetic", "run", "one synthetic experiment: banana, cosine, circle or sphere",
                       ("study",)),
    "train": Stage(_S + "train", "run", "train one MNIST VAE/WAE (resumes from its last checkpoint)", ("experiment",),
                   trains=True),
    "evaluate": Stage(_S + "evaluate", "run", "AIS test NLL (VAEs) and classifier FID/IS of decoded prior draws",
                      ("experiment",)),
    "summary": Stage(_S + "summary", "run", "results/wmvl/summary.*, this paper's claims and leaderboard rows"),
}
