import math

import pytest
import torch

from scorerepro.papers.ncsn.losses import dsm_loss, exact_score_matching_loss, ssm_loss

# Data N(m, s^2 I). The q_sigma-perturbed data is N(m, (s^2 + sigma^2) I), whose score is exact below.
# DSM at level sigma with weight sigma^2: E 0.5 sigma^2 ||s*(y) + z / sigma||^2
#   = 0.5 sigma^2 (E||z/sigma||^2 - E||s*(y)||^2) = d/2 * s^2 / (s^2 + sigma^2).
S = 0.7


def _gaussian_data(n, shape, g):
    m = torch.linspace(-1.0, 1.5, math.prod(shape), dtype=torch.float64).reshape(shape)
    return m, m + S * torch.randn((n, *shape), generator=g, dtype=torch.float64)


def _exact_net(m, sigmas):
    def net(y, labels):
        var = S**2 + sigmas[labels] ** 2
        return -(y - m) / var.view(-1, *([1] * (y.dim() - 1)))

    return net


def _closed_form(d, sigma, power=2.0):
    return 0.5 * d * S**2 / (S**2 + sigma**2) * sigma ** (power - 2.0)


def _within(values, expected, k=4.0):
    mean = values.mean().item()
    se = values.std().item() / math.sqrt(values.numel())
    assert abs(mean - expected) < k * se, f"mean {mean} vs closed form {expected} (SE {se})"
    return se


@pytest.mark.parametrize("shape", [(3,), (1, 4, 4)])
def test_dsm_exact_score_reaches_closed_form_minimum_per_level(shape):
    g = torch.Generator().manual_seed(0)
    sigmas = torch.tensor([2.0, 0.5, 0.1], dtype=torch.float64)
    d = math.prod(shape)
    for level, sigma in enumerate(sigmas.tolist()):
        m, x = _gaussian_data(40_000, shape, g)
        labels = torch.full((x.shape[0],), level, dtype=torch.long)
        per = dsm_loss(_exact_net(m, sigmas), x, sigmas, labels=labels, generator=g, reduction="none")
        assert per.shape == (x.shape[0],)
        _within(per, _closed_form(d, sigma))


def test_dsm_random_levels_average_the_levels_and_anneal_power():
    g = torch.Generator().manual_seed(1)
    sigmas = torch.tensor([3.0, 1.0, 0.3, 0.1], dtype=torch.float64)
    m, x = _gaussian_data(80_000, (2,), g)
    net = _exact_net(m, sigmas)
    per = dsm_loss(net, x, sigmas, generator=g, reduction="none")
    _within(per, sum(_closed_form(2, s) for s in sigmas.tolist()) / 4)
    # anneal_power 0: no weighting; the small-sigma levels dominate, as 1/sigma^2.
    per0 = dsm_loss(net, x, sigmas, anneal_power=0.0, generator=g, reduction="none")
    _within(per0, sum(_closed_form(2, s, power=0.0) for s in sigmas.tolist()) / 4)


def test_dsm_wrong_score_costs_exactly_the_fisher_gap():
    # DSM = explicit score matching + constant, so a score off by a constant c costs 0.5 sigma^2 ||c||^2 more.
    sigmas = torch.tensor([1.5], dtype=torch.float64)
    m, x = _gaussian_data(40_000, (3,), torch.Generator().manual_seed(20))
    c = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    exact = _exact_net(m, sigmas)
    wrong = lambda y, labels: exact(y, labels) + c  # noqa: E731
    good = dsm_loss(exact, x, sigmas, generator=torch.Generator().manual_seed(3), reduction="none")
    bad = dsm_loss(wrong, x, sigmas, generator=torch.Generator().manual_seed(3), reduction="none")
    assert bad.mean() > good.mean()
    _within(bad - good, 0.5 * 1.5**2 * (c**2).sum().item())
    _within(good, _closed_form(3, 1.5))


def test_dsm_mean_reduction_labels_and_gradients():
    g = torch.Generator().manual_seed(4)
    sigmas = torch.tensor([1.0, 0.1])
    x = torch.rand(8, 1, 4, 4, generator=g)
    seen = {}
    net = torch.nn.Conv2d(1, 1, 3, padding=1)

    def score_net(y, labels):
        seen["labels"] = labels
        return net(y)

    loss = dsm_loss(score_net, x, sigmas, generator=g)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert seen["labels"].dtype == torch.long and seen["labels"].shape == (8,)
    assert set(seen["labels"].tolist()) <= {0, 1}
    loss.backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"labels must have shape \(8,\).*\(3,\)"):
        dsm_loss(score_net, x, sigmas, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="returned shape"):
        dsm_loss(lambda y, labels: y[:, :, :2], x, sigmas)


