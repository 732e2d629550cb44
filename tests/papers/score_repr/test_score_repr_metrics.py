"""The silhouette of the codes against an independent computation (its definition over scipy's distance matrix),
the diversity measure, and the own-code/other-code derangement."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from scorerepro.papers.score_repr.stages.evaluate import denoising_losses, mean_pairwise_distance
from scorerepro.papers.score_repr.stages.sweep import chance_silhouette, silhouette_of_codes
from scorerepro.papers.score_repr.sde import VESDE


def silhouette_by_definition(x: np.ndarray, labels: np.ndarray) -> float:
    d = cdist(x, x)
    s = []
    for i in range(len(x)):
        same = labels == labels[i]
        if same.sum() == 1:
            s.append(0.0)
            continue
        a = d[i, same].sum() / (same.sum() - 1)
        b = min(d[i, labels == c].mean() for c in set(labels) - {labels[i]})
        s.append((b - a) / max(a, b))
    return float(np.mean(s))


def test_silhouette_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (120,), generator=g)
    codes = torch.randn(120, 2, generator=g) + labels[:, None].float() * 0.8
    assert silhouette_of_codes(codes, labels) == pytest.approx(silhouette_by_definition(codes.numpy().astype(float),
                                                                                         labels.numpy()), abs=1e-6)
    assert np.isnan(silhouette_of_codes(codes, None))


def test_chance_silhouette_is_negative_for_ten_classes_and_below_real_clusters():
    """Codes that carry no class information score the chance level, which is well below 0 for 10 classes (the
    b(i) of a point is a minimum over 9 other clusters): the reason "near zero" is judged against it. Codes with
    real clusters score far above it."""
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(10).repeat(40)
    noise_codes = torch.randn(400, 2, generator=g)
    chance = chance_silhouette(noise_codes, labels)
    assert -0.35 < chance < -0.05
    assert silhouette_of_codes(noise_codes, labels) == pytest.approx(chance, abs=0.05)
    centres = torch.randn(10, 2, generator=g) * 5
    clustered = centres[labels] + 0.5 * torch.randn(400, 2, generator=g)
    assert silhouette_of_codes(clustered, labels) > chance_silhouette(clustered, labels) + 0.3
    assert np.isnan(chance_silhouette(noise_codes, None))


def test_mean_pairwise_distance():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert mean_pairwise_distance(x) == pytest.approx((5 + 4 + 3) / 3)


def test_denoising_with_other_codes_never_uses_the_own_code():
    """A score net that is exact only when given the image's own code (z = x_0): the own-code loss is the kernel's
    optimum 0 at every t and any other image's code does worse."""
    sde = VESDE(0.01, 50.0)

    class Oracle(torch.nn.Module):
        def forward(self, x, sigma, z):
            return -(x - z.reshape(x.shape)) / sigma.reshape(-1, 1, 1, 1) ** 2

    g = torch.Generator().manual_seed(0)
    images = torch.rand(9, 1, 2, 2, generator=g)
    codes = images.flatten(1)
    own, other = denoising_losses(Oracle(), sde, images, codes, [0.2, 0.6], g)
    assert float(own.max()) < 1e-10
    assert float(other.min()) > 0


def test_per_point_silhouettes_average_to_the_silhouette_and_its_chance_level():
    from scorerepro.papers.score_repr.stages.sweep import chance_silhouette_points, silhouette_points

    g = torch.Generator().manual_seed(3)
    labels = torch.arange(60) % 3
    codes = torch.randn(60, 2, generator=g) + labels[:, None].float()
    assert silhouette_points(codes, labels).mean() == pytest.approx(silhouette_of_codes(codes, labels))
    assert chance_silhouette_points(codes, labels, seed=5).mean() == pytest.approx(
        chance_silhouette(codes, labels, seed=5))


def test_a_zero_score_network_scores_the_zero_score_loss():
    from scorerepro.papers.score_repr.sde import VESDE
    from scorerepro.papers.score_repr.stages.sweep import dsm_loss_at_t

    images = torch.rand(16, 1, 8, 8)
    model, zero = dsm_loss_at_t(lambda x, sigma, z: torch.zeros_like(x), VESDE(0.01, 50.0), images, 0.5, None, 1)
    assert model == pytest.approx(zero) and zero == pytest.approx(1.0, abs=0.1)
