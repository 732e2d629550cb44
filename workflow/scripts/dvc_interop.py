"""DVC <-> Snakemake interoperability: either front end may run after the other without redoing finished work, and
neither records an output as current unless the stage that makes it ran with the current params, code and inputs.

The two front ends keep different records of what is up to date:

* DVC hashes contents: dvc.lock holds, per stage, the hashes of its deps and outs and the values of its params.
  `dvc checkout` restores outputs with new, arbitrary modification times (treeverse/dvc#8602).
* Snakemake compares modification times (an input newer than the oldest output reruns the job) and, where it
  ran a job itself, its metadata in .snakemake/ (params, shell command, set of inputs).

Measured with Snakemake 9.27 and DVC 3.67 on this workflow (tests/workflow/test_interop.py and
test_provenance.py repeat the measurements): after `dvc repro`, `snakemake -n` finds nothing to do only by luck
of the order in which DVC wrote the files; after `dvc checkout` (new mtimes) it wants to rerun every job whose
input now looks newer than its output; and after `snakemake`, `dvc status` reports every stage as changed because
dvc.lock never saw those outputs.

Two hooks close the gap, both wired in workflow/rules/common.smk:

1. Parse time (main Snakemake process only): ask DVC which stages are up to date (`Repo.status()`, the same
   check as `dvc status`: hashes, cached by DVC's state database, so fast after the first call), and read DVC's
   stage graph.
   a. A stage that is up to date AND whose every upstream stage (transitively) is up to date has outputs made
      from exactly its current deps, params and command, and none of its inputs will be remade in this run
      for a reason DVC knows of; for the matching Snakemake job the inputs are wrapped in `ancient()`: their
      mtimes cannot trigger a rerun. ("Trusted" below.) A stage DVC calls up to date whose upstream is NOT up
      to date is left to Snakemake's rules: its upstream job will run, and Snakemake reruns every job
      downstream of a job it runs unless all the inputs it takes from that job are ancient() -- which is how
      the first version of this module let evaluate, neighbours, the tables... keep results made from the old
      samples after a sampling parameter changed. `--forceall` / `-f` trust nothing; `--forcerun
      RULE` trusts nothing downstream of RULE's stages.
   b. Where Snakemake metadata of an output of an up-to-date stage no longer describes the file on disk (DVC
      rewrote or restored it since Snakemake recorded it: the recorded end time differs from the file's mtime),
      or records the stamp of c., or marks the output incomplete (a killed job that `dvc repro` has finished
      since), that record is dropped, as `snakemake --cleanup-metadata FILE` would, so a params change already
      carried out by `dvc repro` is not redone by Snakemake, and a killed job DVC completed is neither refused
      (IncompleteFilesException) nor redone (--rerun-incomplete).
   c. A stage DVC reports changed (params, command, code or deps changed, an output missing or modified, or not
      recorded in dvc.lock at all) gets one more input, a stamp file touched at parse time: Snakemake reruns it,
      so that both front ends call the same stages stale. Without this, an output that only DVC ever made has
      no Snakemake metadata, so Snakemake could not see a params change at all.
   Snakemake's own triggers (params, code, input set, missing output, mtime elsewhere) all stay on.
2. When the run ends (`onsuccess:`, and `onerror:` for the jobs that did finish): `dvc commit --force
   --no-relink` exactly the DVC stages whose jobs ran in this run, one by one in DAG order (a progress line
   each), so dvc.lock records what Snakemake produced and `dvc status` / `dvc repro` find nothing to do. A stage
   Snakemake did not run is never committed: if it is stale, it stays stale in dvc.lock too. `--no-relink`
   leaves the files Snakemake made in place (a relink rewrites them, and their new mtimes would make their
   consumers look older than their inputs). Nothing is committed after `--touch` (nothing ran) or when
   params.yaml changed during the run (the jobs ran with the old values). Then DVC is asked once more, and the
   stages of this run it still reports stale (possible only where Snakemake reran a stage for a reason of its
   own and a consumer DVC trusted was kept) are named.

Another front end at work here (`dvc repro`, another snakemake) makes the run refuse at parse time, naming it
(WorkflowLock). When DVC cannot be asked (no DVC repository, a broken dvc.yaml, or SCOREREPRO_DVC_INTEROP=0), the
Snakefile says so on stderr and plain Snakemake rules decide (mtimes and Snakemake's metadata); the closing commit
still records exactly the stages that ran.
Only the main process talks to DVC: cluster jobs re-read the Snakefile and must not race on the DVC lock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

ENV_SWITCH = "SCOREREPRO_DVC_INTEROP"
STAMP = ".snakemake/dvc-interop/changed-according-to-dvc"


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").lower() not in ("0", "false", "no", "off")


def is_dvc_repo(root: str | os.PathLike) -> bool:
    return (Path(root) / ".dvc").is_dir() and (Path(root) / "dvc.yaml").is_file()


def _norm(path: str | os.PathLike) -> str:
    return str(PurePosixPath(os.path.normpath(str(path)).replace(os.sep, "/")))


def _quiet_dvc():
    for name in ("dvc", "dvc_data", "dvc_objects", "scmrepo"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _stage_graph(repo) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """Every stage of dvc.yaml (foreach/matrix resolved) with its output paths, and the stages each depends on
    directly (DVC's own graph: a dep that is, holds or lies inside another stage's output)."""
    stages = {s.name: [_norm(o.def_path) for o in s.outs] for s in repo.index.stages}
    graph = repo.index.graph  # edges go from a stage to the stages it depends on
    upstream = {s.name: {d.name for d in graph.successors(s)} for s in graph.nodes}
    return stages, upstream


def dvc_stages(root: str | os.PathLike) -> dict[str, list[str]]:
    """Every stage of dvc.yaml (foreach/matrix resolved) with its output paths, relative to root."""
    from dvc.repo import Repo

    _quiet_dvc()
    with Repo(str(root)) as repo:
        return _stage_graph(repo)[0]


def stage_of(path: str | os.PathLike, stages: dict[str, list[str]]) -> str | None:
    """The stage whose output is `path` or holds it (a completion marker inside a persistent output folder)."""
    p = PurePosixPath(_norm(path))
    for name, outs in stages.items():
        for o in outs:
            op = PurePosixPath(o)
            if p == op or op in p.parents:
                return name
    return None


def downstream_of(names: Iterable[str], upstream: dict[str, set[str]]) -> set[str]:
    """`names` and every stage that depends on one of them, directly or not."""
    below: dict[str, set[str]] = {}
    for stage, ups in upstream.items():
        for u in ups:
            below.setdefault(u, set()).add(stage)
    todo, seen = list(names), set(names)
    while todo:
        for d in below.get(todo.pop(), ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def dag_order(names: Iterable[str], upstream: dict[str, set[str]]) -> list[str]:
    """`names`, each after the stages it depends on (directly or not), otherwise sorted."""
    names = set(names)
    order: list[str] = []
    done: set[str] = set()

    def visit(n, path=()):
        if n in done or n in path:
            return
        for u in sorted(upstream.get(n, ())):
            visit(u, path + (n,))
        done.add(n)
        if n in names:
            order.append(n)

    for n in sorted(names):
        visit(n)
    return order


class WorkflowBusy(Exception):
    """Another front end (`dvc repro`, another snakemake, any dvc command) holds this workspace."""


def _holder_of_repo_lock(root: Path) -> str:
    """Who holds DVC's repository lock: zc.lockfile writes the holder's pid into .dvc/tmp/lock."""
    import psutil

    try:
        pid = int((root / ".dvc" / "tmp" / "lock").read_text().split()[0])
        return f"(PID {pid}): {' '.join(psutil.Process(pid).cmdline())}"
    except (OSError, ValueError, IndexError, psutil.Error):
        return "an unknown process"


class WorkflowLock:
    """One lock for both front ends, made of DVC's own two locks so that `dvc` itself honours it.

    `dvc repro` (and every dvc command that touches stages) holds DVC's repository lock (.dvc/tmp/lock, an
    flock) from start to end. Snakemake's main process takes that lock only briefly, and while holding it
    write-locks the whole workspace in DVC's rwlock file (.dvc/tmp/rwlock: one entry, the repository root, with
    this process's pid and command line), then keeps that entry until the run ends. Any dvc command checks the
    rwlock before it reads or writes a stage and refuses at once, naming this pid and command; a dead holder's
    entry is dropped by DVC (and by the next acquire) because its pid no longer exists, and a dead holder's flock
    is released by the kernel. Snakemake's own closing `dvc commit` runs under the same pid and command, which
    DVC counts as the holder itself."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.repo = None
        self._rw = None

    def acquire(self) -> None:
        """Hold the workspace, or raise WorkflowBusy naming the holder."""
        from dvc.lock import LockError
        from dvc.repo import Repo, lock_repo
        from dvc.rwlock import rwlock

        _quiet_dvc()
        repo = Repo(str(self.root))
        try:
            with lock_repo(repo):
                rw = rwlock(repo.tmp_dir, repo.fs, " ".join(sys.argv), [], [repo.root_dir],
                            repo.config["core"].get("hardlink_lock", False))
                rw.__enter__()
        except LockError as e:
            repo.close()
            holder = (str(e) if "blocked by" in str(e)
                      else f"DVC's repository lock is held by {_holder_of_repo_lock(self.root)}")
            raise WorkflowBusy(holder.split("\n\n")[0]) from None
        except Exception:
            repo.close()
            raise
        self.repo, self._rw = repo, rw

    @property
    def held(self) -> bool:
        return self._rw is not None

    def release(self) -> None:
        if self._rw is None:
            return
        from dvc.repo import lock_repo

        rw, self._rw = self._rw, None
        try:
            with lock_repo(self.repo):
                rw.__exit__(None, None, None)
        finally:
            self.repo.close()


