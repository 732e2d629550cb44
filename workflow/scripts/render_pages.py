"""Render the pages a researcher opens in headless Chromium, network off, and save a screenshot of each.

    python workflow/scripts/render_pages.py OUTDIR [PAGE.html ...]

With no PAGE, it writes and renders `scorerepro report` (reproduction_report.html), `dvc plots show` of the NCSN
loss curves (dvc_plots/index.html) and, when it exists, the page of `snakemake --report report.html`; any HTML
file can be named instead. For each page OUTDIR gets <name>.png and <name>.dom.html, the DOM after the
page's scripts ran: a table or plot that needs a click to appear is not in it. Needs Debian's `chromium` (or
Chrome); tests/test_report_pages.py checks the same pages and skips where there is none.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Scripts get this much virtual time to draw (vega-embed, Snakemake's React app); no real waiting.
VIRTUAL_TIME_MS = 10000


def browser() -> str | None:
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


def _chromium(page: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    exe = browser()
    if exe is None:
        raise FileNotFoundError(f"no headless browser found (tried {', '.join(BROWSERS)}; Debian: apt-get install "
                                "chromium)")
    # --proxy-server to a closed port: nothing is fetched from the network, as on an offline laptop.
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--proxy-server=127.0.0.1:9",
           f"--virtual-time-budget={VIRTUAL_TIME_MS}", *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)


def dom(page: Path) -> str:
    """The page's DOM after its scripts ran."""
    return _chromium(page, "--dump-dom").stdout


def screenshot(page: Path, png: Path, size: str = "1400,2400") -> Path:
    _chromium(page, f"--window-size={size}", f"--screenshot={png.resolve()}")
    return png


def render(page: Path, outdir: Path, name: str | None = None) -> tuple[Path, str]:
    """Screenshot and DOM of `page` into `outdir` as <name>.png and <name>.dom.html."""
    outdir.mkdir(parents=True, exist_ok=True)
    name = name or page.stem
    text = dom(page)
    (outdir / f"{name}.dom.html").write_text(text)
    return screenshot(page, outdir / f"{name}.png"), text


def _default_pages() -> list[tuple[Path, str]]:
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "scorerepro"), "report"], check=True)
    plots = sorted(str(p) for p in Path("results/ncsn").glob("*/fig12_loss.csv"))
    subprocess.run([str(bin_dir / "dvc"), "plots", "show", *plots], check=True, capture_output=True)
    pages = [(Path("reproduction_report.html"), "scorerepro_report"), (Path("dvc_plots/index.html"), "dvc_plots")]
    if Path("report.html").is_file():
        pages.append((Path("report.html"), "snakemake_report"))
    return pages


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = Path(argv[0])
    pages = [(Path(p), Path(p).stem) for p in argv[1:]] or _default_pages()
    for page, name in pages:
        png, _ = render(page, outdir, name)
        print(f"{page} -> {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
