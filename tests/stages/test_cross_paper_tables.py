"""The cross-paper tables: results/claims.* (one section per paper, verdicts yes / no / untested) and
results/leaderboard.* (every generator, the same metrics, a real-data reference row first)."""

from __future__ import annotations

import pandas as pd
import pytest

from scorerepro.core.fileio import write_json
from scorerepro.pipeline import paths
from scorerepro.pipeline.evidence import claim_row
from scorerepro.pipeline.tables import write_paper_rows
from scorerepro.stages import claims_table, leaderboard

PARAMS = {"profile": "test", "ncsn": {}}


def _claims(rows):
    return pd.DataFrame([{"paper": "ncsn", **claim_row(c, "s", "m", "untested")} | {"holds": h} for c, h in rows])


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths.paper_results_dir("ncsn").mkdir(parents=True)
    return tmp_path


def test_claims_table_has_a_paper_column_and_a_section_per_paper(in_tmp):
    _claims([("a", "yes"), ("b", "no"), ("c", "untested"), ("d", "inconclusive")]).to_csv(
        paths.claims_rows_file("ncsn"), index=False)
    claims_table.run(PARAMS)
    table = pd.read_csv(in_tmp / "results" / "claims.csv")
    assert list(table.columns) == claims_table.COLUMNS and set(table["paper"]) == {"ncsn"}
    md = (in_tmp / "results" / "claims.md").read_text()
    assert "## ncsn: seed 000" in md and "1 yes, 1 no, 1 inconclusive, 1 untested." in md


def test_a_papers_rows_written_by_its_summary_are_what_the_claims_table_gathers(in_tmp):
    """write_paper_rows: the end of every paper's summary stage."""
    claims = _claims([("a", "yes"), ("b", "no")]).drop(columns="paper")
    written = write_paper_rows("ncsn", claims, pd.DataFrame([{"paper": "ncsn", "model": "m"}]))
    assert list(written.columns) == ["paper", *claims.columns] and "paper" not in claims.columns
    assert pd.read_csv(paths.leaderboard_rows_file("ncsn")).to_dict("records") == [{"paper": "ncsn", "model": "m"}]
    claims_table.run(PARAMS)
    assert list(pd.read_csv(in_tmp / "results" / "claims.csv")["claim"]) == ["a", "b"]


def test_claims_md_names_each_diverged_training_and_counts_the_claims_it_left_untested(in_tmp, capsys):
    from scorerepro.pipeline.divergence import diverged_gate
    from scorerepro.training.divergence import Divergence

    rec = Divergence("models/wmvl/wae_gan_sph8", "reconstruction", 2, 600, 2.2e9, 5.4e6, "m")
    rows = [claim_row(c, "s", "m", "yes", gates=[diverged_gate("wae_gan_sph8", rec)]) for c in ("a", "b")]
    pd.DataFrame([{"paper": "ncsn", **r} for r in rows + [claim_row("c", "s", "m", "no")]]).to_csv(
        paths.claims_rows_file("ncsn"), index=False)
    claims_table.run(PARAMS)
    md = (in_tmp / "results" / "claims.md").read_text()
    assert "**1 training(s) diverged**; the 2 claim(s) they feed are `untested`" in md
    assert "- training of models/wmvl/wae_gan_sph8 diverged at step 2 of 600: loss 'reconstruction' 2.2e+09, " \
           "beyond its bound 5.4e+06\n" in md
    assert "1 training(s) diverged" in capsys.readouterr().out
    _claims([("a", "yes")]).to_csv(paths.claims_rows_file("ncsn"), index=False)
    claims_table.run(PARAMS)
    assert "diverged" not in (in_tmp / "results" / "claims.md").read_text()


def test_claims_table_refuses_a_verdict_that_is_not_yes_no_untested(in_tmp):
    _claims([("a", "see summary.md")]).to_csv(paths.claims_rows_file("ncsn"), index=False)
    with pytest.raises(ValueError, match="yes / no / inconclusive / untested"):
        claims_table.run(PARAMS)


def test_missing_paper_rows_name_the_file_and_the_stage(in_tmp):
    with pytest.raises(FileNotFoundError, match=r"results/ncsn/claims.csv.*scorerepro ncsn summary"):
        claims_table.run(PARAMS)


def test_leaderboard_puts_the_real_data_reference_first(in_tmp):
    row = {c: None for c in leaderboard.COLUMNS}
    row.update(paper="ncsn", model="NCSN refinenet", experiment="e", dataset="mnist_embedded", n_samples=100,
               fid_mnist_classifier=50.0)
    pd.DataFrame([row]).to_csv(paths.leaderboard_rows_file("ncsn"), index=False)
    write_json(paths.classifier_results_dir("mnist_embedded") / "metrics.json",
               {"applicable": True, "n_test": 500, "fid_mnist_classifier_test_split": 6.2,
                "is_mnist_classifier_mean_test_split": 8.9})
    leaderboard.run(PARAMS)
    board = pd.read_csv(in_tmp / "results" / "leaderboard.csv")
    assert list(board["paper"]) == ["(reference)", "ncsn"]
    assert board.loc[0, "fid_mnist_classifier"] == 6.2 and board.loc[1, "fid_mnist_classifier"] == 50.0
    assert "| (reference) | real test images |" in (in_tmp / "results" / "leaderboard.md").read_text()


def test_a_paper_without_its_leaderboard_columns_is_refused(in_tmp):
    pd.DataFrame([{"paper": "ncsn", "model": "x"}]).to_csv(paths.leaderboard_rows_file("ncsn"), index=False)
    with pytest.raises(ValueError, match="lacks the column"):
        leaderboard.run(PARAMS)


def test_leaderboard_shows_the_fid_interval_where_it_has_one(in_tmp):
    rows = []
    for model, se in (("with se", 5.0), ("without se", None)):
        row = {c: None for c in leaderboard.COLUMNS}
        row.update(paper="ncsn", model=model, experiment="e", dataset="d", n_samples=100, fid_mnist_classifier=50.0,
                   fid_mnist_classifier_se=se)
        rows.append(row)
    pd.DataFrame(rows).to_csv(paths.leaderboard_rows_file("ncsn"), index=False)
    leaderboard.run(PARAMS)
    md = (in_tmp / "results" / "leaderboard.md").read_text()
    assert "| 50 +- 9.8 |" in md and "| 50 |" in md
