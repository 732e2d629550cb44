"""Stage `download <dataset>`: a verified copy of one data source under data/raw/<dataset>."""

from __future__ import annotations

from scorerepro.data.sources import download
from scorerepro.fileio import write_json
from scorerepro.pipeline.paths import raw_dir


def run(params: dict, dataset: str) -> None:
    if dataset not in params["datasets"]:
        raise ValueError(f"dataset '{dataset}' is not declared under datasets in params.yaml "
                         f"(declared: {', '.join(params['datasets'])})")
    out = raw_dir(dataset)
    record = download(dataset, out)
    # Written last: its presence marks a complete, verified download.
    write_json(out / "download.json", record)
    print(f"download {dataset}: {len(record['files'])} files verified in {out}")
