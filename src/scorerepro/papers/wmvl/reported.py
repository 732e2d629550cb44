"""Numbers seed 004 reports (Wang et al. 2020), keyed by what they describe. Table 1: MNIST test NLL (nats) by AIS,
full MNIST (60k train, 10k test), 100k iterations, mean over 10 runs. Table 2: MNIST WAE FID with a LeNet feature
extractor (not comparable with the project's MNIST-classifier FID; only orderings are). CelebA: TF Inception FID."""

# (kind, latent, latent_dim) -> test NLL in nats
TABLE1_NLL = {
    ("vae_explicit", "euclidean", 8): 96.45, ("vae_explicit", "sphere", 8): 95.47,
    ("vae_explicit", "euclidean", 32): 90.28, ("vae_explicit", "sphere", 32): 91.32,
    ("vae_implicit", "euclidean", 8): 95.84, ("vae_implicit", "sphere", 8): 94.72,
    ("vae_implicit", "euclidean", 32): 90.33, ("vae_implicit", "sphere", 32): 88.81,
}
# (kind, latent) -> LeNet FID, latent 8
TABLE2_FID = {("wae_gan", "euclidean"): 24.59, ("wae_gan", "sphere"): 19.81,
              ("wae_mvl", "euclidean"): 23.80, ("wae_mvl", "sphere"): 18.36}
CELEBA_FID = {"wae_mvl": 50.82, "wae_gan": 51.20}
SOURCE_TABLE1 = "Wang et al. 2020 Table 1 (full MNIST, AIS, 10 runs)"
SOURCE_TABLE2 = "Wang et al. 2020 Table 2 (full MNIST, LeNet FID, 10 runs)"
