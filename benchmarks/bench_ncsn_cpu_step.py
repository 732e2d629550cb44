"""CPU step time of the quick profile's MNIST RefineNet: one training step (DSM, Adam) and one sampling step (one
network evaluation + Langevin update), against an fp32 matmul ceiling on the same cores.

Model FLOPs from scorerepro.nets.model_summary.summarize (convs + matmuls, multiply-add = 2); training counted as
3 x forward. Prints one `RESULT {json}` line per configuration; asserts nothing.

    python benchmarks/bench_ncsn_cpu_step.py --ngf 8 --batch-size 32 --configs fp32,cl,compile
    python benchmarks/bench_ncsn_cpu_step.py --profile      # torch.profiler table of one training step
    python benchmarks/bench_ncsn_cpu_step.py --configs fp32,fp32+torch_elu   # the network's ELU vs torch.nn.ELU

`torch_elu` in a configuration swaps the network's ELU (scorerepro.nets.activations: exp(x) - 1 on the CPU) for
torch.nn.ELU (expm1), i.e. the network as it was before the project's CPU ELU.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from scorerepro.nets.activations import ELU
from scorerepro.nets.model_summary import summarize
from scorerepro.papers.ncsn.losses import dsm_loss
from scorerepro.papers.ncsn.nets import build_model, input_shape
from scorerepro.papers.ncsn.noise import make_sigmas


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


def build(ngf: int, arch: str, channels_last: bool, compile_: bool, torch_elu: bool = False):
    spec = {"arch": arch, "ngf": ngf, "channels": 1, "image_size": 28, "num_classes": 10}
    if arch == "refinenet_baseline":
        spec["num_classes"] = 1
    torch.manual_seed(0)
    model = build_model(spec)
    if torch_elu:
        for module in model.modules():
            if isinstance(getattr(module, "act", None), ELU):
                module.act = torch.nn.ELU()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if compile_ else model
    return spec, model, net


def time_train(net, model, bs: int, channels_last: bool, bf16: bool, warmup: int, steps: int) -> tuple[float, float]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sigmas = make_sigmas("geometric", 1.0, 0.01, 10)
    x = torch.rand(bs, 1, 28, 28)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        labels = torch.randint(0, 10, (bs,))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = dsm_loss(net, x, sigmas, labels=labels, anneal_power=2.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    first = time.perf_counter() - t0
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps, first


@torch.no_grad()
def time_sample(net, bs: int, channels_last: bool, warmup: int, steps: int) -> float:
    x = torch.rand(bs, 1, 28, 28)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    labels = torch.full((bs,), 3, dtype=torch.long)
    for _ in range(warmup):
        x = x + 1e-5 * net(x, labels) + 1e-3 * torch.randn_like(x)
    t = time.perf_counter()
    for _ in range(steps):
        x = x + 1e-5 * net(x, labels) + 1e-3 * torch.randn_like(x)
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ngf", type=int, default=8)
    ap.add_argument("--arch", default="refinenet")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--sample-batch", type=int, default=100)
    ap.add_argument("--configs", default="fp32,cl", help="comma list of fp32, cl, bf16, compile, cl+compile; "
                                                "+torch_elu: with torch.nn.ELU")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ceiling = matmul_gflops()
    spec, model, _ = build(args.ngf, args.arch, False, False)
    fwd = summarize(model, input_shape(spec), batch_size=1)["flops_per_image"]
    print(f"threads {torch.get_num_threads()}; fp32 2048^3 matmul {ceiling:.1f} GFLOP/s; forward {fwd / 1e6:.1f} "
          f"MFLOP/image; {sum(p.numel() for p in model.parameters())} parameters")
    if args.profile:
        _, model, net = build(args.ngf, args.arch, False, False)
        time_train(net, model, args.batch_size, False, False, 2, 1)
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            time_train(net, model, args.batch_size, False, False, 0, 3)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return
    for name in args.configs.split(","):
        cl, comp, bf16, torch_elu = "cl" in name, "compile" in name, "bf16" in name, "torch_elu" in name
        _, model, net = build(args.ngf, args.arch, cl, comp, torch_elu)
        t_train, first = time_train(net, model, args.batch_size, cl, bf16, 2, args.steps)
        t_samp = time_sample(net, args.sample_batch, cl, 2, args.steps)
        tr_gf = 3 * fwd * args.batch_size / t_train / 1e9
        sa_gf = fwd * args.sample_batch / t_samp / 1e9
        r = {"config": name, "ngf": args.ngf, "arch": args.arch, "batch": args.batch_size,
             "train_step_s": round(t_train, 4), "train_it_per_s": round(1 / t_train, 2),
             "train_gflops": round(tr_gf, 2), "warmup_2_steps_s": round(first, 1),
             "sample_batch": args.sample_batch, "sample_step_s": round(t_samp, 4), "sample_gflops": round(sa_gf, 2),
             "matmul_gflops": round(ceiling, 1), "threads": torch.get_num_threads()}
        print("RESULT " + json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
