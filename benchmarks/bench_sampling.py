"""Annealed Langevin sampling speed of the CIFAR-10 RefineNet at large batches: images/s, FLOP/s, projections.

Each configuration runs scorerepro.papers.ncsn.sampling.annealed_langevin exactly as pipeline.batched_sampling.sample_batches
calls it (x0 ~ U(0, 1) from a device generator, 10 geometric sigmas 1 -> 0.01, step_lr 2e-5, clamp_output, the whole
call under torch.autocast(bfloat16) for the bf16 configurations; the sampler does one host sync per level, none per
step), on a randomly initialised network in eval mode. Only n_steps_each = --timed-steps (default 5) updates per
level are timed, i.e. 10 x 5 = 50 network evaluations, after a warm-up call with 1 step per level; throughput is
then scaled to the official 100 steps per level (1,000 evaluations per sample): time per sample at 100 steps =
measured time x 100 / timed-steps. Every evaluation is counted: FLOP/s = forward FLOPs per image (summarize: convs +
matmuls) x batch x evaluations / seconds.

The speed options are the sample stage's own (params' experiments.<name>.sampling: amp_bf16, channels_last,
compile, cuda_graphs), applied by the same function, pipeline.batched_sampling.sampling_score_net. compile uses
dynamic=False, so each batch size compiles once; compiled runs go last, at --compile-batches first, so the
budget cuts them before the plain ones.

Projections: 50,000 samples x 1,000 evaluations (final evaluation) and 40 checkpoints x 1,000 samples (selection),
both counting whole batches as sample_batches draws them (a batch larger than the samples needed still runs in
full). Prints figures and one "RESULT {json}" line per (configuration, batch); asserts nothing.

    python benchmarks/bench_sampling.py --device cpu --quick
    python benchmarks/bench_sampling.py --device cuda --budget-s 170
"""

from __future__ import annotations

import math
import time

import torch

import _common as C
from scorerepro.papers.ncsn.nets import build_model, input_shape
from scorerepro.nets.model_summary import summarize
from scorerepro.papers.ncsn.noise import make_sigmas
from scorerepro.papers.ncsn.stages.batched_sampling import sampling_score_net
from scorerepro.papers.ncsn.sampling import annealed_langevin

# name -> the sampling block's speed options (params' experiments.<name>.sampling)
CONFIGS = {
    "fp32": {},
    "bf16": {"amp_bf16": True},
    "bf16+cl": {"amp_bf16": True, "channels_last": True},
    "bf16+cl+compile": {"amp_bf16": True, "channels_last": True, "compile": True},
    "bf16+cl+compile+cudagraphs": {"amp_bf16": True, "channels_last": True, "compile": True, "cuda_graphs": True},
}
FULL_STEPS_EACH = 100
NUM_LEVELS = 10
EVAL_SAMPLES = 50_000
SELECT_CHECKPOINTS, SELECT_SAMPLES = 40, 1_000


def forward_flops(spec: dict) -> int:
    try:
        with torch.device("meta"):
            model = build_model(spec)
        return summarize(model, input_shape(spec))["flops_per_image"]
    except Exception:  # noqa: BLE001
        return summarize(build_model(spec), input_shape(spec), batch_size=1)["flops_per_image"]


def hours_for(n_samples: int, batch: int, img_s_full: float) -> float:
    batches = math.ceil(n_samples / batch)
    return batches * batch / img_s_full / 3600


def bench_one(name: str, net_eval: torch.nn.Module, spec: dict, batch: int, device: torch.device,
              timed_steps: int, fwd: int, pk: dict) -> dict:
    opts = CONFIGS[name]
    amp_bf16, channels_last = bool(opts.get("amp_bf16")), bool(opts.get("channels_last"))
    C.reset_memory(device)
    net = net_eval.to(memory_format=torch.contiguous_format)  # undo an earlier configuration's channels_last
    score = sampling_score_net(net, opts, device)
    sigmas = make_sigmas("geometric", 1.0, 0.01, NUM_LEVELS).to(device)
    shape = input_shape(spec)

    def run(n_steps_each: int) -> torch.Tensor:
        g = torch.Generator(device=device).manual_seed(1234)
        x0 = torch.rand((batch, *shape), generator=g, device=device)
        if channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp_bf16):
            res = annealed_langevin(score, x0, sigmas, n_steps_each=n_steps_each, step_lr=2e-5, generator=g,
                                    clamp_output=True)
        return res.samples

    t0 = time.perf_counter()
    run(1)  # warm-up: cuDNN autotuning, allocator, compilation
    C.sync(device)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = run(timed_steps)
    C.sync(device)
    dt = time.perf_counter() - t0
    evals = NUM_LEVELS * timed_steps
    flops_s = fwd * batch * evals / dt
    evals_full = NUM_LEVELS * FULL_STEPS_EACH
    img_s_full = batch / (dt * FULL_STEPS_EACH / timed_steps)
    rec = {
        "timed_evals": evals, "timed_s": round(dt, 3), "ms_per_eval": round(dt / evals * 1e3, 3),
        "net_images_per_s": round(batch * evals / dt, 1),
        "images_per_s_at_1000_evals": round(img_s_full, 3),
        "s_per_batch_at_1000_evals": round(dt * FULL_STEPS_EACH / timed_steps, 2),
        "flops_per_s": flops_s, "tflops_per_s": round(flops_s / 1e12, 3),
        **C.fractions(flops_s, pk, "bf16" if amp_bf16 else "fp32"),
        "peak_mem_gib": C.peak_memory_gib(device),
        "hours_eval_50k": round(hours_for(EVAL_SAMPLES, batch, img_s_full), 3),
        "hours_select_40x1000": round(SELECT_CHECKPOINTS * hours_for(SELECT_SAMPLES, batch, img_s_full), 3),
        "evals_per_sample_full": evals_full, "warmup_s": round(warm_s, 2),
        "samples_finite": bool(torch.isfinite(out).all()),
    }
    print(f"[{name} batch {batch}] {rec['ms_per_eval']} ms/evaluation, {rec['net_images_per_s']:.0f} "
          f"network images/s, {C.tflops(flops_s)} (frac of datasheet bf16 {rec['frac_table_bf16']}, of "
          f"measured bf16 matmul {rec['frac_matmul_bf16']}, of same-dtype matmul {rec['frac_matmul_same_dtype']}); "
          f"at 1,000 evaluations: {img_s_full:.3f} samples/s; 50k samples ~ {rec['hours_eval_50k']:.2f} h; "
          f"selection 40 x 1,000 ~ {rec['hours_select_40x1000']:.2f} h; peak mem {rec['peak_mem_gib']} GiB "
          f"(warm-up {warm_s:.1f} s)")
    return rec


