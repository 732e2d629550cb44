"""ae_mcmc: Creswell, Arulkumaran & Bharath (2017), "Improving sampling from generative autoencoders with Markov
chains" (seed 001): VAE, DVAE, AAE and DAAE on one DCGAN-style encoder/decoder, sampled by decoding from the prior
(t = 0) and by the decode -> (corrupt) -> encode chain (t >= 1).

Where things are: networks `nets.py`; models, corruption and losses `autoencoders.py`; the chain, slerp and the
batch-norm modes `chain.py`; latent-space and sample measurements `measures.py`; an experiment's settings, its
initial and trained networks `experiment.py`; where its files live `locations.py`; claims `claims.py`; the paper's
(qualitative) statements `reported.py`; checks of its params block `params_checks.py`; one module per stage in
`stages/`. Settings: params.yaml `ae_mcmc:`.
"""

from scorerepro.pipeline.registry import Stage

TITLE = "seed 001: Creswell, Arulkumaran & Bharath 2017 (MCMC sampling from generative autoencoders)"

_S = "scorerepro.papers.ae_mcmc.stages."
STAGES = {
    "train": Stage(_S + "train", "run", "train one autoencoder (vae, dvae, aae, daae; resumes from its checkpoint)",
                   ("experiment",), trains=True),
    "chains": Stage(_S + "chains", "run", "MCMC chains, interpolations and their measurements for one autoencoder",
                    ("experiment",)),
    "figures": Stage(_S + "figures", "run", "sample grids at t = 0, 1, 5, 10 (Fig. 4/7), interpolations, curves"),
    "summary": Stage(_S + "summary", "run", "results/ae_mcmc/summary.*, the six claims and the leaderboard rows"),
}
