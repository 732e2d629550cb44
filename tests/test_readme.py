"""The README's commands and the notes it points to stay true: the CPU-only install names the torch/torchvision pair
requirements.txt pins, the Snakemake 8 replacement for `--cluster` is spelled out, the dry-run alternatives and the
`dvc plots show` caveats are in docs/comparing.md, every document the README names exists, and what `dvc plots show`
writes is git-ignored."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
COMPARING = (REPO / "docs" / "comparing.md").read_text()


def _pin(name: str) -> str:
    m = re.search(rf"^{name}==([\w.]+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert m, f"requirements.txt pins no {name}"
    return m.group(1)


def test_cpu_install_uses_the_pinned_pair_and_pytorchs_cpu_index():
    line = next((ln for ln in README.splitlines() if "download.pytorch.org/whl/cpu" in ln), None)
    assert line is not None, "README: no CPU-only install line"
    assert f"torch=={_pin('torch')}" in line and f"torchvision=={_pin('torchvision')}" in line, line
    assert "--index-url https://download.pytorch.org/whl/cpu" in line
    assert "not tested here" in README


def test_cluster_one_liner():
    assert re.search(r'snakemake --executor cluster-generic --cluster-generic-submit-cmd "sbatch [^"]*" --jobs \d+',
                     README)


def test_dry_run_alternatives_and_plots_notes():
    section = COMPARING[COMPARING.index("dvc repro --dry"):][:600]
    for cmd in ("snakemake -n", "dvc status", "dvc dag"):
        assert cmd in COMPARING[COMPARING.index("dvc repro --dry") - 400:][:1000], cmd
    assert "fresh clone" in section
    assert "dvc_plots/" in COMPARING and "cdn.jsdelivr.net" in COMPARING
    assert "best.step_lr" in COMPARING and "--only-changed" in COMPARING and "-A" in COMPARING
    assert "docs/comparing.md" in README and "snakemake -n" in README


def test_every_path_the_readme_names_exists():
    named = set(re.findall(r"`((?:docs|src|workflow|benchmarks|tests)/[\w./-]+)`", README))
    missing = sorted(p for p in named if "<" not in p and not (REPO / p).exists())
    assert len(named) > 10 and not missing, f"README names paths that do not exist: {missing}"


def test_dvc_plots_output_is_git_ignored():
    lines = {line.strip() for line in (REPO / ".gitignore").read_text().splitlines()}
    assert lines & {"/dvc_plots/", "dvc_plots/", "/dvc_plots", "dvc_plots"}, "add /dvc_plots/ to .gitignore"
