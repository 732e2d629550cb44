"""What the paper reports. Creswell et al. report no numbers: every result is a figure (Fig. 2, 4-8). The closest
numbers are from the authors' follow-up code (ToniCreswell/DAAE_, DAAE_v1.ipynb outputs; FACTS_WAVE2 1.4): an MNIST
DAAE (2-D latent, MLP 784-1000-1000-z, sigma 0.5 corruption, 100 epochs) whose Parzen log-likelihood of 10k samples
FELL with MCMC steps. They describe another model on another data set and are shown beside ours only as context."""

FOLLOW_UP_DAAE_MNIST_PARZEN = {
    "source": "ToniCreswell/DAAE_ DAAE_v1.ipynb (MNIST DAAE, 2-D latent, MLP; not this study's model)",
    "step_0": 521.0,
    "step_8_to_9": (416.0, 420.0),
}
