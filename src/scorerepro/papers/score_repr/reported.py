"""What seed 003 reports. The paper has no tables and no public code: its evidence is figures, so what it reports
is a statement per figure (the source column of claims.csv), with the data it was shown on. There is no reported
sample metric (FID, IS) to put beside the leaderboard row."""

STATEMENTS = {
    "codes": ("Figs. 2, 5, 6 (MNIST, CIFAR-10): with t uniform, one code coordinate follows stroke width and the other "
              "weakly the class (MNIST)"),
    "silhouette_vs_t": ("Fig. 4 (MNIST, CIFAR-10 3 classes): silhouette of the codes, against the single training t, "
                        "is near zero at small t, higher at intermediate t and falls again at large t"),
    "sigma_uniform": "Figs. 3, 7 (MNIST, CIFAR-10), section 3.2.1: training on high noise (sigma uniform) gives class "
                     "clusters in the code",
    "constant_toy": "Eq. 6 (section 2.2): the DSM objective has a non-vanishing constant an unconditional model cannot "
                    "go below; a code of x_0 lets the loss fall below it (Gaussian toy, closed form)",
    "constant_images": "Eq. 6 (section 2.2), on the images the models train on",
    "denoise_gap": "Fig. 10 (MNIST): denoising x_t with another image's code fails, with its own code succeeds",
    "diversity": "Fig. 11 (MNIST): the diversity of samples for one fixed code falls as the code dimension grows",
}
