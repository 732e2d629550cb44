"""Shared helpers for the benchmark scripts: device peaks, timing, one-JSON-line results.

Peaks. ``PEAK_BF16_DENSE`` holds datasheet dense bf16 tensor-core peaks (no sparsity), looked up by a substring of
``torch.cuda.get_device_name()``; ``measured_matmul_peak`` times a large square matmul, the practical ceiling.
Fractions of peak are reported against both.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable

import torch

# Datasheet dense (non-sparse) bf16 tensor-core peaks, FLOP/s. H100 figure is the SXM part; H200 shares its die.
PEAK_BF16_DENSE = {"H200": 989e12, "H100": 989e12, "A100": 312e12}


def line_buffered() -> None:
    """Flush every line, so a killed run still leaves its results in the log."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass


def argument_parser(doc: str, quick_help: str) -> argparse.ArgumentParser:
    """A parser with what every benchmark takes: --device (cuda when there is one) and --quick (`quick_help`)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    return ap


def add_model_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--preset", default=None, help="model preset (default refinenet_cifar10; quick: refinenet_mnist)")
    ap.add_argument("--ngf", type=int, default=None, help="override the preset's ngf (quick: 8)")


def model_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The network of --preset / --ngf (add_model_args): the CIFAR-10 RefineNet, or the MNIST one at ngf 8 with
    --quick."""
    from scorerepro.papers.ncsn.nets import preset

    spec = preset(args.preset or ("refinenet_mnist" if args.quick else "refinenet_cifar10"))
    if args.ngf or args.quick:
        spec["ngf"] = args.ngf or 8
    return spec


def check_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked but CUDA is not available")
    return torch.device(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def table_peak(device: torch.device) -> float | None:
    """Datasheet dense bf16 peak for this GPU, or None (CPU, unknown GPU)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peak in PEAK_BF16_DENSE.items():
        if key in name:
            return peak
    return None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measured_matmul_peak(device: torch.device, dtype: torch.dtype = torch.bfloat16, n: int = 8192,
                         iters: int = 10) -> float:
    """FLOP/s of an n x n x n matmul (2 n^3 FLOPs), best of ``iters`` timed after a warm-up."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    torch.matmul(a, b, out=out)
    sync(device)
    best = float("inf")
    for _ in range(iters):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=out)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    del a, b, out
    return 2.0 * n ** 3 / best


def peaks(device: torch.device, quick: bool) -> dict[str, Any]:
    """{"table_bf16": FLOP/s or None, "matmul_bf16": measured, "matmul_fp32": measured, ...} (printed too)."""
    n = 1024 if (quick or device.type != "cuda") else 8192
    iters = 3 if quick else 10
    out: dict[str, Any] = {"device_name": device_name(device), "table_bf16": table_peak(device), "matmul_n": n}
    for key, dtype in (("matmul_bf16", torch.bfloat16), ("matmul_fp32", torch.float32)):
        try:
            out[key] = measured_matmul_peak(device, dtype, n, iters)
        except Exception as e:  # noqa: BLE001 - a benchmark reports, it does not die
            out[key] = None
            print(f"matmul peak {dtype} failed: {type(e).__name__}: {e}")
    if device.type == "cuda":
        torch.cuda.empty_cache()
    tf32 = (f"matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}, "
            f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}")
    out["tf32_flags"] = tf32
    print(f"device: {out['device_name']}; torch {torch.__version__}; {tf32}")
    table = f"{out['table_bf16'] / 1e12:.0f} TFLOP/s" if out["table_bf16"] else "n/a"
    print(f"peak: datasheet dense bf16 {table}; measured {n}^3 matmul bf16 {tflops(out['matmul_bf16'])}, "
          f"fp32 {tflops(out['matmul_fp32'])} (fp32 matmul obeys matmul.allow_tf32)")
    return out


def fractions(flops_per_s: float, pk: dict[str, Any], compute_dtype: str) -> dict[str, float | None]:
    """Achieved FLOP/s as a fraction of the datasheet bf16 peak and of the measured matmul peak of the dtype the
    configuration computes in ("bf16" or "fp32") and of the measured bf16 matmul."""
    def frac(p):
        return round(flops_per_s / p, 4) if p else None

    return {"frac_table_bf16": frac(pk.get("table_bf16")),
            "frac_matmul_bf16": frac(pk.get("matmul_bf16")),
            "frac_matmul_same_dtype": frac(pk.get("matmul_bf16" if compute_dtype == "bf16" else "matmul_fp32"))}


def tflops(x: float | None) -> str:
    """FLOP/s as text, in TFLOP/s from 1 TFLOP/s up, else GFLOP/s."""
    if x is None:
        return "n/a"
    return f"{x / 1e12:.2f} TFLOP/s" if x >= 1e12 else f"{x / 1e9:.2f} GFLOP/s"


def result(record: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(record, sort_keys=False, default=str), flush=True)


def peak_memory_gib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 3)


def reset_memory(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def reset_compile() -> None:
    try:
        torch._dynamo.reset()
    except Exception:  # noqa: BLE001
        pass


class Budget:
    """Wall-clock budget: ``exceeded()`` once ``seconds`` have passed since construction."""

    def __init__(self, seconds: float | None):
        self.seconds, self.t0 = seconds, time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def exceeded(self) -> bool:
        return self.seconds is not None and self.elapsed() > self.seconds


def run_guarded(label: str, fn: Callable[[], dict[str, Any]], base: dict[str, Any]) -> dict[str, Any] | None:
    """Run one configuration; print its RESULT line, or an error RESULT line instead of dying."""
    try:
        rec = fn()
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        rec = {"error": f"{type(e).__name__}: {str(e)[:500]}"}
        print(f"[{label}] FAILED: {rec['error']}")
    rec = {**base, **rec}
    result(rec)
    return rec
