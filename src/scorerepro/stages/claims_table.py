"""Stage `claims`: results/claims.csv and claims.md, every paper's claims in one table.

Each paper's summary stage writes its rows to results/<paper>/claims.csv with the columns below; this stage puts
the papers that params.yaml runs together, one Markdown section per paper. `holds` is `yes` or `no` as measured
here (a gated model, an interval clear of the rule's threshold: pipeline.evidence), `inconclusive` where the
interval straddles the threshold, or `untested` where a model failed its sanity gate or the profile cannot decide
the claim (the note says why)."""

from __future__ import annotations

import pandas as pd
import torch

from scorerepro.config import paper_blocks
from scorerepro.core.fileio import write_text
from scorerepro.papers import PAPERS
from scorerepro.pipeline import paths
from scorerepro.pipeline.evidence import ROW_COLUMNS, VERDICTS
from scorerepro.pipeline.tables import to_markdown, write_csv
from scorerepro.training.divergence import TEXT_PATTERN

COLUMNS = ["paper"] + ROW_COLUMNS


def read_paper_rows(paper: str, kind: str, columns: list[str]) -> pd.DataFrame:
    """A paper's rows of a cross-paper table (`claims` or `leaderboard`), checked for the columns it must have."""
    path = paths.claims_rows_file(paper) if kind == "claims" else paths.leaderboard_rows_file(paper)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the {paper}_summary stage (`scorerepro {paper} summary`)")
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks the column(s) {', '.join(missing)} of the {kind} table; rerun "
                         f"`scorerepro {paper} summary`")
    return df


def _threads(params: dict) -> str:
    """The thread count the stages ran with: params `threads` (torch's default where absent), and any paper's own."""
    base = str(params.get("threads", f"torch's default ({torch.get_num_threads()})"))
    own = [f"{p} {params[p]['threads']}" for p in paper_blocks(params) if "threads" in params[p]]
    return base + (f" ({', '.join(own)})" if own else "")


def diverged_trainings(table: pd.DataFrame) -> list[str]:
    """Each training divergence named in the gates of the claims table, once (pipeline.divergence.diverged_gate)."""
    found = {m.group(0) for gate in table["gate"].dropna() for m in TEXT_PATTERN.finditer(str(gate))}
    return sorted(found)


def _divergence_lines(table: pd.DataFrame) -> list[str]:
    diverged = diverged_trainings(table)
    if not diverged:
        return []
    n = int(table["gate"].fillna("").str.contains(TEXT_PATTERN).sum())
    return [f"**{len(diverged)} training(s) diverged**; the {n} claim(s) they feed are `untested` (lower the "
            f"learning rate, then rerun):\n\n" + "\n".join(f"- {d}" for d in diverged) + "\n"]


def run(params: dict) -> None:
    papers = paper_blocks(params)
    parts = [read_paper_rows(p, "claims", COLUMNS) for p in papers]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    bad = sorted(set(table["holds"]) - set(VERDICTS))
    if bad:
        raise ValueError(f"claims with a verdict other than {' / '.join(VERDICTS)}: {bad}")
    write_csv(table[COLUMNS], paths.RESULTS / "claims.csv")
    counts = table.groupby("paper")["holds"].value_counts().unstack(fill_value=0)
    md = [f"# Claims of the seed papers, checked ({params['profile']} profile)\n",
          "holds: `yes` / `no` only where every model behind the claim passed its sanity gate (`gate`) and the 95% "
          "interval of the estimate (`estimate` [`interval_low`, `interval_high`] over `n` units) lies wholly on one "
          "side of the rule's threshold; `inconclusive` where the interval straddles it; `untested` where a gate "
          "failed or this profile cannot measure the claim (the note says why and what decides it). A `no` is a "
          "finding, not a bug. Numbers: results/<paper>/summary.md.\n",
          f"Made with torch {torch.__version__} on {_threads(params)} intra-op thread(s), with torch's "
          f"{torch.backends.cpu.get_cpu_capability()} CPU kernels; CPU numbers depend on both (the same code gives "
          f"other floats, and may give other verdicts, on a CPU with another instruction set).\n", *_divergence_lines(table)]
    for paper in papers:
        rows = table[table["paper"] == paper]
        c = counts.loc[paper] if paper in counts.index else {}
        tally = ", ".join(f"{int(c.get(v, 0))} {v}" for v in VERDICTS)
        md.append(f"## {paper}: {PAPERS[paper][1]}\n\n{tally}.\n\n" + to_markdown(rows, COLUMNS[1:]))
    write_text(paths.RESULTS / "claims.md", "\n".join(md))
    print(f"claims: {len(table)} claims of {len(papers)} paper(s) ("
          + ", ".join(f"{int((table['holds'] == v).sum())} {v}" for v in VERDICTS) + ")")
    for line in _divergence_lines(table):
        print("claims: " + line.replace("**", "").replace("\n\n", "\n"), end="")
