"""Inception feature extraction speed: images per second and achieved GFLOP/s.

FLOPs per image are counted with torch.utils.flop_counter (a multiply-add = 2 FLOPs; convolutions and matmuls
only) on one forward of the FID Inception at 299x299. Prints figures, asserts nothing.

    python benchmarks/bench_inception.py --device cpu --quick
    python benchmarks/bench_inception.py --device cuda --batch-size 200
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from scorerepro.metrics.features import tf32_disabled
from scorerepro.metrics.inception import load_inception, resolve_inception_weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="tiny run (CPU smoke figures)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--iters", type=int, default=None, help="timed batches")
    ap.add_argument("--image-size", type=int, default=32, help="input side before the resize to 299 (CIFAR: 32)")
    ap.add_argument("--weights-dir", default="models/inception")
    ap.add_argument("--allow-download", action="store_true")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 (extract_features disables it by default)")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked but CUDA is not available")
    bs = args.batch_size or (2 if args.quick else (200 if args.device == "cuda" else 16))
    iters = args.iters or (2 if args.quick else 10)

    info = resolve_inception_weights(args.weights_dir, allow_download=args.allow_download)
    model = load_inception(info["weights_path"], device=args.device)
    print(f"weights: {info['source']} ({info['path']}), classifier head: {info['has_classifier']}")

    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            model(torch.rand(1, 3, args.image_size, args.image_size, device=args.device))
    flops = counter.get_total_flops()
    print(f"FLOPs per image (conv+matmul, 299x299 after resize): {flops / 1e9:.2f} GFLOP")

    x = torch.rand(bs, 3, args.image_size, args.image_size, device=args.device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    with torch.no_grad(), tf32_disabled(not args.tf32):
        model(x)  # warm-up (cuDNN autotune, allocator)
        sync()
        t0 = time.perf_counter()
        for _ in range(iters):
            model(x)
        sync()
        dt = time.perf_counter() - t0
    n = bs * iters
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    tf32 = "on" if args.tf32 else "off"
    print(f"device: {name}; torch {torch.__version__}; batch {bs}; {iters} timed batches; TF32 {tf32}")
    print(f"images/s: {n / dt:.2f}  ({dt / n * 1e3:.1f} ms/image)")
    print(f"achieved: {flops * n / dt / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
