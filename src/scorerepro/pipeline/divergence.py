"""A diverged training carried down the DAG, so that the claims it feeds become `untested` instead of stale.

A training run that diverges leaves `diverged.json` in its run folder in place of a final model
(scorerepro.training.divergence), and its stage exits 0 under `--record-divergence`, which dvc.yaml passes: DVC and
Snakemake then run the stages downstream, as they would after any other result. Each of those stages asks
`upstream_divergence` of what it reads; when it finds a record it does no work but write every output it declares
with that record (`write_diverged_outputs`): JSON and torch files carry it under DIVERGED_KEY, figures say it in
words, CSV files hold one row naming it. The next stage finds it there (`divergence_in`), and the summary stages
turn it into a failed gate (`diverged_gate`), which makes each claim the model feeds `untested`, its note naming
the loss, the step and the bound.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable

from scorerepro.core.fileio import save_torch, write_json, write_text
from scorerepro.pipeline.evidence import Gate
from scorerepro.training.divergence import DIVERGED_NAME, Divergence, read_divergence

#: The key under which a JSON or torch output made in place of a diverged model's results holds the record.
DIVERGED_KEY = "diverged"
#: The file a folder output holds in that case: the run folder's record, as a run folder holds it.
FOLDER_RECORD = DIVERGED_NAME


def upstream_divergence(*sources: str | Path | dict | None) -> Divergence | None:
    """The first divergence recorded in `sources`: run folders (their diverged.json), JSON or torch outputs a
    stage wrote in place of results (by path, or already loaded as a dict), folder outputs holding FOLDER_RECORD."""
    for source in sources:
        found = _divergence_of(source)
        if found is not None:
            return found
    return None


def _divergence_of(source: str | Path | dict | None) -> Divergence | None:
    if source is None or isinstance(source, dict):
        return divergence_in(source)
    path = Path(source)
    if path.is_dir():
        return read_divergence(path)
    if path.suffix == ".json":
        return _from_json(path)
    if path.suffix == ".pt" and path.is_file():
        import torch

        # mmap: a real shard of samples is not read into memory only to learn that it holds no record.
        return divergence_in(torch.load(path, map_location="cpu", weights_only=True, mmap=True))
    return None


def _from_json(path: Path) -> Divergence | None:
    return divergence_in(json.loads(path.read_text())) if path.is_file() else None


def divergence_in(obj: Any) -> Divergence | None:
    """The record a loaded output carries in place of results, or None for a real result."""
    if isinstance(obj, dict) and isinstance(obj.get(DIVERGED_KEY), dict):
        return Divergence.from_dict(obj[DIVERGED_KEY])
    return None


def marker(record: Divergence) -> dict[str, Any]:
    """What a JSON or torch output holds in place of results."""
    return {DIVERGED_KEY: record.to_dict()}


def write_diverged_outputs(record: Divergence, outputs: Iterable[str | Path], stage: str) -> None:
    """Write each of a stage's declared outputs so that it says the model diverged (by suffix: .json and .pt carry
    `marker`, .png/.pdf a figure in words, .csv one row, .md a sentence, a path without a suffix is a folder
    holding FOLDER_RECORD); prints one line naming them."""
    outputs = [Path(p) for p in outputs]
    for path in outputs:
        _write_one(path, record, stage)
    print(f"{stage}: not run, {record.text()}; wrote {len(outputs)} output(s) saying so: "
          f"{', '.join(str(p) for p in outputs)}", flush=True)


def _write_one(path: Path, record: Divergence, stage: str) -> None:
    suffix = path.suffix
    if suffix == ".json":
        write_json(path, marker(record))
    elif suffix == ".pt":
        save_torch(path, marker(record))
    elif suffix in (".png", ".pdf"):
        from scorerepro.plots.images import note_figure

        note_figure(path, f"{stage}: nothing to show", record.text())
    elif suffix == ".csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([["diverged"], [record.text()]])
        write_text(path, buffer.getvalue())
    elif suffix == ".md":
        write_text(path, f"Not made: {record.text()}.\n")
    elif suffix == "":
        write_json(path / FOLDER_RECORD, record.to_dict())
    else:
        raise ValueError(f"{path}: no way to write a diverged model's record into a {suffix} file")


def diverged_gate(model: str, record: Divergence) -> Gate:
    """The gate a diverged model fails: every claim row that lists it becomes `untested`, naming the divergence."""
    return Gate(f"{model} trained", False, record.text(), "training ends with finite losses within their bounds")
