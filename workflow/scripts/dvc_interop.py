"""DVC <-> Snakemake interoperability: either front end may run after the other without redoing finished work.

The two front ends keep different records of what is up to date:

* DVC hashes contents: dvc.lock holds, per stage, the hashes of its deps and outs and the values of its params.
  `dvc checkout` restores outputs with new, arbitrary modification times (treeverse/dvc#8602).
* Snakemake compares modification times (an input newer than the oldest output reruns the job) and, where it
  ran a job itself, its metadata in .snakemake/ (params, shell command, set of inputs).

Measured with Snakemake 9.27 and DVC 3.67 on this workflow (tests/workflow/test_interop.py repeats the
measurements): after `dvc repro`, `snakemake -n` finds nothing to do only by luck of the order in which DVC wrote
the files; after `dvc checkout` (new mtimes) it wants to rerun every job whose input now looks newer than its
output; and after `snakemake`, `dvc status` reports every stage as changed because dvc.lock never saw those outputs.

Two hooks close the gap, both wired in workflow/rules/common.smk:

1. Parse time (main Snakemake process only): ask DVC which stages are up to date (`Repo.status()`, the same
   check as `dvc status`: hashes, cached by DVC's state database, so fast after the first call).
   a. A stage that is up to date has outputs made from exactly its current deps, params and command, so for
      the matching Snakemake job the inputs are wrapped in `ancient()`: their mtimes cannot trigger a rerun.
      The test is on the *consuming* stage, not on the producer of the input: a producer may be up to date
      while its consumer is stale (after `dvc repro preprocess` alone, say), and then mtimes must still decide.
   b. Where Snakemake metadata of an output of an up-to-date stage no longer describes the file on disk (DVC
      rewrote or restored it since Snakemake recorded it: the recorded end time differs from the file's mtime),
      or records the stamp of c., that record is dropped, as `snakemake --cleanup-metadata FILE` would, so a
      params change already carried out by `dvc repro` is not redone by Snakemake.
   c. A stage that dvc.lock records but DVC reports changed (its params, command or deps changed since) gets
      one more input, a stamp file touched at parse time: Snakemake reruns it. Without this, an output that
      only DVC ever made has no Snakemake metadata, so Snakemake could not see a params change at all, and the
      commit of 2. would then record stale outputs as up to date.
   Snakemake's own triggers (params, code, input set, missing output, mtime elsewhere) all stay on.
2. On success (`onsuccess:`): `dvc commit --force` the DVC stages of every job in this run's DAG, so dvc.lock
   records what Snakemake produced and `dvc status` / `dvc repro` find nothing to do.

Everything here degrades to plain Snakemake behaviour (warn, do nothing) when there is no DVC repository, no
dvc.lock, DVC is busy (another `dvc` holds the repository lock), or SCOREREPRO_DVC_INTEROP=0 is set.
Only the main process talks to DVC: cluster jobs re-read the Snakefile and must not race on the DVC lock.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Iterable

ENV_SWITCH = "SCOREREPRO_DVC_INTEROP"


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").lower() not in ("0", "false", "no", "off")


def is_dvc_repo(root: str | os.PathLike) -> bool:
    return (Path(root) / ".dvc").is_dir() and (Path(root) / "dvc.yaml").is_file()


def _norm(path: str | os.PathLike) -> str:
    return str(PurePosixPath(os.path.normpath(str(path)).replace(os.sep, "/")))


def _quiet_dvc():
    for name in ("dvc", "dvc_data", "dvc_objects", "scmrepo"):
        logging.getLogger(name).setLevel(logging.ERROR)


def dvc_stages(root: str | os.PathLike) -> dict[str, list[str]]:
    """Every stage of dvc.yaml (foreach/matrix resolved) with its output paths, relative to root."""
    from dvc.repo import Repo

    _quiet_dvc()
    with Repo(str(root)) as repo:
        return {s.name: [_norm(o.def_path) for o in s.outs] for s in repo.index.stages}


def stage_of(path: str | os.PathLike, stages: dict[str, list[str]]) -> str | None:
    """The stage whose output is `path` or holds it (a completion marker inside a persistent output folder)."""
    p = PurePosixPath(_norm(path))
    for name, outs in stages.items():
        for o in outs:
            op = PurePosixPath(o)
            if p == op or op in p.parents:
                return name
    return None


STAMP = ".snakemake/dvc-interop/changed-according-to-dvc"


class DvcState:
    """What DVC knows, read once at Snakefile parse time: every stage's outputs, the stages DVC holds up to date,
    and the stages dvc.lock records that DVC reports changed."""

    def __init__(self, root: str | os.PathLike, stages: dict[str, list[str]] | None = None,
                 up_to_date: set[str] | None = None, changed: set[str] | None = None, note: str = ""):
        self.root = Path(root)
        self.stages = stages or {}
        self.up_to_date = up_to_date or set()
        self.changed = changed or set()
        self.note = note
        self._cache: dict[str, str | None] = {}
        if self.changed:  # newer than every output now on disk
            stamp = self.root / STAMP
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()

    def stage_of(self, path: str) -> str | None:
        if path not in self._cache:
            self._cache[path] = stage_of(path, self.stages)
        return self._cache[path]

    def is_up_to_date(self, output_path: str) -> bool:
        """True when the DVC stage that produces `output_path` is up to date according to DVC."""
        stage = self.stage_of(output_path)
        return stage is not None and stage in self.up_to_date

    def must_rerun(self, output_path: str) -> bool:
        """True when dvc.lock records the stage producing `output_path` and DVC reports it changed."""
        stage = self.stage_of(output_path)
        return stage is not None and stage in self.changed


def read_state(root: str | os.PathLike) -> DvcState:
    """DVC's view of the workspace, or an empty state (and a note why) when DVC cannot or need not be asked."""
    root = Path(root)
    if not enabled():
        return DvcState(root, note=f"{ENV_SWITCH}=0")
    if not is_dvc_repo(root):
        return DvcState(root, note="not a DVC repository")
    if not (root / "dvc.lock").is_file():
        return DvcState(root, note="no dvc.lock yet")
    try:
        from dvc.repo import Repo

        _quiet_dvc()
        with Repo(str(root)) as repo:
            stages = {s.name: [_norm(o.def_path) for o in s.outs] for s in repo.index.stages}
            # keys are "dvc.yaml:name" style addresses for stages outside the root's dvc.yaml
            changed = {k.rsplit(":", 1)[-1] for k in repo.status()}
        import yaml

        locked = set((yaml.safe_load((root / "dvc.lock").read_text()) or {}).get("stages") or {})
    except Exception as e:  # DVC busy (lock), broken dvc.yaml, ...: fall back to plain Snakemake rules
        return DvcState(root, note=f"dvc status failed ({type(e).__name__}: {e}); mtimes decide")
    up = {name for name in stages if name not in changed}
    rerun = {name for name in stages if name in changed and name in locked}
    note = f"{len(up)} of {len(stages)} DVC stages up to date"
    if rerun:
        note += f"; changed since dvc.lock, so rerun when requested: {', '.join(sorted(rerun))}"
    return DvcState(root, stages, up, rerun, note=note)


