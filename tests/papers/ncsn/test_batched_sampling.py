"""scorerepro.papers.ncsn.stages.batched_sampling: sharded sampling equals one job, the divergence bounds leave a
sane chain's samples unchanged, and the speed options (channels_last, torch.compile, CUDA graphs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scorerepro.config import ParamsError, experiment, load_params
from scorerepro.papers.ncsn.experiment import model_spec
from scorerepro.papers.ncsn.stages.batched_sampling import sample_batches, sampling_score_net
from scorerepro.pipeline.common import shard_range

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def quick() -> dict:
    return load_params(REPO / "params.yaml")


class _LinearScore(torch.nn.Module):
    """A score net whose output depends on the labels, so level bookkeeping matters."""

    def forward(self, x, labels):
        return -(x - 0.5) * (1.0 + labels.view(-1, *[1] * (x.dim() - 1)).float())


def test_sharded_sampling_equals_one_job(quick):
    exp = experiment(quick, "ncsn", "fig5_mnist")
    exp["sampling"].update(n_steps_each=3, batch_size=4)
    net, dev = _LinearScore(), torch.device("cpu")
    whole, _ = sample_batches(net, exp, 0, 10, seed=3, device=dev, progress=False)
    parts = [sample_batches(net, exp, *shard_range(10, [0, 1, 2], s), seed=3, device=dev, progress=False)[0]
             for s in (0, 1, 2)]
    assert torch.equal(torch.cat(parts), whole)
    # The batch size does not change which random numbers sample j gets only when batches align; a different
    # seed must change the samples.
    other, _ = sample_batches(net, exp, 0, 10, seed=4, device=dev, progress=False)
    assert not torch.equal(other, whole)
    assert whole.min() >= 0 and whole.max() <= 1


def _sha256(t: torch.Tensor) -> str:
    import hashlib

    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def test_a_sane_chain_gives_the_samples_it_gave_before_the_divergence_bounds():
    """sample_batches now holds every chain to image_chain_bounds. The check only reads the
    state, so a sane chain's samples, snapshots and inpainted pixels are bit-identical to the code before it: the
    hashes below were made by that code (commit 2064acd) on the CPU, where these element-wise updates and the
    generator's numbers are the same on every machine."""
    from scorerepro.papers.ncsn.experiment import sigmas_of
    from scorerepro.papers.ncsn.sampling import annealed_inpaint, right_half_mask
    from scorerepro.papers.ncsn.stages.batched_sampling import image_chain_bounds

    exp = experiment(load_params(REPO / "tests" / "fixtures" / "tiny_params.yaml"), "ncsn", "tiny_ncsn")
    exp["sampling"].update(n_steps_each=4, batch_size=4)
    sig = sigmas_of(exp)

    class Net(torch.nn.Module):
        def forward(self, x, labels):
            return -(x - 0.5) / sig[labels].view(-1, 1, 1, 1) ** 2

    samples, snaps = sample_batches(Net(), exp, 0, 10, seed=3, device=torch.device("cpu"), snapshots=True,
                                    progress=False)
    assert _sha256(samples) == "49e81247ef3aa58b04a44726274e5b0759735556e9ddd6d36325925d55239660"
    assert _sha256(snaps) == "20e4bbef131e5db37275522a58817892f780296559b30d6a1c9961943033d415"
    ref = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    res = annealed_inpaint(Net(), ref, right_half_mask(ref.shape), sig, n_steps_each=4, step_lr=2e-5,
                           generator=torch.Generator().manual_seed(5), clamp_output=True,
                           bounds=image_chain_bounds(sig))
    assert _sha256(res.samples) == "56e0b1c631e023f7ade9f173b469d87758d8760eabc098368b66b3b5bc35a95c"


def test_a_refinenet_chain_is_the_same_with_and_without_the_bounds(quick):
    from scorerepro.papers.ncsn.experiment import sigmas_of
    from scorerepro.papers.ncsn.nets import build_model
    from scorerepro.papers.ncsn.sampling import annealed_langevin

    exp = experiment(quick, "ncsn", "fig5_mnist")
    exp["sampling"].update(n_steps_each=2, batch_size=3)
    torch.manual_seed(0)
    net = build_model({**model_spec(exp), "ngf": 4}).eval()
    bounded, _ = sample_batches(net, exp, 0, 3, seed=5, device=torch.device("cpu"), progress=False)
    g = torch.Generator().manual_seed(5 * 1_000_003)  # batch 0 of seed 5, as sample_batches seeds it
    x0 = torch.rand((3, 1, 28, 28), generator=g)
    with torch.no_grad():
        free = annealed_langevin(net, x0, sigmas_of(exp), 2, exp["sampling"]["step_lr"], generator=g,
                                 clamp_output=True).samples
    assert torch.equal(bounded, free)


def test_channels_last_sampling_gives_the_same_samples(quick):
    from scorerepro.papers.ncsn.nets import build_model

    exp = experiment(quick, "ncsn", "fig5_mnist")
    exp["sampling"].update(n_steps_each=2, batch_size=3)
    torch.manual_seed(0)
    net = build_model({**model_spec(exp), "ngf": 4}).eval()
    dev = torch.device("cpu")
    plain, _ = sample_batches(net, exp, 0, 3, seed=5, device=dev, progress=False)
    exp["sampling"]["channels_last"] = True
    nhwc, _ = sample_batches(net, exp, 0, 3, seed=5, device=dev, progress=False)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in net.parameters() if p.dim() == 4)
    # Same random numbers, same update; only the convolution algorithms may round differently.
    torch.testing.assert_close(nhwc, plain, atol=1e-5, rtol=0)


@pytest.mark.parametrize("options, mode", [({"compile": True}, None),
                                           ({"compile": True, "cuda_graphs": True}, "reduce-overhead")])
def test_sampling_compile_options_reach_torch_compile(monkeypatch, options, mode):
    calls = []

    def fake_compile(model, **kwargs):
        calls.append(kwargs)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    net = _LinearScore()
    assert sampling_score_net(net, {"amp_bf16": False, **options}, torch.device("cuda")) is net
    assert calls == [{"dynamic": False, "mode": mode}]
    # CUDA graphs are a CUDA feature: on the CPU the compiled network runs in the default mode.
    sampling_score_net(net, {"amp_bf16": False, **options}, torch.device("cpu"))
    assert calls[-1] == {"dynamic": False, "mode": None}


def test_cuda_graphs_without_compile_is_refused():
    with pytest.raises(ParamsError, match="cuda_graphs"):
        sampling_score_net(_LinearScore(), {"cuda_graphs": True}, torch.device("cpu"))
