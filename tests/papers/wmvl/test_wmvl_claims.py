"""The claim rules turn measured numbers into verdicts (and refuse to judge what did not run)."""

import pandas as pd

from scorerepro.papers.wmvl import claims


def test_variance_slope_recovers_power_laws():
    rows = [{"estimator": "mvl", "control_variate": cv, "eps": e, "variance": (1 / e if not cv else 3.0)}
            for e in (1e-6, 1e-5, 1e-4, 1e-3, 1e-1) for cv in (False, True)]
    assert abs(claims.variance_slope(rows, "mvl", False, 1e-3) + 1) < 1e-9
    assert abs(claims.variance_slope(rows, "mvl", True, 1e-3)) < 1e-9


def test_ordering_rows_hold_only_when_every_pair_holds_and_are_untested_without_both_models():
    df = pd.DataFrame([
        {"kind": "wae_mvl", "latent": "sphere", "latent_dim": 8, "fid_mnist_classifier": 10.0},
        {"kind": "wae_mvl", "latent": "euclidean", "latent_dim": 8, "fid_mnist_classifier": 12.0},
        {"kind": "wae_gan", "latent": "sphere", "latent_dim": 8, "fid_mnist_classifier": 9.0},
    ])
    yes = claims._ordering_row(df, "fid_mnist_classifier", {"kind": "wae_mvl", "latent": "sphere"},
                               {"kind": "wae_mvl", "latent": "euclidean"}, "c", "s", "FID")
    no = claims._ordering_row(df, "fid_mnist_classifier", {"kind": "wae_mvl", "latent": "sphere"},
                              {"kind": "wae_gan", "latent": "sphere"}, "c", "s", "FID")
    missing = claims._ordering_row(df, "fid_mnist_classifier", {"kind": "wae_gan", "latent": "euclidean"},
                                   {"kind": "wae_gan", "latent": "sphere"}, "c", "s", "FID")
    assert (yes["holds"], no["holds"], missing["holds"]) == ("yes", "no", "untested")
