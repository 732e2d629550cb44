"""k-NN speed: 10,000 queries x 60,000 references at 784 dims (MNIST samples vs the training set).

Work counted as 2 * Nq * Nr * D FLOPs (the distance matmul). Prints figures, asserts nothing.

    python benchmarks/bench_knn.py --quick            # smaller sizes, printed
    python benchmarks/bench_knn.py --device cuda
"""

from __future__ import annotations

import time

import torch

import _common as C
from scorerepro.metrics.knn import knn


def main() -> None:
    ap = C.argument_parser(__doc__, "1,000 x 6,000 instead of 10,000 x 60,000")
    ap.add_argument("--queries", type=int, default=None)
    ap.add_argument("--references", type=int, default=None)
    ap.add_argument("--dim", type=int, default=784)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--query-batch", type=int, default=1024)
    ap.add_argument("--ref-batch", type=int, default=8192)
    args = ap.parse_args()
    device = C.check_device(args.device)
    nq = args.queries or (1_000 if args.quick else 10_000)
    nr = args.references or (6_000 if args.quick else 60_000)
    g = torch.Generator().manual_seed(0)
    q = torch.randint(0, 256, (nq, args.dim), generator=g, dtype=torch.uint8)  # stored-image-like inputs
    r = torch.randint(0, 256, (nr, args.dim), generator=g, dtype=torch.uint8)
    print(f"sizes: {nq:,} queries x {nr:,} references x {args.dim} dims, k={args.k}, "
          f"blocks {args.query_batch} x {args.ref_batch}, device {args.device}")
    knn(q[:8], r[:64], k=min(args.k, 64), device=device)  # warm-up
    C.sync(device)
    t0 = time.perf_counter()
    knn(q, r, k=args.k, query_batch=args.query_batch, ref_batch=args.ref_batch, device=device)
    C.sync(device)
    dt = time.perf_counter() - t0
    flops = 2.0 * nq * nr * args.dim
    print(f"time: {dt:.2f} s; {nq / dt:,.0f} queries/s; {flops / dt / 1e9:.1f} GFLOP/s (distance matmul)")


if __name__ == "__main__":
    main()