def busy_message(reason: str) -> str:
    return (f"refusing to run: another front end is working in this workspace ({reason.strip()}). Wait for it to "
            "finish or stop it; a holder that died is taken over on the next run")


def clear_dead_snakemake_locks(root: str | os.PathLike) -> int:
    """Remove the locks under .snakemake/locks that a killed Snakemake left. Call only while holding the
    WorkflowLock: every Snakemake run that could own those locks holds it too, so the owner is dead."""
    locks = Path(root) / ".snakemake" / "locks"
    gone = 0
    for f in locks.glob("*.lock") if locks.is_dir() else ():
        f.unlink(missing_ok=True)
        gone += 1
    return gone


def params_digest(root: str | os.PathLike) -> str | None:
    p = Path(root) / "params.yaml"
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None


class DvcState:
    """What DVC knows, read once at Snakefile parse time: every stage's outputs and direct upstream stages, the
    stages DVC holds up to date, the ones it reports changed, and from these the trusted ones (up to date, and
    so is everything upstream). `asked` is False when DVC could not or need not be asked (`note` says why)."""

    def __init__(self, root: str | os.PathLike, stages: dict[str, list[str]] | None = None,
                 up_to_date: set[str] | None = None, changed: set[str] | None = None, note: str = "",
                 upstream: dict[str, set[str]] | None = None, asked: bool = False):
        self.root = Path(root)
        self.stages = stages or {}
        self.up_to_date = set(up_to_date or ())
        self.changed = set(changed or ())
        self.upstream = upstream or {s: set() for s in self.stages}
        self.note = note
        self.asked = asked
        self.params_digest = params_digest(root)
        self.trusted = {s for s in self.up_to_date if _closure(s, self.upstream) <= self.up_to_date}
        self._cache: dict[str, str | None] = {}
        self.unmakeable: dict[str, list[str]] = {}  # changed stages whose missing deps no stage makes
        if self.changed:  # newer than every output now on disk
            stamp = self.root / STAMP
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()

    def distrust(self, names: Iterable[str]) -> set[str]:
        """Trust neither `names` nor anything downstream of them (forced reruns); returns what was trusted."""
        lost = downstream_of(names, self.upstream) & self.trusted
        self.trusted -= lost
        return lost

    def stage_of(self, path: str) -> str | None:
        if path not in self._cache:
            self._cache[path] = stage_of(path, self.stages)
        return self._cache[path]

    def is_up_to_date(self, output_path: str) -> bool:
        """True when DVC holds the stage that produces `output_path` up to date (its own deps, params, outs)."""
        stage = self.stage_of(output_path)
        return stage is not None and stage in self.up_to_date

    def is_trusted(self, output_path: str) -> bool:
        """True when the stage producing `output_path` and every stage upstream of it are up to date in DVC's
        view: the only case where its inputs may be ancient()."""
        stage = self.stage_of(output_path)
        return stage is not None and stage in self.trusted

    def must_rerun(self, output_path: str) -> bool:
        """True when DVC reports the stage producing `output_path` changed."""
        stage = self.stage_of(output_path)
        return stage is not None and stage in self.changed


