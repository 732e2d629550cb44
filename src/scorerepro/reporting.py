"""The reproduction report: claims tables, figures with captions and the leaderboard, read from results/.

Two front ends share it. `snakemake --report` (workflow/rules/common.smk) puts the tables on its landing page
and a caption under every figure; `scorerepro report` writes one static page, per paper the claims table and
then the figures, that needs neither Snakemake's metadata nor a network. Tables render every column their CSV
has, so new columns (an interval, a gate) appear without a change here.
"""

from __future__ import annotations

import csv
import fnmatch
import html
import os
import re
from pathlib import Path

import yaml

CAPTIONS = Path("workflow/report/captions.yaml")
# results/ folders that are no paper's and the tables across papers, in reading order after the papers
SHARED_FOLDERS = ("classifier",)
STYLE = """
table.sr-table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
table.sr-table th, table.sr-table td { border: 1px solid #bbb; padding: 2px 6px; vertical-align: top;
  text-align: left; max-width: 40em; }
table.sr-table th { background: #eee; }
td.sr-yes { background: #d9f2d9; } td.sr-no { background: #f7d4d4; }
td.sr-untested, td.sr-inconclusive { background: #f3ecd0; }
figure.sr-figure { margin: 1em 0 2em; } figure.sr-figure img { max-width: 100%; }
figcaption { font-size: 13px; color: #333; max-width: 60em; }
"""

# Snakemake's landing page centres its content vertically in a screen-high box and holds the description to a
# narrow column: a page of tables would be cut off at the top and left, and squeezed. Top-left and wide instead.
SNAKEMAKE_LANDING_STYLE = """
div.h-screen.items-center { align-items: flex-start !important; justify-content: flex-start !important; }
div.prose.max-w-lg { max-width: 110em !important; }
"""


def load_captions(path: Path = CAPTIONS) -> list[tuple[str, str]]:
    """(pattern, text) pairs in file order: the first pattern matching a path below results/ wins."""
    return list((yaml.safe_load(Path(path).read_text()) or {}).items())


def caption_for(rel_path: str, captions: list[tuple[str, str]]) -> str | None:
    """What the figure at `rel_path` (below results/) shows, or None when no pattern matches it."""
    for pattern, text in captions:
        if fnmatch.fnmatchcase(rel_path, pattern):
            return text
    return None


def _shown(value: str) -> str:
    """A cell as people read it: a float with more digits than it carries information is shown to 4 significant
    digits (the CSV keeps them all); anything else as it is."""
    if re.fullmatch(r"-?\d+\.\d{5,}(e-?\d+)?", value):
        return f"{float(value):.4g}"
    return value


def table_html(csv_path: Path) -> str:
    """The CSV as an HTML table, every column it has; a verdict cell (`holds`, `verdict`) is coloured by value."""
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return "<p>(empty table)</p>"
    header, body = rows[0], rows[1:]
    verdict_cols = {i for i, name in enumerate(header) if name in ("holds", "verdict")}
    out = ['<table class="sr-table"><thead><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in body:
        cells = []
        for i, value in enumerate(row):
            cls = f' class="sr-{re.sub(r"[^a-z]", "", value.lower())}"' if i in verdict_cols else ""
            cells.append(f"<td{cls}>{html.escape(_shown(value))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def paper_folders(results: Path, order: tuple[str, ...] = ()) -> list[str]:
    """The papers with a claims table under `results`: those of `order` first, in its order, then the rest."""
    found = {p.parent.name for p in results.glob("*/claims.csv")} - set(SHARED_FOLDERS)
    return [p for p in order if p in found] + sorted(found - set(order))


def tables_fragment(results: Path, order: tuple[str, ...] = ()) -> str:
    """Every paper's claims table, then the leaderboard across papers: an HTML fragment (with its style) for the
    landing page of Snakemake's report. Tables not made yet are said to be missing, not left out silently."""
    parts = [f"<style>{STYLE}{SNAKEMAKE_LANDING_STYLE}</style>"]
    for paper in paper_folders(results, order):
        parts.append(f"<h2>{html.escape(paper)}: claims</h2>" + table_html(results / paper / "claims.csv"))
    board = results / "leaderboard.csv"
    parts.append("<h2>Leaderboard, all papers</h2>" + (table_html(board) if board.is_file()
                                                         else "<p>results/leaderboard.csv is not made yet.</p>"))
    return "\n".join(parts)


def _figure_html(png: Path, results: Path, captions, run: str, page_dir: Path) -> str:
    rel = png.relative_to(results).as_posix()
    what = caption_for(rel, captions) or "(no caption in workflow/report/captions.yaml)"
    src = html.escape(Path(os.path.relpath(png, page_dir)).as_posix())
    return (f'<figure class="sr-figure"><img src="{src}" alt="{html.escape(rel)}" loading="lazy">'
            f"<figcaption>{html.escape(what)} <br><i>From: results/{html.escape(rel)}, {html.escape(run)}."
            "</i></figcaption></figure>")


def static_page(results: Path, captions: list[tuple[str, str]], run: str, page_dir: Path,
                order: tuple[str, ...] = ()) -> str:
    """A page read top to bottom: per paper its claims table and then its figures with captions, then the
    leaderboard. Images are linked by their path relative to `page_dir`, where the page is written, so the page
    stays small and reads offline."""
    body = ["<h1>scorerepro: reproduction report</h1>", f"<p>{html.escape(run)}</p>"]
    for paper in paper_folders(results, order):
        body.append(f"<h2>{html.escape(paper)}</h2><h3>Claims</h3>" + table_html(results / paper / "claims.csv"))
        pngs = sorted((results / paper).rglob("*.png"))
        body.append("<h3>Figures</h3>" + "".join(_figure_html(p, results, captions, run, page_dir) for p in pngs))
    board = results / "leaderboard.csv"
    if board.is_file():
        body.append("<h2>Leaderboard, all papers</h2>" + table_html(board))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>scorerepro report</title>"
            f"<style>body {{ font-family: sans-serif; margin: 1em 2em; }} {STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>")


def rst_escape(text: str) -> str:
    """`text` as literal reStructuredText inside a Jinja template (Snakemake renders captions with both)."""
    return "{% raw %}" + re.sub(r"([\\*`|_])", r"\\\1", text) + "{% endraw %}"
