"""Training speed of the CIFAR-10 RefineNet: iterations/s, images/s, model FLOP/s, peak memory, projected hours.

The step is the pipeline's (`scorerepro ncsn train <exp>`, scorerepro.training._train), rebuilt from the same pieces:
the batch from pipeline.train.ImageBatches (a deterministic choice of uint8 images on the device, flips,
dequantisation; synthetic images here), per-step CPU data / device noise generators seeded by
training.derive_seed, labels and noise from a StepRNG, dsm_loss via pipeline.train.make_loss (10 geometric
sigmas 1 -> 0.01, anneal_power 2), under torch.autocast(bfloat16) when asked; zero_grad(set_to_none),
backward, torch.optim.Adam(lr 1e-3, betas (0.9, 0.999), fused=True only when asked), the loss kept on the device
(no per-step host sync). channels_last converts the model and each batch; compile wraps the model in
torch.compile. No EMA (the official runs have none).

Model FLOP/s = 3 x forward FLOPs per image (summarize: convs + matmuls, a multiply-add = 2) x images/s; 3x
(forward + backward ~ 2x forward) is the usual estimate, not a count. Fractions are given against the datasheet
dense bf16 peak (table keyed on the GPU name) and against a measured 8192^3 matmul. Prints figures and one
"RESULT {json}" line per configuration; asserts nothing.

    python benchmarks/bench_train.py --device cpu --quick
    python benchmarks/bench_train.py --device cuda --budget-s 170
"""

from __future__ import annotations

import math
import time

import torch

import _common as C
from scorerepro.papers.ncsn.nets import build_model, input_shape
from scorerepro.nets.model_summary import summarize
from scorerepro.papers.ncsn.noise import make_sigmas
from scorerepro.papers.ncsn.stages.train import ImageBatches, make_loss
from scorerepro.core.seeding import derive_seed
from scorerepro.training import StepRNG

# name -> (amp bf16, channels_last, compile, fused adam)
CONFIGS = {
    "fp32": (False, False, False, False),
    "bf16": (True, False, False, False),
    "bf16+cl": (True, True, False, False),
    "bf16+cl+compile": (True, True, True, False),
    "bf16+cl+compile+fused": (True, True, True, True),
}
N_ITERS_FULL = 200_000


def forward_flops(spec: dict) -> int:
    try:
        with torch.device("meta"):
            model = build_model(spec)
        return summarize(model, input_shape(spec))["flops_per_image"]
    except Exception:  # noqa: BLE001 - meta tensors unsupported somewhere: count on the CPU
        return summarize(build_model(spec), input_shape(spec), batch_size=1)["flops_per_image"]


