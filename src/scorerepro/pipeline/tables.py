"""Small tables for people: CSV written atomically, Markdown rendered from a DataFrame, and a paper's rows of the
cross-paper claims table and leaderboard."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scorerepro.core.fileio import atomic_path
from scorerepro.pipeline import paths


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


def write_paper_rows(paper: str, claims: pd.DataFrame, leaderboard: pd.DataFrame) -> pd.DataFrame:
    """What every paper's summary stage ends with: its rows of results/claims.csv (its claims, a `paper` column put
    first) and of results/leaderboard.csv, as results/<paper>/claims.csv and leaderboard.csv, which the shared
    `claims` and `leaderboard` stages gather. Returns the claims with their `paper` column."""
    table = claims.copy()
    table.insert(0, "paper", paper)
    write_csv(table, paths.claims_rows_file(paper))
    write_csv(leaderboard, paths.leaderboard_rows_file(paper))
    return table


#: The sample-metric columns of every leaderboard row, as pipeline.scoring.score names them (None where a metric
#: was not computed for that model).
SCORE_COLUMNS = ("n_samples", "fid_mnist_classifier", "fid_mnist_classifier_se", "fid_mnist_classifier_real_same_n",
                 "is_mnist_classifier_mean", "fid_inception", "is_inception_mean")


def with_error(df: pd.DataFrame, value: str, se: str) -> pd.DataFrame:
    """A copy of `df` whose `value` column reads "v +- 1.96 se" (the 95% normal interval) where `se` is known, and
    without the `se` column: for tables people read."""
    out = df.copy()

    def fmt(r):
        v, e = r[value], r[se]
        if v is None or pd.isna(v):
            return ""
        return f"{v:.4g} +- {1.96 * e:.2g}" if e is not None and not pd.isna(e) else _fmt(float(v))

    out[value] = out.apply(fmt, axis=1) if len(out) else out[value]
    return out.drop(columns=[se])


def score_columns(scores: dict) -> dict:
    """A leaderboard row's SCORE_COLUMNS from a model's `score` result."""
    return {key: scores.get(key) for key in SCORE_COLUMNS}
