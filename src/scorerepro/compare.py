"""`scorerepro compare [A] [B]`: the params and metrics that differ between two commits or DVC experiments, one
line each, sized for a terminal.

Built on DVC's own comparison (`Repo.experiments.diff`, what `dvc exp diff` prints), which resolves commits,
branches and experiment names alike and returns only what changed. `dvc exp show` has a column for every
param and metric of every file, hundreds here, and `--keep` adds columns without dropping any; this lists rows
instead, grouped by file, with long key paths shortened from the left.

A difference is the change only when A and B were computed on the same machine: scores of sampled images move
with the hardware's floating-point results, so a baseline committed from another machine must be regenerated
here first (`dvc exp run` on its commit, or `dvc repro` before making the change).
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

SAME_MACHINE_NOTE = ("Both sides must come from this machine: regenerate a baseline made elsewhere first "
                     "(`dvc exp run` on its commit, or `dvc repro` before changing anything).")


def exp_diff(a_rev: str | None, b_rev: str | None, root: str = ".") -> dict[str, dict[str, dict[str, dict]]]:
    """DVC's {"params"|"metrics": {file: {key: {"old", "new", "diff"}}}} of only what changed from A to B
    (A: a commit or experiment, default HEAD; B: default the workspace)."""
    from dvc.repo import Repo

    with Repo(root) as repo:
        return repo.experiments.diff(a_rev=a_rev, b_rev=b_rev)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _both_nan(a: Any, b: Any) -> bool:
    return all(isinstance(x, float) and math.isnan(x) for x in (a, b))


def rows(diff: dict, keep: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """(kind, file, key, A, B) per changed value, params first; `keep`: a regex a `file:key` must match."""
    pattern = re.compile(keep) if keep else None
    out = []
    for kind in ("params", "metrics"):
        for file, entries in sorted(diff.get(kind, {}).items()):
            for key, change in sorted(entries.items()):
                if pattern and not pattern.search(f"{file}:{key}"):
                    continue
                if _both_nan(change.get("old"), change.get("new")):  # DVC compares with ==, and nan != nan
                    continue
                out.append((kind, file, key, _fmt(change.get("old")), _fmt(change.get("new"))))
    return out


def _delta(a: str, b: str) -> str:
    try:
        d = float(b) - float(a)
    except ValueError:
        return ""
    return f"{d:+.4g}" if math.isfinite(d) else ""


def render(table: Iterable[tuple[str, str, str, str, str]], a_name: str, b_name: str, width: int = 100) -> str:
    """Grouped by kind and file; key, A, B and B - A in columns that fit `width` characters."""
    table = list(table)
    if not table:
        return f"No param or metric differs between {a_name} and {b_name}.\n"
    value_w = max(8, *(max(len(r[3]), len(r[4])) for r in table))
    value_w = min(value_w, 14)
    key_w = max(20, width - 3 * (value_w + 2))
    lines = [f"{'':<{key_w}}  {_shorten(a_name, value_w):>{value_w}}  {_shorten(b_name, value_w):>{value_w}}  "
             f"{'B - A':>{value_w}}"]
    current = None
    for kind, file, key, a, b in table:
        if (kind, file) != current:
            current = (kind, file)
            lines.append(f"{kind}: {file}")
        lines.append(f"  {_shorten(key, key_w - 2):<{key_w - 2}}  {_shorten(a, value_w):>{value_w}}  "
                     f"{_shorten(b, value_w):>{value_w}}  {_delta(a, b):>{value_w}}")
    n_params = sum(1 for r in table if r[0] == "params")
    lines.append(f"{n_params} param(s), {len(table) - n_params} metric(s) changed. {SAME_MACHINE_NOTE}")
    return "\n".join(lines) + "\n"


def compare(a_rev: str | None = None, b_rev: str | None = None, keep: str | None = None, root: str = ".",
            width: int = 100) -> str:
    return render(rows(exp_diff(a_rev, b_rev, root), keep), a_rev or "HEAD", b_rev or "workspace", width)