def bench_one(name: str, spec: dict, images: torch.Tensor, bs: int, flip: bool, device: torch.device,
              warmup: int, steps: int, fwd_flops: int, pk: dict) -> dict:
    amp_bf16, channels_last, compile_, fused = CONFIGS[name]
    if fused and device.type != "cuda":
        raise ValueError("fused Adam needs CUDA (training.py refuses it on the CPU too)")
    C.reset_compile()
    C.reset_memory(device)
    seed = 0
    torch.manual_seed(seed)
    model = build_model(spec).to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt_kwargs = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)
    if fused:
        opt_kwargs["fused"] = True
    optimizer = torch.optim.Adam(model.parameters(), **opt_kwargs)
    train_model = torch.compile(model) if compile_ else model
    sigmas = make_sigmas("geometric", 1.0, 0.01, 10)
    loss_fn = make_loss(sigmas, 2.0)
    data = ImageBatches(images, bs, seed, flip, True, device)
    pending: list[torch.Tensor] = []

    def step(index: int) -> None:
        data_gen = torch.Generator().manual_seed(derive_seed(seed, "data", index))
        noise_gen = torch.Generator(device=device).manual_seed(derive_seed(seed, "noise", index))
        batch = data.batch_for_step(index, data_gen)
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        rng = StepRNG(noise_gen, 0, bs, bs)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp_bf16):
            loss = loss_fn(train_model, batch, rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        pending.append(loss.detach().float())

    train_model.train()
    t0 = time.perf_counter()
    for i in range(warmup):
        step(i)
    C.sync(device)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    C.sync(device)
    dt = time.perf_counter() - t0
    losses = torch.stack(pending).cpu().tolist()
    its = steps / dt
    img_s = its * bs
    flops_s = 3.0 * fwd_flops * img_s
    rec = {
        "it_per_s": round(its, 4), "images_per_s": round(img_s, 2), "ms_per_it": round(1e3 / its, 3),
        "model_flops_per_s": flops_s, "model_tflops_per_s": round(flops_s / 1e12, 3),
        **C.fractions(flops_s, pk, "bf16" if amp_bf16 else "fp32"),
        "peak_mem_gib": C.peak_memory_gib(device),
        "projected_hours_200k": round(N_ITERS_FULL / its / 3600, 3),
        "warmup_s": round(warm_s, 2), "timed_s": round(dt, 3),
        "losses_finite": all(math.isfinite(v) for v in losses), "last_loss": losses[-1],
    }
    fr = rec["frac_table_bf16"], rec["frac_matmul_bf16"], rec["frac_matmul_same_dtype"]
    print(f"[{name}] {its:.3f} it/s, {img_s:.1f} images/s, {C.tflops(flops_s)} model "
          f"(frac of datasheet bf16 {fr[0]}, of measured bf16 matmul {fr[1]}, of same-dtype matmul {fr[2]}), "
          f"peak mem {rec['peak_mem_gib']} GiB, 200k iterations ~ {rec['projected_hours_200k']:.2f} h "
          f"(warm-up {warm_s:.1f} s)")
    return rec


def main() -> None:
    C.line_buffered()
    ap = C.argument_parser(__doc__, "MNIST preset at ngf 8, batch 8, 3 steps (CPU smoke)")
    C.add_model_args(ap)
    ap.add_argument("--batch-size", type=int, default=None, help="default 128 (quick: 8)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 8; quick: 1)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 30; quick: 3)")
    ap.add_argument("--configs", default=None,
                    help=f"comma list from {list(CONFIGS)} (default all; --quick on the CPU: those without "
                         f"compile, whose inductor C++ build takes minutes there)")
    ap.add_argument("--n-images", type=int, default=None, help="synthetic training-set size (default 50,000)")
    ap.add_argument("--budget-s", type=float, default=None, help="start no new configuration after this many s")
    args = ap.parse_args()
    device = C.check_device(args.device)
    budget = C.Budget(args.budget_s)
    spec = C.model_spec(args)
    bs = args.batch_size or (8 if args.quick else 128)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 8)
    steps = args.steps or (3 if args.quick else 30)
    n_images = args.n_images or (256 if args.quick else 50_000)
    flip = spec["channels"] == 3  # CIFAR-10/CelebA are flipped at load time, MNIST is not
    if args.configs is None:
        skip_compile = args.quick and device.type == "cpu"
        args.configs = ",".join(n for n in CONFIGS if not (skip_compile and "compile" in n))
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")

    pk = C.peaks(device, args.quick)
    fwd = forward_flops(spec)
    shape = input_shape(spec)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n_images, *shape), generator=g, dtype=torch.uint8)
    print(f"model {spec}; forward {fwd / 1e9:.3f} GFLOP/image; training counted as 3 x forward (fwd+bwd estimate)")
    print(f"batch {bs}; flips {flip}; dequantisation on; {warmup} warm-up + {steps} timed steps per configuration; "
          f"projection for {N_ITERS_FULL:,} iterations")
    base = {"bench": "train", "device": pk["device_name"], "torch": torch.__version__, "spec": spec,
            "batch_size": bs, "fwd_flops_per_image": fwd, "train_flops_per_image": 3 * fwd,
            "peak_table_bf16": pk["table_bf16"], "peak_matmul_bf16": pk["matmul_bf16"],
            "peak_matmul_fp32": pk["matmul_fp32"], "tf32_flags": pk["tf32_flags"], "warmup": warmup,
            "steps": steps}
    for name in names:
        if budget.exceeded():
            print(f"budget of {args.budget_s} s exceeded after {budget.elapsed():.0f} s: skipping {name}")
            C.result({**base, "config": name, "skipped": "budget"})
            continue
        C.run_guarded(name, lambda: bench_one(name, spec, images, bs, flip, device, warmup, steps, fwd, pk),
                      {**base, "config": name})
    print(f"total {budget.elapsed():.1f} s")


if __name__ == "__main__":
    main()
