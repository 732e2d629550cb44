"""Tests of the score networks (scorerepro.papers.ncsn.nets).

The expected parameter names and shapes come from a tally written here from the official code's layer
definitions (ermongroup/ncsn models/cond_refinenet_dilated.py, models/refinenet_dilated_baseline.py,
models/scorenet.py ResScore, runners/toy_runner.py), not from our modules.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from scorerepro.papers.ncsn.nets import (
    ARCHS, PRESETS, build_model, input_shape, is_conditional, normalize_spec, preset,
)
from scorerepro.papers.ncsn.nets.normalization import ConditionalInstanceNorm2dPlus, InstanceNorm2dPlus
from scorerepro.papers.ncsn.nets.refinenet_layers import RefineBlock, ResidualBlock
from scorerepro.nets.model_summary import summarize


# ----------------------------------------------------------------------------------------------------------
# Independent tally of the official RefineNet's parameters: {name: shape}, names as in the official modules.
# ----------------------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def _conv(name, cin, cout, k, bias):
    out = {f"{name}.weight": (cout, cin, k, k)}
    if bias:
        out[f"{name}.bias"] = (cout,)
    return out


def _norm_factory(cond, num_classes):
    # ConditionalInstanceNorm2dPlus: Embedding(num_classes, 3F); InstanceNorm2dPlus: alpha, gamma, beta (F,)
    def norm(name, f):
        if cond:
            return {f"{name}.embed.weight": (num_classes, 3 * f)}
        return {f"{name}.alpha": (f,), f"{name}.gamma": (f,), f"{name}.beta": (f,)}
    return norm


def _official_resblock(p, cin, cout, norm, down=False, dilation=None):
    # ConditionalResidualBlock: all convs with bias; 'down' blocks always get a shortcut conv.
    d = dict(norm(f"{p}.normalize1", cin))
    if down:
        d.update(_conv(f"{p}.conv1", cin, cin, 3, True))
        d.update(norm(f"{p}.normalize2", cin))
        if dilation is not None:
            d.update(_conv(f"{p}.conv2", cin, cout, 3, True))
            d.update(_conv(f"{p}.shortcut", cin, cout, 3, True))
        else:  # ConvMeanPool wraps its conv as .conv
            d.update(_conv(f"{p}.conv2.conv", cin, cout, 3, True))
            d.update(_conv(f"{p}.shortcut.conv", cin, cout, 1, True))
    else:
        assert cin == cout  # the official network never builds a width-changing non-down block
        d.update(_conv(f"{p}.conv1", cin, cout, 3, True))
        d.update(norm(f"{p}.normalize2", cout))
        d.update(_conv(f"{p}.conv2", cout, cout, 3, True))
    return d


def _official_rcu(p, f, n_blocks, norm):
    d = {}
    for i in range(1, n_blocks + 1):
        for j in (1, 2):
            d.update(norm(f"{p}.{i}_{j}_norm", f))
            d.update(_conv(f"{p}.{i}_{j}_conv", f, f, 3, False))
    return d


def _official_refine(p, in_planes, f, norm, start=False, end=False):
    d = {}
    for i, c in enumerate(in_planes):
        d.update(_official_rcu(f"{p}.adapt_convs.{i}", c, 2, norm))
    d.update(_official_rcu(f"{p}.output_convs", f, 3 if end else 1, norm))
    if not start:
        for i, c in enumerate(in_planes):
            d.update(_conv(f"{p}.msf.convs.{i}", c, f, 3, True))
            d.update(norm(f"{p}.msf.norms.{i}", c))
    for i in range(2):
        d.update(norm(f"{p}.crp.norms.{i}", f))
        d.update(_conv(f"{p}.crp.convs.{i}", f, f, 3, False))
    return d


def official_refinenet_params(channels, ngf, num_classes, cond=True):
    norm = _norm_factory(cond, num_classes)
    f, f2 = ngf, 2 * ngf
    d = {}
    d.update(_conv("begin_conv", channels, f, 3, True))
    d.update(norm("normalizer", f))
    d.update(_conv("end_conv", f, channels, 3, True))
    d.update(_official_resblock("res1.0", f, f, norm))
    d.update(_official_resblock("res1.1", f, f, norm))
    d.update(_official_resblock("res2.0", f, f2, norm, down=True))
    d.update(_official_resblock("res2.1", f2, f2, norm))
    d.update(_official_resblock("res3.0", f2, f2, norm, down=True, dilation=2))
    d.update(_official_resblock("res3.1", f2, f2, norm, dilation=2))
    d.update(_official_resblock("res4.0", f2, f2, norm, down=True, dilation=4))
    d.update(_official_resblock("res4.1", f2, f2, norm, dilation=4))
    d.update(_official_refine("refine1", [f2], f2, norm, start=True))
    d.update(_official_refine("refine2", [f2, f2], f2, norm))
    d.update(_official_refine("refine3", [f2, f2], f, norm))
    d.update(_official_refine("refine4", [f, f], f, norm, end=True))
    return d


def _shapes(model):
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def _meta(spec):
    with torch.device("meta"):
        return build_model(spec)


REFINENET_CASES = [
    # (preset, channels, ngf, conditional)
    ("refinenet_mnist", 1, 64, True),
    ("refinenet_cifar10", 3, 128, True),
    ("refinenet_celeba", 3, 128, True),
    ("refinenet_baseline_mnist", 1, 64, False),
    ("refinenet_baseline_cifar10", 3, 128, False),
]


@pytest.mark.parametrize("name,channels,ngf,cond", REFINENET_CASES)
def test_refinenet_parameters_equal_official_tally(name, channels, ngf, cond):
    expected = official_refinenet_params(channels, ngf, num_classes=10, cond=cond)
    model = _meta(PRESETS[name])
    got = _shapes(model)
    assert sorted(set(got) - set(expected)) == [] and sorted(set(expected) - set(got)) == []
    assert got == expected
    assert _n_params(model) == sum(math.prod(s) for s in expected.values())


def test_refinenet_parameter_totals():
    # Totals of the tally above, written out so that a change in either shows up here.
    tally = {k: sum(math.prod(s) for s in official_refinenet_params(c, g, 10, cond).values())
             for k, c, g, cond in REFINENET_CASES}
    assert tally["refinenet_mnist"] == 7_638_657
    assert tally["refinenet_cifar10"] == tally["refinenet_celeba"] == 30_117_635
    assert tally["refinenet_baseline_mnist"] == 7_443_393
    assert tally["refinenet_baseline_cifar10"] == 29_727_107


def _collect_stage_outputs(model, x, labels):
    shapes = {}
    hooks = [getattr(model, n)[-1].register_forward_hook(
        lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape[2:]))) for n in ("res1", "res2", "res3", "res4")]
    with torch.no_grad():
        out = model(x, labels)
    for h in hooks:
        h.remove()
    return out, shapes


@pytest.mark.parametrize("size,ch", [(28, 1), (32, 3)])
def test_refinenet_resolutions_and_dilations(size, ch):
    torch.manual_seed(0)
    model = build_model({"arch": "refinenet", "ngf": 8, "channels": ch, "image_size": size, "num_classes": 3})
    x = torch.rand(2, ch, size, size)
    out, shapes = _collect_stage_outputs(model, x, torch.tensor([0, 2]))
    half = size // 2
    # One downsampling (res2); the dilated stages keep the resolution; 28x28 pads nothing extra.
    assert shapes == {"res1": (size, size), "res2": (half, half), "res3": (half, half), "res4": (half, half)}
    assert out.shape == x.shape
    for stage, dil in (("res1", 1), ("res2", 1), ("res3", 2), ("res4", 4)):
        convs = [m for m in getattr(model, stage).modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
        assert convs and all(c.dilation == (dil, dil) and c.padding == (dil, dil) for c in convs), stage


def test_refinenet_maps_input_to_minus_one_one():
    torch.manual_seed(1)
    model = build_model({"arch": "refinenet", "ngf": 8, "channels": 1, "image_size": 8, "num_classes": 2})
    seen = {}

    def grab(module, inputs, output):  # returns None, so the output is left alone
        seen["x"] = inputs[0].detach().clone()

    model.begin_conv.register_forward_hook(grab)
    x = torch.rand(2, 1, 8, 8)
    model(x, torch.tensor([0, 1]))
    torch.testing.assert_close(seen["x"], 2 * x - 1, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------------------
# Instance norm++ against the formula of the official layer, computed here with numpy-free plain arithmetic.
# ----------------------------------------------------------------------------------------------------------

def _cin_pp_by_hand(x, gamma, alpha, beta):
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    mu = flat.mean(-1)                                          # (N, C)
    var_biased = ((flat - mu[..., None]) ** 2).mean(-1)         # instance norm uses the biased variance
    hnorm = (flat - mu[..., None]) / torch.sqrt(var_biased[..., None] + 1e-5)
    m = mu.mean(-1, keepdim=True)
    v_unbiased = ((mu - m) ** 2).sum(-1, keepdim=True) / (c - 1)
    mu_t = (mu - m) / torch.sqrt(v_unbiased + 1e-5)
    out = gamma[..., None] * (hnorm + alpha[..., None] * mu_t[..., None]) + beta[..., None]
    return out.reshape(n, c, h, w)


def test_conditional_instance_norm_plus_formula():
    torch.manual_seed(2)
    layer = ConditionalInstanceNorm2dPlus(5, num_classes=4).double()
    with torch.no_grad():
        layer.embed.weight.copy_(torch.randn(4, 15, dtype=torch.float64))
    x = torch.randn(3, 5, 6, 7, dtype=torch.float64) * 3 + torch.arange(5, dtype=torch.float64)[:, None, None]
    y = torch.tensor([3, 0, 3])
    emb = layer.embed.weight[y]
    expected = _cin_pp_by_hand(x, emb[:, :5], emb[:, 5:10], emb[:, 10:])
    torch.testing.assert_close(layer(x, y), expected, rtol=1e-10, atol=1e-10)


def test_instance_norm_plus_formula_ignores_labels():
    torch.manual_seed(3)
    layer = InstanceNorm2dPlus(4).double()
    with torch.no_grad():
        for p in (layer.alpha, layer.gamma, layer.beta):
            p.copy_(torch.randn(4, dtype=torch.float64))
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64) + 2
    expected = _cin_pp_by_hand(x, layer.gamma.expand(2, 4), layer.alpha.expand(2, 4), layer.beta.expand(2, 4))
    torch.testing.assert_close(layer(x, None), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(layer(x, torch.tensor([0, 1])), expected, rtol=1e-10, atol=1e-10)


def test_cin_pp_official_initialisation():
    torch.manual_seed(4)
    f = 256
    layer = ConditionalInstanceNorm2dPlus(f, num_classes=10)
    w = layer.embed.weight.detach()
    scales, beta = w[:, : 2 * f], w[:, 2 * f:]  # gamma | alpha | beta
    assert torch.equal(beta, torch.zeros_like(beta))
    assert abs(scales.mean().item() - 1.0) < 0.003          # 5120 draws of N(1, 0.02): sd of mean 0.0003
    assert 0.018 < scales.std().item() < 0.022
    seed_style = ConditionalInstanceNorm2dPlus(f, num_classes=10, scale_init_std=0.0)
    assert torch.equal(seed_style.embed.weight[:, : 2 * f], torch.ones(10, 2 * f))
    base = InstanceNorm2dPlus(f)
    assert torch.equal(base.beta, torch.zeros(f))
    assert 0.015 < base.gamma.std().item() < 0.025 and abs(base.alpha.mean().item() - 1) < 0.01


# ----------------------------------------------------------------------------------------------------------
# Forward behaviour of every network
# ----------------------------------------------------------------------------------------------------------

SMALL_SPECS = {
    "refinenet": {"arch": "refinenet", "ngf": 8, "channels": 3, "image_size": 16, "num_classes": 4},
    "refinenet_baseline": {"arch": "refinenet_baseline", "ngf": 8, "channels": 3, "image_size": 16},
    "mlp": {"arch": "mlp"},
    "mlp_cond": {"arch": "mlp", "num_classes": 4},
    "resnet_ae": {"arch": "resnet_ae", "channels": 3, "nf": 8, "image_size": 16},
    "cond_resnet": {"arch": "cond_resnet", "channels": 3, "nf": 8, "width_factor": 1, "num_classes": 4,
                    "image_size": 16},
}


def _inputs(spec, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *input_shape(spec)), generator=g)


@pytest.mark.parametrize("name", ["refinenet_mnist", "refinenet_cifar10"])
def test_full_size_refinenet_output_shape(name):
    torch.manual_seed(5)
    spec = PRESETS[name]
    model = build_model(spec)
    x = _inputs(spec, n=1)
    with torch.no_grad():
        out = model(x, torch.tensor([9]))
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("key", sorted(SMALL_SPECS))
def test_output_shape_equals_input_shape(key):
    torch.manual_seed(6)
    spec = SMALL_SPECS[key]
    model = build_model(spec)
    x = _inputs(spec)
    with torch.no_grad():
        out = model(x, torch.tensor([0, 1, 2, 3]))
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("key", ["refinenet", "mlp_cond", "cond_resnet"])
def test_conditioning_on_the_label_changes_the_output(key):
    torch.manual_seed(7)
    spec = SMALL_SPECS[key]
    assert is_conditional(spec)
    model = build_model(spec)
    x = _inputs(spec)
    with torch.no_grad():
        a = model(x, torch.zeros(4, dtype=torch.long))
        a2 = model(x, torch.zeros(4, dtype=torch.long))
        b = model(x, torch.full((4,), 3, dtype=torch.long))
    assert torch.equal(a, a2)
    assert (a - b).abs().max() > 1e-4
    with pytest.raises(ValueError, match="labels"):
        model(x)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model(x, torch.tensor([0, 1, 2, 4]))
    with pytest.raises(ValueError, match="dtype"):
        model(x, torch.zeros(4))


@pytest.mark.parametrize("key", ["refinenet_baseline", "mlp", "resnet_ae"])
def test_unconditional_networks_ignore_labels(key):
    torch.manual_seed(8)
    spec = SMALL_SPECS[key]
    assert not is_conditional(spec)
    model = build_model(spec)
    x = _inputs(spec)
    with torch.no_grad():
        a = model(x)
        b = model(x, torch.tensor([0, 1, 2, 3]))
        c = model(x, labels=None)
    assert torch.equal(a, b) and torch.equal(a, c)


def test_mlp_matches_official_toy_network():
    model = build_model(PRESETS["mlp_toy"])
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 128), (128, 128), (128, 2)]
    assert sum(isinstance(m, nn.Softplus) for m in model.modules()) == 2
    assert _n_params(model) == (2 * 128 + 128) + (128 * 128 + 128) + (128 * 2 + 2)
    # Unbounded output: the last layer is linear, so scaling its weights scales the output without limit.
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        linears[-1].weight.mul_(1e4)
        linears[-1].bias.zero_()
        assert model(x).abs().max() > 100
    cond = build_model(PRESETS["mlp_toy_cond10"])
    assert cond.main[0].in_features == 2 + 10


def _official_resscore_shapes(channels=3, nf=32):
    # models/scorenet.py ResScore: GroupNorm(8) weight+bias per conv; resizing blocks add a 3x3 stride-2 conv.
    shapes = []

    def conv(cin, cout):
        shapes.extend([(cout, cin, 3, 3), (cout,)])

    def tconv(cin, cout):  # ConvTranspose2d weight is (in, out, k, k)
        shapes.extend([(cin, cout, 3, 3), (cout,)])

    def gn(c):
        shapes.extend([(c,), (c,)])

    def block(cin, cout, resize, c=conv):
        c(cin, cout), gn(cout), c(cout, cout), gn(cout)
        if resize:
            c(cin, cout)

    conv(channels, nf)
    for cin, cout, r in [(nf, nf, 0), (nf, 2 * nf, 1), (2 * nf, 2 * nf, 0), (2 * nf, 4 * nf, 1), (4 * nf, 4 * nf, 0)]:
        block(cin, cout, r)
    for cin, cout, r in [(4 * nf, 4 * nf, 0), (4 * nf, 2 * nf, 1), (2 * nf, 2 * nf, 0), (2 * nf, nf, 1), (nf, nf, 0)]:
        block(cin, cout, r, c=tconv)
    conv(nf, channels)
    return shapes


def test_resnet_ae_matches_official_resscore_tally():
    model = _meta(PRESETS["resnet_ae_cifar10"])
    expected = _official_resscore_shapes()
    assert Counter(tuple(p.shape) for p in model.parameters()) == Counter(expected)
    assert _n_params(model) == sum(math.prod(s) for s in expected) == 1_379_651
    assert sum(isinstance(m, nn.GroupNorm) and m.num_groups == 8 for m in model.modules()) == 20


def test_resnet_ae_resizes_twice():
    torch.manual_seed(10)
    model = build_model(SMALL_SPECS["resnet_ae"])
    sizes = []
    for blk in model.encoder:
        blk.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
    with torch.no_grad():
        model(_inputs(SMALL_SPECS["resnet_ae"]))
    assert sizes == [16, 8, 8, 4, 4]


def test_cond_resnet_parameter_count_close_to_refinenet():
    refinenet = _n_params(_meta(PRESETS["refinenet_cifar10"]))
    cond = _n_params(_meta(PRESETS["cond_resnet_cifar10"]))
    assert abs(cond / refinenet - 1) < 0.15
    # The seed's factor 4 is documented as falling short of the official RefineNet.
    seed = _n_params(_meta(PRESETS["cond_resnet_cifar10_seed"]))
    assert seed < cond
    dilations = {m.dilation for m in _meta(PRESETS["cond_resnet_cifar10"]).modules()
                 if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.stride == (1, 1)}
    assert dilations == {(1, 1), (2, 2), (4, 4)}


# ----------------------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------------------

def test_all_presets_build_and_report_their_arch():
    for name, spec in PRESETS.items():
        model = _meta(spec)
        assert model.spec["arch"] == spec["arch"] in ARCHS, name


def test_build_model_rejects_bad_specs():
    with pytest.raises(ValueError, match="valid archs: refinenet"):
        build_model({"arch": "unet"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['ngff'\].*valid keys: arch, ngf"):
        build_model({"arch": "refinenet", "ngff": 64, "channels": 1, "image_size": 28, "num_classes": 10})
    with pytest.raises(ValueError, match="missing required key"):
        build_model({"arch": "refinenet", "ngf": 64})
    with pytest.raises(ValueError, match="'ngf' must be a positive int"):
        build_model({"arch": "refinenet", "ngf": 0, "channels": 1, "image_size": 28, "num_classes": 10})
    with pytest.raises(ValueError, match="whole number of filters"):
        build_model({"arch": "cond_resnet", "nf": 32, "width_factor": 4.1, "num_classes": 10})
    with pytest.raises(ValueError, match="valid presets"):
        preset("nope")
    assert normalize_spec({"arch": "mlp"}) == {"arch": "mlp", "input_dim": 2, "hidden": 128, "num_classes": None}


def test_wrong_input_shape_is_a_clear_error():
    model = build_model(SMALL_SPECS["refinenet"])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.rand(2, 1, 16, 16), torch.tensor([0, 1]))


# ----------------------------------------------------------------------------------------------------------
# Model budget
# ----------------------------------------------------------------------------------------------------------

def test_mlp_flops_equal_two_per_multiply_add():
    r = summarize(build_model(PRESETS["mlp_toy"]), (2,), labels=False)
    assert r["params"] == 17_154
    assert r["flops_per_image"] == 2 * (2 * 128 + 128 * 128 + 128 * 2)


def test_refinenet_flops_per_image():
    mnist = summarize(_meta(PRESETS["refinenet_mnist"]), (1, 28, 28), per_module=True)
    cifar = summarize(_meta(PRESETS["refinenet_cifar10"]), (3, 32, 32), batch_size=3)
    assert mnist["params"] == 7_638_657 and cifar["params"] == 30_117_635
    # Expected from the layer shapes: about 3.8 and 19.8 GFLOP per image (multiply-add = 2 FLOPs).
    assert abs(mnist["flops_per_image"] / 3.8e9 - 1) < 0.01
    assert abs(cifar["flops_per_image"] / 19.8e9 - 1) < 0.01
    assert sum(mnist["flops_per_module"].values()) == mnist["flops_per_image"]
    assert all(v > 0 for k, v in mnist["flops_per_module"].items() if k.startswith(("res", "refine")))


def test_flops_are_per_image_and_quadratic_in_width():
    # Small real (CPU) networks: for few-op graphs this is quicker than the meta device.
    torch.manual_seed(11)
    spec = {"arch": "refinenet", "ngf": 8, "channels": 3, "image_size": 16, "num_classes": 10}
    model = build_model(spec)
    one = summarize(model, (3, 16, 16), batch_size=1)["flops_per_image"]
    four = summarize(model, (3, 16, 16), batch_size=4)["flops_per_image"]
    assert one > 0 and one == four
    wide = summarize(build_model({**spec, "ngf": 16}), (3, 16, 16), batch_size=1)["flops_per_image"]
    # Doubling the width quadruples every ngf x ngf conv; the first and last convs only double.
    assert 3.7 < wide / one < 4.0
    base = summarize(build_model({**spec, "arch": "refinenet_baseline"}), (3, 16, 16), labels=False)
    assert base["flops_per_image"] == one


# ----------------------------------------------------------------------------------------------------------
# Block computations, restated from the official forward passes with plain torch ops on the blocks' weights
# ----------------------------------------------------------------------------------------------------------

def _cin_factory(n_classes=3):
    return lambda c: ConditionalInstanceNorm2dPlus(c, n_classes)


def _randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3 + (1.0 if p.dim() == 2 else 0.0))
    return module


def _mean_pool(t):
    return (t[:, :, ::2, ::2] + t[:, :, 1::2, ::2] + t[:, :, ::2, 1::2] + t[:, :, 1::2, 1::2]) / 4


def test_residual_blocks_compute_as_official():
    norm = _cin_factory()
    elu = nn.ELU()
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    y = torch.tensor([2, 0])
    for kind in ("plain", "down", "down_dilated"):
        if kind == "plain":
            blk = ResidualBlock(4, 4, norm, elu)
        elif kind == "down":
            blk = ResidualBlock(4, 6, norm, elu, resample="down")
        else:
            blk = ResidualBlock(4, 6, norm, elu, resample="down", dilation=2)
        blk = _randomise(blk.double(), seed=13)
        a = F.elu(blk.normalize1(x, y))
        if kind == "down":
            h = F.conv2d(a, blk.conv1.weight, blk.conv1.bias, padding=1)
            h = F.elu(blk.normalize2(h, y))
            h = _mean_pool(F.conv2d(h, blk.conv2.conv.weight, blk.conv2.conv.bias, padding=1))
            skip = _mean_pool(F.conv2d(x, blk.shortcut.conv.weight, blk.shortcut.conv.bias))
            assert h.shape[-1] == 4
        else:
            d = 2 if kind == "down_dilated" else 1
            h = F.conv2d(a, blk.conv1.weight, blk.conv1.bias, padding=d, dilation=d)
            h = F.elu(blk.normalize2(h, y))
            h = F.conv2d(h, blk.conv2.weight, blk.conv2.bias, padding=d, dilation=d)
            skip = x if kind == "plain" else F.conv2d(x, blk.shortcut.weight, blk.shortcut.bias, padding=d, dilation=d)
        torch.testing.assert_close(blk(x, y), skip + h, rtol=1e-12, atol=1e-12)


def test_refine_block_computes_as_official():
    norm = _cin_factory()
    blk = _randomise(RefineBlock([6, 4], 4, norm, nn.ELU(), end=True).double(), seed=14)
    x_hi = torch.randn(2, 6, 8, 8, dtype=torch.float64)
    x_lo = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    y = torch.tensor([1, 2])

    def rcu(mod, t, n_blocks):
        for i in range(1, n_blocks + 1):
            r = t
            for j in (1, 2):
                t = F.conv2d(F.elu(getattr(mod, f"{i}_{j}_norm")(t, y)), getattr(mod, f"{i}_{j}_conv").weight,
                             padding=1)
            t = t + r
        return t

    hs = [rcu(blk.adapt_convs[0], x_hi, 2), rcu(blk.adapt_convs[1], x_lo, 2)]
    fused = 0
    for k, h in enumerate(hs):  # MSF: norm, biased conv, bilinear (align_corners) resize, sum
        h = F.conv2d(blk.msf.norms[k](h, y), blk.msf.convs[k].weight, blk.msf.convs[k].bias, padding=1)
        fused = fused + F.interpolate(h, size=(8, 8), mode="bilinear", align_corners=True)
    x = F.elu(fused)  # CRP: act, then chained (norm, 5x5 average pool counting padding, bias-free conv)
    path = x
    for k in range(2):
        path = blk.crp.norms[k](path, y)
        path = F.avg_pool2d(path, 5, stride=1, padding=2, count_include_pad=True)
        path = F.conv2d(path, blk.crp.convs[k].weight, padding=1)
        x = path + x
    expected = rcu(blk.output_convs, x, 3)
    torch.testing.assert_close(blk([x_hi, x_lo], y, (8, 8)), expected, rtol=1e-12, atol=1e-12)


def test_refinenet_wiring_as_official():
    torch.manual_seed(15)
    model = build_model({"arch": "refinenet", "ngf": 4, "channels": 2, "image_size": 8, "num_classes": 3}).double()
    _randomise(model, seed=16)
    x = torch.rand(2, 2, 8, 8, dtype=torch.float64)
    y = torch.tensor([0, 2])

    def run(stage, h):
        for blk in stage:
            h = blk(h, y)
        return h

    h = model.begin_conv(2 * x - 1)
    l1 = run(model.res1, h)
    l2 = run(model.res2, l1)
    l3 = run(model.res3, l2)
    l4 = run(model.res4, l3)
    r = model.refine1([l4], y, l4.shape[2:])
    r = model.refine2([l3, r], y, l3.shape[2:])
    r = model.refine3([l2, r], y, l2.shape[2:])
    r = model.refine4([l1, r], y, l1.shape[2:])
    expected = model.end_conv(F.elu(model.normalizer(r, y)))
    torch.testing.assert_close(model(x, y), expected, rtol=1e-12, atol=1e-12)
