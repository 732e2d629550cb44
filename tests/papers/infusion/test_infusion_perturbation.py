"""Float rounding does not move an infusion verdict on synthetic results built near the rules' thresholds (the
committed results are checked for every paper by tests/papers/test_verdicts_under_rounding.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from scorerepro.papers.infusion import claims as C

FILES = ("metrics.json", "table4.csv", "table4_points.csv")
REL = 1e-6


def _perturb_json(value, factor):
    if isinstance(value, float):
        return value * factor()
    if isinstance(value, dict):
        return {k: _perturb_json(v, factor) for k, v in value.items()}
    if isinstance(value, list):
        return [_perturb_json(v, factor) for v in value]
    return value


def _perturb(folder: Path, factor) -> None:
    m = folder / "metrics.json"
    m.write_text(json.dumps(_perturb_json(json.loads(m.read_text()), factor)))
    for name in FILES[1:]:
        t = pd.read_csv(folder / name)
        for col in t.columns:
            if pd.api.types.is_float_dtype(t[col]):
                t[col] = [v * factor() for v in t[col]]
        t.to_csv(folder / name, index=False)


def _factors():
    rng = np.random.default_rng(0)
    return {"up": lambda: 1 + REL, "down": lambda: 1 - REL,
            "random": lambda: 1 + REL * (1 if rng.random() < 0.5 else -1)}


def _check(source: Path, tmp_path: Path, monkeypatch) -> None:
    for kind, factor in _factors().items():
        d = tmp_path / kind / "results" / "infusion"
        d.mkdir(parents=True)
        for name in FILES:
            shutil.copyfile(source / name, d / name)
        monkeypatch.chdir(tmp_path / kind)
        before = C.evaluate({})["holds"].tolist()
        _perturb(d, factor)
        after = C.evaluate({})["holds"].tolist()
        assert after == before, kind


def test_synthetic_verdicts_survive_rounding(tmp_path, monkeypatch):
    from test_infusion_claims import _grid, _metrics, _sweep

    src = tmp_path / "src"
    src.mkdir()
    table, points = _sweep(_grid(650, 900, 890, 650, 880, 800))
    (src / "metrics.json").write_text(json.dumps(_metrics(900.0)))
    table.to_csv(src / "table4.csv", index=False)
    points.to_csv(src / "table4_points.csv", index=False)
    _check(src, tmp_path, monkeypatch)
