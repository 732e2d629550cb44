"""DDP training: 2 CPU processes on gloo (launched with torchrun) match one process on the same global batch."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from scorerepro.core.distributed import (DistContext, all_reduce_mean, broadcast_object, find_free_port,
                                        shard_bounds, wrap_ddp)
from scorerepro.training import load_checkpoint

SRC = Path(__file__).resolve().parents[2] / "src"

# Written to a file so torchrun can run it; the test imports the same file for the single-process reference,
# so model, data and loss are defined once.
WORKER = textwrap.dedent('''
    import faulthandler
    import sys

    import torch
    from torch import nn

    from scorerepro.training import LoopConfig, OptimizerSpec, TrainConfig, train, train_loop

    SIGMAS = torch.tensor([1.0, 0.3, 0.1])
    RECORD = {"experiment": "ddp-test"}


    def make_model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(2, 32), nn.ELU(), nn.Linear(32, 2))


    class Data:
        def __init__(self, batch_size):
            self.batch_size = batch_size

        def batch_for_step(self, step, generator):
            # The global batch, the same on every rank; its randomness comes only from the step's generator.
            return torch.randn(self.batch_size, 2, generator=generator) * 2 + 1


    def loss(model, x, rng):
        # Per-sample noise levels and noise drawn for the global batch and sliced by StepRNG.
        labels = rng.randint(len(SIGMAS))
        s = SIGMAS[labels].unsqueeze(1)
        z = rng.randn_like(x)
        return (0.5 * ((model(x + s * z) + z / s) ** 2).sum(1) * s.squeeze(1) ** 2).mean()


    def config(n_iters, batch_size=8):
        return TrainConfig(n_iters=n_iters, batch_size=batch_size, snapshot_freq=2, log_freq=1, ema_rate=0.5,
                           seed=3, device="cpu", progress=False)


    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, z):
            return self.lin(z)


    def gan_step(ctx):
        """Alternating adversarial update; the critic is called once per backward, as DDP requires."""
        real = ctx.batch
        fake = ctx.nets["gen"](ctx.rng.randn(2))  # per-sample latent noise, sliced like the batch
        scores = ctx.nets["disc"](torch.cat([real, fake.detach()])).squeeze(1)
        n = real.shape[0]
        d_loss = nn.functional.softplus(-scores[:n]).mean() + nn.functional.softplus(scores[n:]).mean()
        ctx.update("disc", d_loss)
        g_loss = nn.functional.softplus(-ctx.nets["disc"](fake)).mean()
        ctx.update("gen", g_loss)
        return {"disc": d_loss, "gen": g_loss}


    def gan(out, n_iters):
        torch.manual_seed(0)
        nets = {"gen": Generator(), "disc": nn.Sequential(nn.Linear(2, 16), nn.ELU(), nn.Linear(16, 1))}
        opts = {"disc": OptimizerSpec(["disc"], lr=0.01, betas=(0.5, 0.9)),
                "gen": OptimizerSpec(["gen"], lr=0.01, betas=(0.5, 0.9))}
        cfg = LoopConfig(n_iters=n_iters, batch_size=8, snapshot_freq=2, log_freq=1, seed=3, device="cpu",
                         progress=False)
        return train_loop(nets, opts, gan_step, Data(8), cfg, out, {"experiment": "ddp-gan"}, ema={"gen": 0.5})


    if __name__ == "__main__":
        # Bounded in time even if the launcher is killed: dump the stacks and exit rather than hang forever.
        # Only when run as the worker: the test also imports this file, and the timer would end pytest itself.
        faulthandler.dump_traceback_later(150, exit=True)
        out = sys.argv[1]
        # Two steps, complete; then extend to four: the second call resumes from the 2-process checkpoint.
        train(make_model(), loss, Data(8), config(2), out, RECORD)
        res = train(make_model(), loss, Data(8), config(4), out, RECORD)
        assert res.start_step == 2, res.start_step
        # The same for two networks and two optimisers stepped in one update.
        gan(out + "-gan", 2)
        res = gan(out + "-gan", 4)
        assert res.start_step == 2, res.start_step
''')


def _load_worker(path: Path):
    spec = importlib.util.spec_from_file_location("ddp_worker", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_shard_bounds_split_evenly_or_refuse():
    assert [shard_bounds(8, r, 2) for r in range(2)] == [(0, 4), (4, 8)]
    assert shard_bounds(5, 0, 1) == (0, 5)
    with pytest.raises(ValueError, match="batch_size=6.*not divisible.*4"):
        shard_bounds(6, 1, 4)
    with pytest.raises(ValueError, match="rank 2"):
        shard_bounds(6, 2, 2)


def test_single_process_helpers_are_no_ops():
    ctx = DistContext()
    t = torch.tensor([1.0, 2.0])
    assert all_reduce_mean(t, ctx) is t and broadcast_object({"a": 1}, ctx) == {"a": 1}
    assert not ctx.enabled and ctx.is_main
    net = torch.nn.Linear(2, 2)
    assert wrap_ddp(net, torch.device("cpu"), ctx) is net


@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()), reason="torch built without gloo")
def test_two_gloo_processes_match_one_process(tmp_path):
    worker = tmp_path / "ddp_worker.py"
    worker.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={find_free_port()}", str(worker), str(tmp_path / "ddp")]
    # torchrun in a session of its own, so no signal it or its workers send to a process group reaches pytest.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.terminate()  # torchrun forwards SIGTERM to its workers (they run in their own sessions)
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        pytest.fail(f"torchrun did not finish in 180 s:\n{output[-5000:]}")
    assert proc.returncode == 0, f"torchrun failed:\n{output[-5000:]}"

    w = _load_worker(worker)
    from scorerepro.training import train

    ref = train(w.make_model(), w.loss, w.Data(8), w.config(4), tmp_path / "single", w.RECORD)
    ddp = load_checkpoint(tmp_path / "ddp" / "final.pt")
    single = load_checkpoint(tmp_path / "single" / "final.pt")
    assert ddp["world_size"] == 2 and len(ddp["rng"]["per_rank"]) == 2 and single["world_size"] == 1
    assert ddp["step"] == 4 and ddp["model"].keys() == ref.model.state_dict().keys()  # no "module." prefix
    tight = dict(rtol=1e-5, atol=1e-6)
    for k, v in single["model"].items():
        torch.testing.assert_close(ddp["model"][k], v, **tight)
        torch.testing.assert_close(ddp["ema"]["state"][k], single["ema"]["state"][k], **tight)
    # Adam's first moment is a running mean of gradients: equal moments mean equal gradients at every step,
    # a sharper check than the weights (Adam's early steps are nearly sign(gradient) * lr).
    for i, st in single["optimizer"]["state"].items():
        torch.testing.assert_close(ddp["optimizer"]["state"][i]["exp_avg"], st["exp_avg"], **tight)
        torch.testing.assert_close(ddp["optimizer"]["state"][i]["exp_avg_sq"], st["exp_avg_sq"], **tight)
    # The logged loss is the mean over ranks, i.e. the global-batch loss.
    def losses(p):
        return [float(line.split(",")[1]) for line in p.read_text().splitlines()[1:]]

    torch.testing.assert_close(torch.tensor(losses(tmp_path / "ddp" / "loss.csv")),
                               torch.tensor(losses(tmp_path / "single" / "loss.csv")), **tight)

    # Control: the tolerance is tight enough to see different gradients. One process trained on only the first
    # half of each global batch (rank 0's rows, with its own noise draws) must fail the same comparison.
    class Half(w.Data):
        def batch_for_step(self, step, generator):
            return super().batch_for_step(step, generator)[:4]

    # Two networks, two optimisers, EMA on one: DDP per network gives the single-process result too.
    w.gan(tmp_path / "single-gan", 4)
    ddp_gan = load_checkpoint(tmp_path / "ddp-gan" / "final.pt")
    single_gan = load_checkpoint(tmp_path / "single-gan" / "final.pt")
    assert ddp_gan["world_size"] == 2 and set(ddp_gan["networks"]) == {"gen", "disc"}
    for net in ("gen", "disc"):
        assert ddp_gan["networks"][net].keys() == single_gan["networks"][net].keys()  # no "module." prefix
        for k, v in single_gan["networks"][net].items():
            torch.testing.assert_close(ddp_gan["networks"][net][k], v, **tight)
        for i, st in single_gan["optimizers"][net]["state"].items():
            torch.testing.assert_close(ddp_gan["optimizers"][net]["state"][i]["exp_avg"], st["exp_avg"], **tight)
    for k, v in single_gan["ema_states"]["gen"]["state"].items():
        torch.testing.assert_close(ddp_gan["ema_states"]["gen"]["state"][k], v, **tight)
    gan_rows = [(tmp_path / d / "loss.csv").read_text().splitlines() for d in ("ddp-gan", "single-gan")]
    assert gan_rows[0][0] == gan_rows[1][0] == "step,disc,gen,lr_disc,lr_gen"
    torch.testing.assert_close(torch.tensor([[float(x) for x in r.split(",")] for r in gan_rows[0][1:]]),
                               torch.tensor([[float(x) for x in r.split(",")] for r in gan_rows[1][1:]]), **tight)

    half = train(w.make_model(), w.loss, Half(8), w.config(4, batch_size=4), tmp_path / "half", w.RECORD)
    half_ck = load_checkpoint(tmp_path / "half" / "final.pt")
    assert half.step == 4
    with pytest.raises(AssertionError):
        torch.testing.assert_close(half_ck["optimizer"]["state"][0]["exp_avg"],
                                   single["optimizer"]["state"][0]["exp_avg"], **tight)
