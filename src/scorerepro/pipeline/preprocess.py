"""Stage `preprocess <dataset>`: uint8 tensor files per split with a manifest (seed 000 section 3.1)."""

from __future__ import annotations

from scorerepro.data.preprocess import preprocess
from scorerepro.pipeline.paths import processed_dir, raw_dir


def run(params: dict, dataset: str) -> None:
    cfg = params["datasets"][dataset]
    manifest = preprocess(
        dataset,
        raw_dir(dataset),
        processed_dir(dataset),
        test_fraction=cfg.get("test_fraction", 0.1),
        seed=params["seed"],
        celeba_interpolation=cfg.get("interpolation", "bilinear"),
        limit=cfg.get("limit"),
    )
    splits = {k: v["shape"] for k, v in manifest["splits"].items()}
    print(f"preprocess {dataset}: {splits}")