def main() -> None:
    C.line_buffered()
    ap = C.argument_parser(__doc__, "MNIST preset at ngf 8, batch 4, 1 timed step per level")
    C.add_model_args(ap)
    ap.add_argument("--batches", default=None, help="comma list of batch sizes (default 500,1000,2000; quick: 4)")
    ap.add_argument("--compile-batches", default=None,
                    help="batch sizes for the compiled configuration (default 1000; quick: the --batches)")
    ap.add_argument("--timed-steps", type=int, default=None,
                    help="n_steps_each actually timed (default 5; quick: 1); scaled to 100")
    ap.add_argument("--configs", default=None,
                    help=f"comma list from {list(CONFIGS)} (default all; --quick on the CPU: those without "
                         f"compile, whose inductor C++ build takes minutes there)")
    ap.add_argument("--budget-s", type=float, default=None, help="start no new configuration after this many s")
    args = ap.parse_args()
    device = C.check_device(args.device)
    budget = C.Budget(args.budget_s)
    spec = C.model_spec(args)
    batches = [int(b) for b in (args.batches or ("4" if args.quick else "500,1000,2000")).split(",")]
    cbatches = [int(b) for b in (args.compile_batches or ("1000" if not args.quick else ",".join(map(str, batches)))
                                 ).split(",")]
    timed_steps = args.timed_steps or (1 if args.quick else 5)
    if args.configs is None:
        skip_compile = args.quick and device.type == "cpu"
        args.configs = ",".join(n for n in CONFIGS if not (skip_compile and "compile" in n))
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")

    pk = C.peaks(device, args.quick)
    fwd = forward_flops(spec)
    print(f"model {spec}; forward {fwd / 1e9:.3f} GFLOP/image; {NUM_LEVELS} levels x {timed_steps} timed steps "
          f"= {NUM_LEVELS * timed_steps} evaluations per run, scaled to {FULL_STEPS_EACH} steps per level "
          f"({NUM_LEVELS * FULL_STEPS_EACH} evaluations per sample)")
    torch.manual_seed(0)
    net = build_model(spec).to(device).eval()
    base = {"bench": "sampling", "device": pk["device_name"], "torch": torch.__version__, "spec": spec,
            "fwd_flops_per_image": fwd, "peak_table_bf16": pk["table_bf16"], "peak_matmul_bf16": pk["matmul_bf16"],
            "peak_matmul_fp32": pk["matmul_fp32"], "tf32_flags": pk["tf32_flags"], "timed_steps_each": timed_steps,
            "full_steps_each": FULL_STEPS_EACH}
    plan = [(n, b) for n in names if not CONFIGS[n].get("compile") for b in batches]
    compiled = [n for n in names if CONFIGS[n].get("compile")]
    plan += [(n, b) for b in cbatches for n in compiled]  # first compile batch for every compiled config first
    for name, batch in plan:
        if budget.exceeded():
            print(f"budget of {args.budget_s} s exceeded after {budget.elapsed():.0f} s: skipping {name} "
                  f"batch {batch}")
            C.result({**base, "config": name, "batch_size": batch, "skipped": "budget"})
            continue
        C.run_guarded(f"{name} batch {batch}",
                      lambda: bench_one(name, net, spec, batch, device, timed_steps, fwd, pk),
                      {**base, "config": name, "batch_size": batch})
        C.reset_compile()
    print(f"total {budget.elapsed():.1f} s")


if __name__ == "__main__":
    main()
