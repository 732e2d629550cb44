"""Inception feature extraction speed: images per second and achieved GFLOP/s.

Two figures per batch size: the network alone (a float batch already on the device: resize to 299, pool3 and
logits when the weights have the head), and the pipeline's path, ``metrics.features.extract_features`` over uint8
CIFAR-sized images held on the host (transfer, quantisation, resize, network, features back to the host), which is
what the reference-statistics, select, evaluate and neighbours stages run. Both in float32 with TF32 off, as the
pipeline computes FID (``--tf32`` allows it). FLOPs per image are counted with torch.utils.flop_counter (a
multiply-add = 2 FLOPs; convolutions and matmuls only) on one forward at 299x299. Prints figures and one
"RESULT {json}" line per batch size; asserts nothing.

Weights: the project's resolved file (``scorerepro inception_weights`` writes models/inception; read only), or
``--weights-file`` for any state dict in pytorch-fid's layout, e.g. an fp16 copy small enough to carry to a GPU
machine (load_inception copies it into the float32 network; speed does not depend on the values).

    python benchmarks/bench_inception.py --device cpu --quick
    python benchmarks/bench_inception.py --device cuda --batch-sizes 100,200,500
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import _common as C
from scorerepro.metrics.features import extract_features, tf32_disabled
from scorerepro.metrics.inception import WEIGHTS_INFO_NAME, load_inception


def bench_batch(model, bs: int, iters: int, args, device: torch.device, flops: float, pk: dict) -> dict:
    x = torch.rand(bs, 3, args.image_size, args.image_size, device=device)
    with torch.no_grad(), tf32_disabled(not args.tf32):
        model(x)  # warm-up (cuDNN autotune, allocator)
        C.sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            model(x)
        C.sync(device)
        dt = time.perf_counter() - t0
    net_img_s = bs * iters / dt
    images = torch.randint(0, 256, (bs * iters, 3, args.image_size, args.image_size), dtype=torch.uint8)
    t0 = time.perf_counter()
    out = extract_features(images, model, batch_size=bs, device=device, progress=False, allow_tf32=args.tf32)
    C.sync(device)
    pipe_s = time.perf_counter() - t0
    pipe_img_s = out["n"] / pipe_s
    rec = {"batch_size": bs, "timed_images": bs * iters, "network_images_per_s": round(net_img_s, 2),
           "pipeline_images_per_s": round(pipe_img_s, 2), "network_gflops_per_s": round(flops * net_img_s / 1e9, 1),
           **C.fractions(flops * net_img_s, pk, "fp32"), "peak_mem_gib": C.peak_memory_gib(device),
           "minutes_per_50k_pipeline": round(50_000 / pipe_img_s / 60, 2)}
    print(f"[batch {bs}] network {net_img_s:.2f} images/s ({C.tflops(flops * net_img_s)}, "
          f"{dt / (bs * iters) * 1e3:.2f} ms/image); pipeline extract_features from uint8 on the host "
          f"{pipe_img_s:.2f} images/s (50,000 images ~ {rec['minutes_per_50k_pipeline']} min)")
    return rec


def main() -> None:
    C.line_buffered()
    ap = C.argument_parser(__doc__, "batch 2, 2 timed batches (CPU smoke figures)")
    ap.add_argument("--batch-sizes", default=None, help="comma list (default: cuda 200,500; cpu 16; quick 2)")
    ap.add_argument("--iters", type=int, default=None, help="timed batches per figure (default 10; quick 2)")
    ap.add_argument("--image-size", type=int, default=32, help="input side before the resize to 299 (CIFAR: 32)")
    ap.add_argument("--weights-dir", default="models/inception", help="the project's resolved weights")
    ap.add_argument("--weights-file", default=None,
                    help="a state dict in pytorch-fid's layout to load instead of resolving --weights-dir")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 (extract_features disables it by default)")
    args = ap.parse_args()
    device = C.check_device(args.device)
    default_bs = "2" if args.quick else ("200,500" if device.type == "cuda" else "16")
    batch_sizes = [int(b) for b in (args.batch_sizes or default_bs).split(",")]
    iters = args.iters or (2 if args.quick else 10)

    if args.weights_file:
        weights, source = args.weights_file, "--weights-file"
    else:
        # Read, never write: models/inception is a DVC output, and resolve_inception_weights would rewrite its JSON.
        info_file = Path(args.weights_dir) / WEIGHTS_INFO_NAME
        if not info_file.is_file():
            raise SystemExit(f"{info_file} not found: run `scorerepro inception_weights` (or `dvc repro "
                             f"inception_weights`) first, or pass --weights-file")
        info = json.loads(info_file.read_text())
        weights, source = Path(args.weights_dir) / info["path"], info["source"]
    model = load_inception(weights, device=device)
    print(f"weights: {source} ({weights}), classifier head: {model.weights_info['has_classifier']}")
    pk = C.peaks(device, args.quick)

    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            model(torch.rand(1, 3, args.image_size, args.image_size, device=device))
    flops = counter.get_total_flops()
    print(f"FLOPs per image (conv+matmul, 299x299 after resize): {flops / 1e9:.2f} GFLOP; TF32 "
          f"{'on' if args.tf32 else 'off'}; {iters} timed batches per figure")
    base = {"bench": "inception", "device": pk["device_name"], "torch": torch.__version__, "weights": source,
            "has_classifier": model.weights_info["has_classifier"], "flops_per_image": flops, "tf32": args.tf32,
            "image_size": args.image_size}
    for bs in batch_sizes:
        C.run_guarded(f"batch {bs}", lambda: bench_batch(model, bs, iters, args, device, flops, pk),
                      {**base, "batch_size": bs})
        C.reset_memory(device)


if __name__ == "__main__":
    main()