def forget_stale_metadata(workflow, state: DvcState, output_paths: Iterable[str]) -> list[str]:
    """Drop Snakemake metadata of outputs of up-to-date DVC stages when DVC rewrote the file after Snakemake
    recorded it (recorded end time != file mtime) or when the record lists the stamp as an input. Uses
    Snakemake's own persistence class (the default file backend) the way `snakemake --cleanup-metadata FILE`
    does; any failure leaves the metadata alone."""
    try:
        from snakemake.io import IOFile
        from snakemake.persistence.file import FilePersistence
        from snakemake.settings.enums import PersistenceBackend

        backend = getattr(workflow.workflow_settings, "persistence_backend", PersistenceBackend.FILE)
        if backend != PersistenceBackend.FILE or not (state.root / ".snakemake" / "metadata").is_dir():
            return []
        persistence = FilePersistence(nolock=True, path=state.root / ".snakemake")
        dropped = []
        for path in output_paths:
            if not state.is_up_to_date(path) or not os.path.exists(path):
                continue
            f = IOFile(path)
            record = persistence.metadata(f)
            if record is None or record.endtime is None:
                continue
            mtime = _snakemake_mtime(path)
            if abs(mtime - float(record.endtime)) > 1e-3 or STAMP in (record.input or []):
                persistence.cleanup_metadata(f)
                dropped.append(path)
        return dropped
    except Exception as e:  # internals moved: keep Snakemake's behaviour, say so
        print(f"dvc_interop: could not check Snakemake metadata ({type(e).__name__}: {e})", file=sys.stderr)
        return []


def _snakemake_mtime(path: str) -> float:
    """The mtime Snakemake records for an output: a directory's .snakemake_timestamp when there is one."""
    p = Path(path)
    if p.is_dir() and (p / ".snakemake_timestamp").exists():
        return (p / ".snakemake_timestamp").stat().st_mtime
    return os.stat(p, follow_symlinks=False).st_mtime


def stages_for_outputs(outputs: Iterable[str], stages: dict[str, list[str]]) -> list[str]:
    names = []
    for f in outputs:
        s = stage_of(f, stages)
        if s is not None and s not in names:
            names.append(s)
    return names


def commit(root: str | os.PathLike, job_outputs: Iterable[str], log=print) -> list[str]:
    """`dvc commit --force` the DVC stages that own `job_outputs` (all outputs of a successful Snakemake run),
    so that dvc.lock records what Snakemake produced. Returns the committed stage names."""
    root = Path(root)
    if not enabled() or not is_dvc_repo(root):
        return []
    try:
        stages = dvc_stages(root)
    except Exception as e:
        log(f"dvc_interop: dvc.yaml could not be read ({e}); dvc.lock not updated")
        return []
    names = [s for s in stages_for_outputs(job_outputs, stages)
             if all((root / o).exists() for o in stages[s])]
    if not names:
        return []
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    cmd = [sys.executable, "-m", "dvc", "commit", "--force", "--quiet", *names]
    res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        log(f"dvc_interop: `dvc commit --force` failed (exit {res.returncode}); dvc.lock not updated:\n"
            f"{res.stderr.strip() or res.stdout.strip()}")
        return []
    log(f"dvc_interop: dvc.lock now records {len(names)} stage(s) run or checked by Snakemake")
    return names


def main(argv: list[str] | None = None) -> int:
    """`python workflow/scripts/dvc_interop.py status`: which DVC stages the Snakefile would treat as done."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["status"])
    ap.add_argument("--root", default=".")
    args = ap.parse_args(argv)
    state = read_state(args.root)
    print(state.note)
    for name in sorted(state.up_to_date):
        print(f"  up to date: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