def _closure(stage: str, upstream: dict[str, set[str]]) -> set[str]:
    """Every stage upstream of `stage`, directly or not."""
    seen: set[str] = set()
    todo = list(upstream.get(stage, ()))
    while todo:
        u = todo.pop()
        if u not in seen:
            seen.add(u)
            todo.extend(upstream.get(u, ()))
    return seen


def _unmakeable_deps(repo, stages: dict[str, list[str]], names: Iterable[str]) -> dict[str, list[str]]:
    """For each stage of `names` whose outputs exist: its deps that do not exist and that no stage makes (an
    output, one inside an output folder, or a folder holding outputs). Such a stage cannot run under either front
    end; Snakemake would otherwise drop its job silently and keep the old outputs."""
    outs = [PurePosixPath(o) for paths in stages.values() for o in paths]
    names = set(names)
    found: dict[str, list[str]] = {}
    for s in repo.index.stages:
        # without its outputs, Snakemake cannot drop the job silently: it fails on the missing input itself
        if s.name not in names or not all((Path(repo.root_dir) / o).exists() for o in stages[s.name]):
            continue
        for d in s.deps:
            path = _norm(d.def_path)
            p = PurePosixPath(path)
            if (Path(repo.root_dir) / path).exists() or any(p == o or o in p.parents or p in o.parents
                                                            for o in outs):
                continue
            found.setdefault(s.name, []).append(path)
    return found


