"""Tests for scorerepro.training.train_loop: named networks and optimisers, alternating adversarial updates,
exact resume with two optimisers, EMA on one of two networks, checkpoint contents, and `train` pinned to the
numbers of the single-network loop it replaced."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
import torch
from torch import nn

from scorerepro import training as T
from scorerepro.training import (LoopConfig, NonFiniteLossError, OptimizerSpec, TrainConfig, load_checkpoint,
                                 load_model_weights, train, train_loop)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

M = torch.tensor([1.5, -2.0, 0.5])  # the data mean the generator must learn
RECORD = {"experiment": "toy-gan", "data_mean": M.tolist()}


class Offset(nn.Module):
    """A generator that is a learned point: G(n) = n copies of b."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.b = nn.Parameter(torch.zeros(dim))

    def forward(self, n: int) -> torch.Tensor:
        return self.b.expand(n, -1)


class Linear(nn.Module):
    """A linear critic D(x) = x . w (no bias: it would have no gradient in this game)."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


class MeanM:
    """Global batches whose mean is M: rows m + e and m - e for the same random e (antithetic)."""

    def __init__(self, batch_size: int) -> None:
        self.half = batch_size // 2

    def batch_for_step(self, step, generator):
        e = torch.randn(self.half, len(M), generator=generator)
        return torch.cat([M + e, M - e])


def gan_step(ctx):
    """One alternating update: the critic on its loss, then the generator against the updated critic."""
    real = ctx.batch
    fake = ctx.nets["gen"](real.shape[0])
    n = real.shape[0]
    # The critic sees real and fake rows in one call: DDP expects one forward per backward.
    scores = ctx.nets["disc"](torch.cat([real, fake.detach()]))
    d_loss = scores[n:].mean() - scores[:n].mean()
    ctx.update("disc", d_loss)
    g_loss = -ctx.nets["disc"](fake).mean()
    ctx.update("gen", g_loss)
    return {"disc": d_loss, "gen": g_loss}


def gan_run(out, n_iters, kind="sgd", step_fn=gan_step, ema=None, **kw):
    torch.manual_seed(0)
    if kind == "sgd":
        # Critic weight decay lam is the L2 regulariser: with it the game is a damped oscillator whose unique
        # fixed point is b = M, w = 0; alternating SGD contracts towards it by sqrt(1 - lr * lam) per step.
        opts = {"disc": OptimizerSpec(["disc"], kind="sgd", lr=0.1, weight_decay=1.0),
                "gen": OptimizerSpec(["gen"], kind="sgd", lr=0.1)}
    else:
        opts = {"disc": OptimizerSpec(["disc"], lr=0.05, betas=(0.5, 0.9), weight_decay=1.0),
                "gen": OptimizerSpec(["gen"], lr=0.05, betas=(0.5, 0.9))}
    base = dict(n_iters=n_iters, batch_size=8, snapshot_freq=5, log_freq=4, seed=1, device="cpu", progress=False)
    base.update(kw)
    return train_loop({"gen": Offset(), "disc": Linear()}, opts, step_fn, MeanM(8), LoopConfig(**base), out,
                      RECORD, ema=ema)


def state(res):
    return {f"{n}.{k}": v.detach().clone() for n, net in res.networks.items() for k, v in net.state_dict().items()}


def assert_bitwise(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_alternating_updates_converge_to_the_analytic_fixed_point(tmp_path):
    one = gan_run(tmp_path / "one", 1)
    # Alternation, not simultaneous steps: from w = b = 0 the critic moves first (w1 = lr * M), then the
    # generator follows the UPDATED critic (b1 = lr * w1); simultaneous updates would leave b1 = 0.
    torch.testing.assert_close(one.networks["disc"].w.detach(), 0.1 * M, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(one.networks["gen"].b.detach(), 0.01 * M, rtol=1e-5, atol=1e-6)

    res = gan_run(tmp_path / "many", 300, snapshot_freq=100, log_freq=50)
    torch.testing.assert_close(res.networks["gen"].b.detach(), M, rtol=0, atol=1e-4)
    torch.testing.assert_close(res.networks["disc"].w.detach(), torch.zeros(3), rtol=0, atol=1e-4)
    # At the fixed point the critic's scores of real and fake data agree: both losses go to 0.
    assert abs(res.last_losses["disc"]) < 1e-4 and abs(res.last_losses["gen"]) < 1e-3


def test_two_optimisers_resume_bitwise_with_ema_on_one_network(tmp_path):
    ema = {"gen": 0.8}
    ref = gan_run(tmp_path / "ref", 12, kind="adam", ema=ema)

    # Stop after 6 updates by n_iters, then raise n_iters: the run continues from its checkpoint at 6.
    part = gan_run(tmp_path / "ext", 6, kind="adam", ema=ema)
    assert part.step == 6 and T.is_complete(tmp_path / "ext")
    res = gan_run(tmp_path / "ext", 12, kind="adam", ema=ema)
    assert res.start_step == 6 and res.step == 12

    # Killed in the middle of update 9 (between the two optimiser steps), then resumed from the checkpoint at 5.
    def dies_at_9(ctx):
        if ctx.step == 9:
            ctx.update("disc", ctx.nets["disc"](ctx.batch).mean())
            raise KeyboardInterrupt
        return gan_step(ctx)

    with pytest.raises(KeyboardInterrupt):
        gan_run(tmp_path / "kill", 12, kind="adam", ema=ema, step_fn=dies_at_9)
    assert [s for s, _ in T.list_checkpoints(tmp_path / "kill")] == [5]
    killed = gan_run(tmp_path / "kill", 12, kind="adam", ema=ema)
    assert killed.start_step == 5

    want = load_checkpoint(tmp_path / "ref" / "final.pt")
    for name, got_res in (("ext", res), ("kill", killed)):
        assert_bitwise(state(got_res), state(ref))
        got = load_checkpoint(tmp_path / name / "final.pt")
        for opt in ("disc", "gen"):
            for i, st in want["optimizers"][opt]["state"].items():
                for k, v in st.items():
                    assert torch.equal(got["optimizers"][opt]["state"][i][k], v), (name, opt, k)
        assert_bitwise(got["ema_states"]["gen"]["state"], want["ema_states"]["gen"]["state"])
        assert (tmp_path / name / "loss.csv").read_text() == (tmp_path / "ref" / "loss.csv").read_text()

    # EMA on the generator only: its average lags the trained weights; the critic has none.
    assert set(ref.emas) == {"gen"}
    assert not torch.equal(ref.ema_network("gen").b, ref.networks["gen"].b)
    with pytest.raises(ValueError, match="'disc' kept no EMA"):
        ref.ema_network("disc")


def test_checkpoint_holds_every_named_network_optimiser_and_ema(tmp_path):
    res = gan_run(tmp_path, 5, kind="adam", ema={"gen": 0.5})
    ck = load_checkpoint(tmp_path / "checkpoints" / "checkpoint_5.pt")
    assert ck["format_version"] == T.FORMAT_VERSION == 2
    assert set(ck["networks"]) == {"gen", "disc"} and set(ck["optimizers"]) == {"gen", "disc"}
    assert set(ck["ema_states"]) == {"gen"} and ck["ema_states"]["gen"]["rate"] == 0.5
    assert "model" not in ck  # the version-1 aliases are only for single-network runs
    assert_bitwise({f"{n}.{k}": v for n, sd in ck["networks"].items() for k, v in sd.items()}, state(res))
    assert ck["optimizers"]["disc"]["param_groups"][0]["weight_decay"] == 1.0
    assert ck["train_config"]["optimizers"]["gen"]["params_of"] == ["gen"]
    assert ck["train_config"]["ema"] == {"gen": 0.5} and ck["train_config"]["networks"] == ["disc", "gen"]
    assert ck["checksum"]["algorithm"] == "sha256" and ck["checksum"]["value"] == T.checksum(ck)
    with open(tmp_path / "loss.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "disc", "gen", "lr_disc", "lr_gen"]
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3, 4, 5]
    # One network's weights out of a multi-network checkpoint, EMA or trained.
    g = load_model_weights(Offset(), tmp_path / "final.pt", network="gen", which="model")
    assert torch.equal(g.b, res.networks["gen"].b)
    with pytest.raises(ValueError, match=r"holds networks \['disc', 'gen'\]"):
        load_model_weights(Offset(), tmp_path / "final.pt")


def test_non_finite_stop_watches_every_named_loss(tmp_path):
    def step(ctx):
        out = gan_step(ctx)
        return {**out, "gen": out["gen"] * float("nan")} if ctx.step == 6 else out

    with pytest.raises(NonFiniteLossError, match=r"'gen' is nan at step 6\b") as err:
        gan_run(tmp_path, 10, step_fn=step, snapshot_freq=8, log_freq=5)
    assert err.value.step == 6 and err.value.name == "gen"
    assert [s for s, _ in T.list_checkpoints(tmp_path)] == []


def test_one_optimiser_over_two_networks_and_a_frozen_one(tmp_path):
    """Joint encoder + score training: one loss, one optimiser spanning both; a frozen network is saved too."""
    torch.manual_seed(0)
    enc, score, frozen = nn.Linear(4, 2), nn.Linear(2, 4), nn.Linear(4, 4)
    before = {n: m.weight.detach().clone() for n, m in (("enc", enc), ("score", score), ("frozen", frozen))}

    def step(ctx):
        x = ctx.nets["frozen"](ctx.batch).detach()
        loss = ((ctx.nets["score"](ctx.nets["enc"](x)) - x) ** 2).mean()
        ctx.update("joint", loss)
        return {"loss": loss}

    cfg = LoopConfig(n_iters=4, batch_size=6, snapshot_freq=2, device="cpu", progress=False)
    res = train_loop({"enc": enc, "score": score, "frozen": frozen},
                     {"joint": OptimizerSpec(["enc", "score"], lr=0.01)}, step,
                     lambda i, g: torch.randn(6, 4, generator=g), cfg, tmp_path, {"e": "joint"})
    assert not torch.equal(res.networks["enc"].weight, before["enc"])
    assert not torch.equal(res.networks["score"].weight, before["score"])
    assert torch.equal(res.networks["frozen"].weight, before["frozen"])
    ck = load_checkpoint(tmp_path / "final.pt")
    assert set(ck["networks"]) == {"enc", "score", "frozen"} and set(ck["optimizers"]) == {"joint"}
    assert len(ck["optimizers"]["joint"]["state"]) == 4  # weight and bias of enc, then of score
    assert (tmp_path / "loss.csv").read_text().splitlines()[0] == "step,loss,lr"


def test_bad_specs_are_refused_with_names(tmp_path):
    cfg = LoopConfig(n_iters=1, batch_size=2, device="cpu", progress=False)
    nets = {"gen": Offset(), "disc": Linear()}
    with pytest.raises(ValueError, match=r"optimiser 'g' trains \['generator'\]"):
        train_loop(nets, {"g": OptimizerSpec(["generator"])}, gan_step, MeanM(2), cfg, tmp_path, {})
    with pytest.raises(ValueError, match=r"OptimizerSpec.momentum=0.9.*kind='sgd'"):
        OptimizerSpec(["gen"], momentum=0.9)
    with pytest.raises(ValueError, match=r"ema asks to average network 'critic'"):
        train_loop(nets, {"g": OptimizerSpec(["gen"])}, gan_step, MeanM(2), cfg, tmp_path, {}, ema={"critic": 0.9})

    def no_update(ctx):
        return {"x": ctx.nets["disc"](ctx.batch).mean()}

    with pytest.raises(T.TrainingError, match="no ctx.update"):
        train_loop(nets, {"d": OptimizerSpec(["disc"])}, no_update, MeanM(2), cfg, tmp_path / "n", {})

    def wrong_name(ctx):
        ctx.update("critic", ctx.nets["disc"](ctx.batch).mean())
        return {}

    with pytest.raises(ValueError, match=r"no optimiser of that name; it has \['d'\]"):
        train_loop(nets, {"d": OptimizerSpec(["disc"])}, wrong_name, MeanM(2), cfg, tmp_path / "w", {})


# ----------------------------------------------------------------------------------------------- train() pinned


class TinyConvScore(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.GroupNorm(2, 8)
        self.drop = nn.Dropout(0.1)  # draws from the global torch RNG, which resume must restore
        self.c2 = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x, labels):
        h = self.drop(nn.functional.elu(self.norm(self.c1(x))))
        return self.c2(h) / (1 + labels.float().view(-1, 1, 1, 1))


class Images:
    def batch_for_step(self, step, generator):
        return torch.rand(8, 3, 8, 8, generator=generator) * 2 - 1


CONV_SIGMAS = torch.tensor([1.0, 0.5, 0.1])


def conv_dsm(model, x, rng):
    labels = rng.randint(len(CONV_SIGMAS))
    s = CONV_SIGMAS[labels].view(-1, 1, 1, 1)
    z = rng.randn_like(x)
    per = ((model(x + s * z, labels) + z / s) ** 2).flatten(1).sum(1) * s.flatten() ** 2
    # numpy and python `random` too, so that their states are part of what must resume.
    return 0.5 * per.mean() * (1 + 1e-3 * (np.random.rand() + random.random()))


def test_train_reproduces_the_single_network_loop_it_replaced(tmp_path):
    """The numbers below were written by the previous single-network implementation (scorerepro/training.py
    before train_loop, one torch thread) for this exact run; the new `train` gave the same weights, optimiser
    state, EMA and loss.csv to the bit (checked side by side when the loop was generalised). The tolerance only
    absorbs convolution-kernel differences between CPUs; any change of step order, seeding, RNG restore or
    logging moves these numbers by orders of magnitude more."""
    cfg = TrainConfig(n_iters=20, batch_size=8, snapshot_freq=10, log_freq=3, ema_rate=0.9, seed=4, device="cpu",
                      progress=False)

    def killed_at(n):
        calls = {"n": 0}

        def fn(model, x, rng):
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt
            return conv_dsm(model, x, rng)

        return fn

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train(TinyConvScore(), killed_at(14), Images(), cfg, tmp_path / "run", {"e": "conv"})
    torch.manual_seed(0)
    res = train(TinyConvScore(), conv_dsm, Images(), cfg, tmp_path / "run", {"e": "conv"})
    assert res.start_step == 10 and res.step == 20

    ck = load_checkpoint(tmp_path / "run" / "final.pt")
    rows = (tmp_path / "run" / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,loss,lr" and len(rows) == 21
    close = dict(rtol=1e-5, atol=1e-7)
    got_loss = [float(rows[i].split(",")[1]) for i in (1, 10, 20)]
    torch.testing.assert_close(got_loss, [99.36751556396484, 94.19509887695312, 84.82457733154297], **close)
    assert [rows[i].split(",")[2] for i in (1, 20)] == ["0.001", "0.001"]
    torch.testing.assert_close(ck["model"]["c1.weight"].flatten()[:3].tolist(),
                               [0.00030074146343395114, 0.08531346172094345, -0.16383565962314606], **close)
    torch.testing.assert_close(ck["ema"]["state"]["c2.bias"].tolist(),
                               [-0.10255185514688492, -0.12328334897756577, -0.01829155720770359], **close)
    torch.testing.assert_close(ck["optimizer"]["state"][0]["exp_avg_sq"].flatten()[:2].tolist(),
                               [0.009437483735382557, 0.1750764399766922], **close)
    assert ck["ema"]["num_updates"] == 20 and ck["optimizer"]["state"][0]["step"].item() == 20


def test_under_bf16_autocast_the_generator_sees_the_critic_it_just_updated(tmp_path):
    # Autocast caches low-precision copies of the weights; a second forward in the same step must not reuse the
    # critic's pre-update copy (with it, the generator's first step would be b1 = 0 instead of lr * w1).
    one = gan_run(tmp_path, 1, amp_dtype="bfloat16")
    torch.testing.assert_close(one.networks["disc"].w.detach(), 0.1 * M, rtol=2e-2, atol=1e-4)
    torch.testing.assert_close(one.networks["gen"].b.detach(), 0.01 * M, rtol=2e-2, atol=1e-4)
