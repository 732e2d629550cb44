"""The pages a researcher opens, rendered in headless Chromium with the network off
(workflow/scripts/render_pages.py): the tables are in the page without a click, and `dvc plots show` draws
offline. Skipped where no Chromium is installed (Debian: apt-get install chromium)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
import render_pages  # noqa: E402

if render_pages.browser() is None and os.environ.get("SCOREREPRO_REQUIRE_CHROMIUM") == "1":
    raise RuntimeError("SCOREREPRO_REQUIRE_CHROMIUM=1 but no chromium is installed (apt-get install chromium)")
pytestmark = pytest.mark.skipif(render_pages.browser() is None, reason="no chromium (apt-get install chromium)")
# SCOREREPRO_SCREENSHOTS=DIR keeps the screenshots for a person to look at
SHOTS = os.environ.get("SCOREREPRO_SCREENSHOTS")


def _outdir(tmp_path: Path) -> Path:
    return Path(SHOTS) if SHOTS else tmp_path


def test_the_static_report_shows_every_claims_table_and_figure(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    page = tmp_path / "reproduction_report.html"
    subprocess.run([str(BIN / "scorerepro"), "report", "--out", str(page)], check=True, capture_output=True)
    png, dom = render_pages.render(page, _outdir(tmp_path), "scorerepro_report")
    papers = [p.parent.name for p in (REPO / "results").glob("*/claims.csv")]
    assert dom.count('<table class="sr-table">') == len(papers) + 1
    assert "<th>holds</th>" in dom and dom.count("<figcaption>") == len(list((REPO / "results").rglob("*.png")))
    assert png.stat().st_size > 50_000  # a drawn page, not a blank one


def test_dvc_plots_show_draws_offline_with_the_shipped_template(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    subprocess.run([str(BIN / "dvc"), "init", "-q"], cwd=ws, check=True, env=env)
    (ws / "workflow" / "plots").mkdir(parents=True)
    (ws / "workflow" / "plots" / "offline.html").write_text((REPO / "workflow/plots/offline.html").read_text())
    (ws / ".dvc" / "config").write_text((REPO / ".dvc" / "config").read_text())
    (ws / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)  # where the README's set-up puts it
    (ws / "loss.csv").write_text("step,loss\n" + "".join(f"{i},{100 / i}\n" for i in range(1, 50)))
    subprocess.run([str(BIN / "dvc"), "plots", "show", "loss.csv"], cwd=ws, check=True, capture_output=True, env=env)
    page = ws / "dvc_plots" / "index.html"
    assert 'src="https://cdn' not in page.read_text()
    _, dom = render_pages.render(page, _outdir(tmp_path), "dvc_plots")
    assert '<canvas' in dom and 'class="marks"' in dom, "vega-embed drew nothing offline"
