"""The numbers the NCSN paper and seed 000 report (CIFAR-10 and CelebA, 50k samples, TF Inception), keyed by
(dataset, metric). Only the main model (10 geometric levels, RefineNet) is what they describe."""

PAPER = {("cifar10", "is_inception_mean"): 8.87, ("cifar10", "is_inception_std"): 0.12,
         ("cifar10", "fid_inception"): 25.32}
SEED000 = {("cifar10", "is_inception_mean"): 6.5, ("cifar10", "is_inception_std"): 0.118,
           ("cifar10", "fid_inception"): 33.0, ("cifar10", "selected_iteration"): 120000,
           ("celeba", "is_inception_mean"): 3.4, ("celeba", "is_inception_std"): 0.0395,
           ("celeba", "fid_inception"): 81.5, ("celeba", "selected_iteration"): 30000}
REPORTED_FOR_ARCHS = {"refinenet"}


def describes(exp: dict) -> bool:
    """Whether the reported numbers describe this experiment's model (the 10-level geometric RefineNet)."""
    return (exp["model"]["arch"] in REPORTED_FOR_ARCHS and exp["noise"]["schedule"] == "geometric"
            and exp["noise"]["num_levels"] > 1)
