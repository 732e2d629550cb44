"""Table 4 sweep cells whose training diverged, as table4.csv and table4_points.csv carry them: every cell keeps its
rows, a diverged one with empty bounds and its divergence in DIVERGED (Divergence.text()) and, in table4.csv,
DIVERGENCE_RECORD (the record as JSON, from which a claim's gate names it). Neither column exists when no cell
diverged, so a sane sweep's tables are what they always were."""

from __future__ import annotations

import json

import pandas as pd

from scorerepro.training.divergence import Divergence

DIVERGED = "diverged"
DIVERGENCE_RECORD = "divergence_record"


def trained(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of cells that trained: all of them when none diverged."""
    if DIVERGED not in frame:
        return frame
    return frame[frame[DIVERGED].isna()]


def divergences(table: pd.DataFrame) -> list[tuple[dict, Divergence]]:
    """(cell: n_steps, schedule, rate; its record) of each cell of table4.csv whose training diverged."""
    if DIVERGED not in table:
        return []
    return [({"n_steps": int(r["n_steps"]), "schedule": r["schedule"], "rate": float(r["rate"])},
             Divergence.from_dict(json.loads(r[DIVERGENCE_RECORD])))
            for _, r in table[table[DIVERGED].notna()].iterrows()]


def cell_label(cell: dict) -> str:
    return f"sweep cell (T={cell['n_steps']}, {cell['schedule']} {cell['rate']:g})"
