"""scorerepro.pipeline.tables: Markdown for people (4 significant digits, 95% intervals), CSV with every digit."""

from __future__ import annotations

import pandas as pd

from scorerepro.pipeline.tables import SCORE_COLUMNS, score_columns, to_markdown, with_error, write_csv


def test_markdown_rounds_floats_leaves_gaps_for_missing_and_escapes_pipes():
    df = pd.DataFrame({"model": ["a|b", "c"], "fid": [3.14159265, None], "n": [10, 20]})
    assert to_markdown(df, ["model", "fid"]) == "| model | fid |\n| --- | --- |\n| a\\|b | 3.142 |\n| c |  |\n"


def test_with_error_reads_value_plus_minus_the_95_percent_half_width():
    df = pd.DataFrame({"fid": [10.0, 2.5, None], "fid_se": [1.0, None, None]})
    out = with_error(df, "fid", "fid_se")
    assert list(out.columns) == ["fid"]
    assert out["fid"].tolist() == ["10 +- 2", "2.5", ""]


def test_csv_keeps_every_digit(tmp_path):
    write_csv(pd.DataFrame({"x": [0.1234567891234]}), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "x\n0.1234567891234\n"


def test_score_columns_fill_missing_metrics_with_none():
    row = score_columns({"n_samples": 5, "fid_inception": 1.5, "other": 0})
    assert list(row) == list(SCORE_COLUMNS) and row["fid_inception"] == 1.5 and row["is_inception_mean"] is None
