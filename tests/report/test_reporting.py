"""The reading side: the report's tables and captions (scorerepro.reporting) and `scorerepro compare`."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

import yaml

from scorerepro import compare, reporting
from scorerepro.cli import main

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_every_figure_of_the_results_has_a_caption():
    captions = reporting.load_captions(REPO / reporting.CAPTIONS)
    figures = [p.relative_to(REPO / "results").as_posix() for p in (REPO / "results").rglob("*.png")]
    assert len(figures) > 30
    missing = [f for f in figures if reporting.caption_for(f, captions) is None]
    assert not missing, f"add a pattern to workflow/report/captions.yaml for: {missing}"
    unused = [pat for pat, _ in captions if not any(fnmatch.fnmatchcase(f, pat) for f in figures)]
    assert not unused, f"captions.yaml patterns that match no figure: {unused}"


def test_a_table_renders_every_column_it_has_and_escapes_its_text(tmp_path):
    # the columns a claims table is gaining (interval, gate) and a verdict beyond yes/no/untested
    csv = tmp_path / "claims.csv"
    csv.write_text("paper,claim,estimate,interval_low,interval_high,n,gate,holds\n"
                   'ncsn,"FID |mean| < 10 <b>",7.5,6.1,8.9,100,10x floor,inconclusive\n')
    html = reporting.table_html(csv)
    for col in ("estimate", "interval_low", "interval_high", "n", "gate", "holds"):
        assert f"<th>{col}</th>" in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert '<td class="sr-inconclusive">inconclusive</td>' in html


def test_the_landing_tables_put_the_papers_in_seed_order_then_the_leaderboard(tmp_path):
    for paper in ("wmvl", "ncsn", "ae_mcmc"):
        (tmp_path / paper).mkdir()
        (tmp_path / paper / "claims.csv").write_text(f"paper,holds\n{paper},yes\n")
    frag = reporting.tables_fragment(tmp_path, order=("ncsn", "ae_mcmc", "infusion"))
    heads = [frag.index(f"<h2>{p}: claims") for p in ("ncsn", "ae_mcmc", "wmvl")]
    assert heads == sorted(heads)
    assert "results/leaderboard.csv is not made yet" in frag


def test_a_caption_is_literal_text_for_rst_and_jinja():
    from docutils.core import publish_parts
    from jinja2 import Environment

    text = "x_t with |sigma| and {{ not a variable }} *not emphasis*"
    rendered = Environment().from_string(reporting.rst_escape(text)).render()
    body = publish_parts(rendered, writer="html", settings_overrides={"report_level": 5})["body"]
    assert "{{ not a variable }}" in body and "|sigma|" in body and "<em>" not in body


def test_the_static_report_has_each_papers_claims_then_its_captioned_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "page.html"
    assert main(["report", "--out", str(out)]) == 0
    html = out.read_text()
    ncsn, ae = html.index("<h2>ncsn</h2>"), html.index("<h2>ae_mcmc</h2>")
    assert ncsn < html.index("fig5_samples.png") < ae  # NCSN's figures under NCSN, before the next paper
    assert html.count('<table class="sr-table">') == len(list((REPO / "results").glob("*/claims.csv"))) + 1
    assert html.count("<figcaption>") == len(list((REPO / "results").rglob("*.png")))
    assert "(no caption" not in html and "profile quick" in html


def _git_dvc_repo(root: Path) -> None:
    env_run = lambda *cmd: subprocess.run(cmd, cwd=root, check=True, capture_output=True)  # noqa: E731
    env_run("git", "init", "-q")
    env_run("git", "config", "user.email", "t@example.invalid")
    env_run("git", "config", "user.name", "t")
    env_run(str(BIN / "dvc"), "init", "-q")
    (root / "params.yaml").write_text("a:\n  lr: 0.1\n  other: 3\nb:\n  n: 5\n")
    script = ("import json,yaml; p=yaml.safe_load(open('params.yaml')); "
              "json.dump({'fid': 100*p['a']['lr'], 'floor': 6.2, 'n': p['b']['n']}, open('m.json','w'))")
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"s": {
        "cmd": f'{sys.executable} -c "{script}"', "params": ["a", "b"],
        "metrics": [{"m.json": {"cache": False}}]}}}))
    env_run(str(BIN / "dvc"), "repro", "-q")
    env_run("git", "add", "-A")
    env_run("git", "commit", "-qm", "baseline")


def test_compare_lists_only_what_changed_in_one_screen(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    _git_dvc_repo(tmp_path)
    (tmp_path / "params.yaml").write_text("a:\n  lr: 0.25\n  other: 3\nb:\n  n: 5\n")
    subprocess.run([str(BIN / "dvc"), "repro", "-q"], cwd=tmp_path, check=True, capture_output=True)
    text = compare.compare(root=str(tmp_path))
    lines = text.splitlines()
    assert len(lines) <= 8 and all(len(line) <= 100 for line in lines[:-1]), text
    assert any("lr" in line and "0.1" in line and "0.25" in line for line in lines)
    assert any("fid" in line and "10" in line and "25" in line and "+15" in line for line in lines)
    assert not any(word in text for word in ("other", "floor", " n ")), text  # unchanged: left out
    assert "same machine" in lines[-1] or "this machine" in lines[-1]
    assert compare.compare(root=str(tmp_path), keep="fid").count("\n  ") == 1


def test_compare_renders_nothing_changed():
    assert compare.render([], "HEAD", "workspace").startswith("No param or metric differs")


def test_compare_leaves_out_a_metric_that_is_nan_on_both_sides():
    diff = {"metrics": {"m.json": {"rho": {"old": float("nan"), "new": float("nan")}, "fid": {"old": 1.0, "new": 2.0}}}}
    assert [r[2] for r in compare.rows(diff)] == ["fid"]


def test_long_floats_are_shown_to_four_significant_digits(tmp_path):
    from scorerepro.reporting import table_html

    path = tmp_path / "t.csv"
    path.write_text("claim,estimate,n,note\nc,0.7553565206732605,1280.0,ratio 16.2168579\n")
    out = table_html(path)
    assert "<td>0.7554</td>" in out and "<td>1280.0</td>" in out and "ratio 16.2168579" in out
