"""Stages `download <dataset>` (a verified copy of one data source under data/raw/<dataset>) and `preprocess
<dataset>` (uint8 tensor files per split with a manifest, seed 000 section 3.1)."""

from __future__ import annotations

from scorerepro.core.fileio import write_json
from scorerepro.pipeline.paths import processed_dir, raw_dir


def _declared(params: dict, dataset: str) -> dict:
    if dataset not in params["datasets"]:
        raise ValueError(f"dataset '{dataset}' is not declared under datasets in params.yaml "
                         f"(declared: {', '.join(params['datasets'])})")
    return params["datasets"][dataset]


def download(params: dict, dataset: str) -> None:
    from scorerepro.data.sources import download as fetch

    _declared(params, dataset)
    out = raw_dir(dataset)
    record = fetch(dataset, out)
    # Written last: its presence marks a complete, verified download.
    write_json(out / "download.json", record)
    print(f"download {dataset}: {len(record['files'])} files verified in {out}")


def preprocess(params: dict, dataset: str) -> None:
    from scorerepro.data.preprocess import preprocess as build_splits

    cfg = _declared(params, dataset)
    manifest = build_splits(
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
