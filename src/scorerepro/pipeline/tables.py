"""Small tables for people: CSV written atomically, and Markdown rendered from a DataFrame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scorerepro.core.fileio import atomic_path


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def to_markdown(df: pd.DataFrame, columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c]).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


#: The sample-metric columns of every leaderboard row, as pipeline.scoring.score names them (None where a metric
#: was not computed for that model).
SCORE_COLUMNS = ("n_samples", "fid_mnist_classifier", "fid_mnist_classifier_real_same_n", "is_mnist_classifier_mean",
                 "fid_inception", "is_inception_mean")


def score_columns(scores: dict) -> dict:
    """A leaderboard row's SCORE_COLUMNS from a model's `score` result."""
    return {key: scores.get(key) for key in SCORE_COLUMNS}