# A nonlinear score with a closed-form Jacobian trace: s(x) = A tanh(W x + b) - x,
# tr(ds/dx) = sum_k (1 - tanh(u_k)^2) (W A)_kk - d.
def _nonlinear(d=3, seed=5):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(4, d, generator=g, dtype=torch.float64)
    A = torch.randn(d, 4, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)

    def score(x):
        return torch.tanh(x @ W.T + b) @ A.T - x

    def exact_sm(x):
        t = torch.tanh(x @ W.T + b)
        trace = ((1 - t**2) * torch.diagonal(W @ A)).sum(1) - d
        return trace + 0.5 * (score(x) ** 2).sum(1)

    return score, exact_sm


def test_exact_score_matching_matches_closed_form_trace():
    score, exact_sm = _nonlinear()
    x = torch.randn(500, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    ours = exact_score_matching_loss(score, x, reduction="none")
    torch.testing.assert_close(ours, exact_sm(x), rtol=1e-12, atol=1e-12)
    # Elementwise score on images: tr J = sum f'(x_i) with f(x) = sin(x) - x^3.
    xi = torch.randn(50, 1, 2, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    f = lambda t: torch.sin(t) - t**3  # noqa: E731
    ref = (torch.cos(xi) - 3 * xi**2).reshape(50, -1).sum(1) + 0.5 * (f(xi) ** 2).reshape(50, -1).sum(1)
    torch.testing.assert_close(exact_score_matching_loss(f, xi, reduction="none"), ref)
    with pytest.raises(ValueError, match="dimension 4 > max_dim=3"):
        exact_score_matching_loss(f, xi, max_dim=3)


@pytest.mark.parametrize("variance_reduced", [False, True])
@pytest.mark.parametrize("n_particles", [1, 3])
def test_ssm_agrees_with_exact_score_matching(variance_reduced, n_particles):
    score, exact_sm = _nonlinear()
    x = torch.randn(20_000, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64) * 1.5
    g = torch.Generator().manual_seed(9)
    ssm = ssm_loss(score, x, n_particles=n_particles, variance_reduced=variance_reduced, generator=g,
                   reduction="none")
    assert ssm.shape == (20_000,)
    # Per-sample difference: its mean is 0 in expectation over the projections.
    _within(ssm - exact_sm(x), 0.0)


def test_ssm_on_image_shaped_data():
    f = lambda t: torch.sin(t) - t**3  # noqa: E731
    x = torch.randn(20_000, 1, 2, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    exact = exact_score_matching_loss(f, x, reduction="none")
    for vr in (False, True):
        ssm = ssm_loss(f, x, variance_reduced=vr, generator=torch.Generator().manual_seed(11), reduction="none")
        _within(ssm - exact, 0.0)


@pytest.mark.parametrize("variance_reduced", [False, True])
def test_ssm_trains_a_gaussian_score_model_to_the_data(variance_reduced):
    # Model s(x) = -(x - mu) / exp(log_v); the score-matching optimum is the data mean and variance. The
    # log_v gradient runs through the trace term, so this fails without create_graph.
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(12)
    mu = torch.zeros(2, requires_grad=True)
    log_v = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([mu, log_v], lr=0.05)
    true_mean, true_std = torch.tensor([1.0, -2.0]), 0.5
    for _ in range(400):
        x = true_mean + true_std * torch.randn(256, 2, generator=g)
        loss = ssm_loss(lambda y: -(y - mu) / log_v.exp(), x, variance_reduced=variance_reduced, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.testing.assert_close(mu.detach(), true_mean, atol=0.08, rtol=0)
    assert log_v.exp().item() == pytest.approx(true_std**2, rel=0.15)


def test_ssm_inside_no_grad_and_bad_particles():
    score, _ = _nonlinear()
    x = torch.randn(10, 3, dtype=torch.float64)
    with torch.no_grad():
        assert torch.isfinite(ssm_loss(score, x))
    with pytest.raises(ValueError, match="n_particles must be a positive integer, got 0"):
        ssm_loss(score, x, n_particles=0)