def read_state(root: str | os.PathLike, repo=None) -> DvcState:
    """DVC's view of the workspace, or an empty state (asked=False, and a note why) when DVC cannot or need not be
    asked. `repo`: an open dvc Repo to ask (the one holding the WorkflowLock)."""
    root = Path(root)
    if not enabled():
        return DvcState(root, note=f"{ENV_SWITCH}=0")
    if not is_dvc_repo(root):
        return DvcState(root, note="not a DVC repository")
    if not (root / "dvc.lock").is_file():
        return DvcState(root, note="no dvc.lock yet")
    try:
        from dvc.repo import Repo, lock_repo

        _quiet_dvc()
        own = repo is None
        repo = Repo(str(root)) if own else repo
        try:
            with lock_repo(repo):
                stages, upstream = _stage_graph(repo)
                # keys are "dvc.yaml:name" style addresses for stages outside the root's dvc.yaml
                changed = {k.rsplit(":", 1)[-1] for k in repo.status()}
                unmakeable = _unmakeable_deps(repo, stages, changed)
        finally:
            if own:
                repo.close()
    except Exception as e:  # DVC busy (lock), broken dvc.yaml, ...: fall back to plain Snakemake rules
        return DvcState(root, note=f"dvc status failed ({type(e).__name__}: {e})")
    up = {name for name in stages if name not in changed}
    changed &= set(stages)
    state = DvcState(root, stages, up, changed, upstream=upstream, asked=True)
    state.unmakeable = unmakeable
    note = f"{len(up)} of {len(stages)} DVC stages up to date"
    waiting = up - state.trusted
    if waiting:
        note += f" ({len(waiting)} of them downstream of a changed stage: mtimes decide for those)"
    if changed:
        note += f"; changed, so rerun when requested: {', '.join(sorted(changed))}"
    state.note = note
    return state


def fallback_message(state: DvcState) -> str:
    """What the Snakefile prints when DVC was not asked."""
    msg = (f"dvc_interop: DVC not asked ({state.note}): plain Snakemake decides what is stale (mtimes and "
           "Snakemake's own records)")
    if enabled() and is_dvc_repo(state.root):
        msg += "; dvc.lock will record only the stages this run runs"
    return msg


def forget_stale_metadata(workflow, state: DvcState, output_paths: Iterable[str]) -> list[str]:
    """Drop Snakemake metadata of outputs of up-to-date DVC stages when DVC rewrote the file after Snakemake
    recorded it (recorded end time != file mtime), when the record lists the stamp as an input, or when Snakemake
    marks the output incomplete (its job was killed, and `dvc repro` has made it since). Uses
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
            if persistence._filter_incomplete_keys([persistence._get_key(f)]):
                # a killed job's output that DVC has since made: Snakemake would refuse or redo it
                persistence.cleanup_metadata(f)
                dropped.append(path)
                continue
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


class CommitFailed(Exception):
    """The closing `dvc commit` failed: dvc.lock does not record this run."""


def commit(root: str | os.PathLike, ran_outputs: Iterable[str], log: Callable[[str], None] = print, *,
           parsed_params_digest: str | None = None, dag_outputs: Iterable[str] = ()) -> list[str]:
    """Record in dvc.lock the DVC stages whose jobs ran in this Snakemake run (`ran_outputs`: the outputs of the
    finished jobs), as `dvc commit --force --no-relink` would, in DAG order with a progress line each. A stage
    with a stage upstream of it that DVC still calls stale is not recorded: its outputs were made from stale
    inputs. Then name the stages of this run's DAG (`dag_outputs`: every job of it) that DVC still reports stale:
    the ones that ran but were not recorded, and the ones that read what this run remade. `parsed_params_digest`:
    params.yaml's digest when the Snakefile was parsed; when it differs now, the jobs ran with other values than
    params.yaml holds, and nothing is committed. Returns the committed stage names; raises CommitFailed when DVC
    fails.

    The cost follows the jobs that ran, not the DAG: dvc.yaml is collected once, only the stages above, of and
    below the run are asked for their status, and dvc.lock is rewritten once (`Repo.commit` per stage re-collects
    every stage, reparses and rewrites the whole lock each time, and `Repo.status(targets=...)` collects dvc.yaml
    once per target)."""
    root = Path(root)
    if not enabled():
        log(f"dvc_interop: {ENV_SWITCH}=0: dvc.lock not updated")
        return []
    if not is_dvc_repo(root):
        return []
    if parsed_params_digest is not None and params_digest(root) != parsed_params_digest:
        log("dvc_interop: params.yaml changed while Snakemake ran, so this run's jobs used other values than it "
            "now holds: dvc.lock not updated (run snakemake or dvc repro again)")
        return []
    try:
        from dvc.repo import Repo, lock_repo

        _quiet_dvc()
        with Repo(str(root)) as repo, lock_repo(repo):
            stages, upstream = _stage_graph(repo)
            by_name = {s.name: s for s in repo.index.stages}
            finished = stages_for_outputs(ran_outputs, stages)
            ran = [s for s in finished if all((root / o).exists() for o in stages[s])]
            order = dag_order(ran, upstream)
            above = set().union(*(_closure(s, upstream) for s in order)) - set(order)
            order, held_back = _without_stale_upstream(order, upstream, _stale(by_name, above))
            for name, why in held_back.items():
                log(f"dvc_interop: not recorded: {name} (made from {', '.join(why)}, which DVC calls stale)")
            _record(by_name, order, log)
            in_dag = set(stages_for_outputs(dag_outputs, stages))
            stale = sorted(_stale(by_name, _maybe_stale_after(finished, order, upstream) & in_dag))
    except Exception as e:
        msg = (f"dvc_interop: dvc commit failed ({type(e).__name__}: {e}); dvc.lock does not record this run "
               "(`dvc status` shows what is stale, `dvc commit STAGE` records a stage)")
        log(msg)
        raise CommitFailed(msg) from e
    if stale:
        log(f"dvc_interop: DVC still reports {len(stale)} stage(s) of this run stale: {', '.join(stale)}; "
            "run snakemake (or dvc repro) again to remake them")
    return order


def _stale(by_name: dict, names: Iterable[str]) -> set[str]:
    """The stages of `names` that `dvc status` reports changed (the caller holds the repository lock)."""
    return {name for name in names if by_name[name].status()}


def _record(by_name: dict, order: list[str], log: Callable[[str], None]) -> None:
    """`dvc commit --force --no-relink` of the stages of `order` (the caller holds the repository lock): each
    stage's deps and outs hashed, its outs moved into the cache, and then dvc.lock rewritten once. Stages saved
    before a failure are still written."""
    if not order:
        return
    log(f"dvc_interop: recording in dvc.lock the {len(order)} stage(s) this run ran")
    saved = []
    try:
        for i, name in enumerate(order, 1):
            log(f"dvc_interop: dvc commit [{i}/{len(order)}] {name}")
            stage = by_name[name]
            stage.save()
            stage.commit(relink=False)
            saved.append(stage)
    finally:
        by_file: dict[str, list] = {}  # each stage holds its own dvcfile object: group them by path
        for stage in saved:
            by_file.setdefault(stage.dvcfile.path, []).append(stage)
        for group in by_file.values():
            group[0].dvcfile.dump_stages(group, update_pipeline=False)
    log(f"dvc_interop: dvc.lock now records {len(order)} stage(s) run by Snakemake")


def _maybe_stale_after(finished: list[str], committed: list[str], upstream: dict[str, set[str]]) -> set[str]:
    """The stages DVC may call stale once `committed` is recorded: those of `finished` (every stage with a job
    that finished) left unrecorded, and the direct consumers of `finished` that were not recorded (they read
    outputs this run remade). Anything further down reads only outputs that did not change."""
    consumers = {stage for stage, ups in upstream.items() if ups & set(finished)}
    return (set(finished) | consumers) - set(committed)


def _without_stale_upstream(order: list[str], upstream: dict[str, set[str]], stale: set[str],
                            ) -> tuple[list[str], dict[str, list[str]]]:
    """`order` split into the stages whose whole upstream is current (or recorded earlier in `order`) and the
    others, each with the stale stages above it."""
    kept, held_back = [], {}
    for name in order:
        bad = sorted(_closure(name, upstream) & (stale | set(held_back)))
        if bad:
            held_back[name] = bad
        else:
            kept.append(name)
    return kept, held_back


def main(argv: list[str] | None = None) -> int:
    """`python workflow/scripts/dvc_interop.py status`: which DVC stages the Snakefile would treat as done."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["status"])
    ap.add_argument("--root", default=".")
    args = ap.parse_args(argv)
    state = read_state(args.root)
    print(state.note if state.asked else fallback_message(state))
    for name in sorted(state.up_to_date):
        print(f"  {'trusted' if name in state.trusted else 'up to date, upstream changed'}: {name}")
    for name in sorted(state.changed):
        print(f"  changed: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
