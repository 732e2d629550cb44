"""The real `dvc repro` of a parameter profile in a fresh copy of the repository, under a deadline, for one short
GPU lease (driven by benchmarks/gpu_lease_repro.sh). Writes into --out: dvc.lock, results.tar.gz (results/),
stage_times.csv (one row per stage DVC started: seconds from its start to DVC's lock update), repro.log (DVC's
output, each line with its second), params.yaml and lease.json (what ran, what was left out and why).

The Inception weights (84 MB) cannot travel to an offline GPU machine, so the copy's models/inception holds a note
in their place, committed as the inception_weights stage's output (DVC then does not run that stage), and the
stages that read the network itself (the neighbours figure) are left out of the targets. A stage that reads the
weights anyway fails loudly: the note is not a weights file.

    python benchmarks/gpu_lease_repro.py --out OUT [--work DIR] [--profile gpu_h100] [--overlay FILE]
        [--deadline-s 530] [--targets STAGE ...]
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import yaml

from scorerepro.config import deep_merge

REPO = Path(__file__).resolve().parents[1]
# What `dvc repro` needs of the repository: the DAG, the rules it cites, the schema and profiles, the package.
TREE = ["dvc.yaml", "Snakefile", "workflow", "src", ".dvcignore", ".gitignore"]
# Stages that need the Inception network itself; models/inception is not carried (see the module docstring).
SKIPPED = {"ncsn_neighbours@*": "Inception pool3 nearest neighbours: the Inception weights (84 MB) are not carried"}
PLACEHOLDER_NOTE = ("No Inception weights on this machine (offline; the 84 MB file does not fit the carry). No stage "
                    "of this run reads them: eval/select/chains use the MNIST classifier, and "
                    "datasets.*.inception_reference is false.\n")
RUNNING = re.compile(r"Running stage '([^']+)'")
LOCKED = re.compile(r"Updating lock file")
FAILED = re.compile(r"failed to (?:run|reproduce)")


def apply_overlay(params: dict, overlay: dict) -> dict:
    """`overlay` laid over `params` (config.deep_merge: key by key inside mappings), where a null value deletes the
    key instead (so an overlay can drop an entry the profile has)."""
    merged = deep_merge(params, {k: v for k, v in overlay.items() if v is not None})
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(params.get(key), dict):
            merged[key] = apply_overlay(params[key], value)
    return merged


def make_workspace(work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in TREE:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, work / name)


def tool_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = work / ".bin"
    bin_dir.mkdir(exist_ok=True)
    # The stages are `scorerepro ...` commands; where the package is on PYTHONPATH only (wheels and src/ on the GPU
    # machine) there is no console script, so a shim runs the copy's CLI with this interpreter.
    shim = bin_dir / "scorerepro"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m scorerepro.cli "$@"\n')
    shim.chmod(0o755)
    env.update(PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(p for p in [str(work / "src"), env.get("PYTHONPATH", "")] if p),
               DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(work / ".dvc-site-cache"),
               PYTHONWARNINGS="ignore", PYTHONUNBUFFERED="1")
    return env


def dvc(work: Path, env: dict, *args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=work, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def install_params(work: Path, env: dict, profile: str, overlay: Path | None) -> dict:
    subprocess.run([sys.executable, "-m", "scorerepro.cli", "use-profile", profile], cwd=work, env=env, check=True)
    params = yaml.safe_load((work / "params.yaml").read_text())
    if overlay is not None:
        params = apply_overlay(params, yaml.safe_load(overlay.read_text()))
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # Validated against workflow/schemas/params.schema.json, as every stage will.
    subprocess.run([sys.executable, "-c", "from scorerepro.config import load_params; load_params('params.yaml')"],
                   cwd=work, env=env, check=True)
    return params


def stand_in_for_inception(work: Path, env: dict) -> None:
    folder = work / "models" / "inception"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "NOT_PRESENT.txt").write_text(PLACEHOLDER_NOTE)
    dvc(work, env, "commit", "--force", "inception_weights")


def targets(work: Path, env: dict, wanted: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """Every stage of the DAG (or `wanted`, with what they need), less those needing the Inception network."""
    names = wanted or dvc(work, env, "stage", "list", "--name-only").split()
    left_out = {n: why for n in names for pat, why in SKIPPED.items() if fnmatch.fnmatch(n, pat)}
    return [n for n in names if n not in left_out and n != "inception_weights"], left_out


def run_repro(work: Path, env: dict, stages: list[str], deadline_s: float, log_path: Path) -> dict:
    """`dvc repro` of `stages`, its output timestamped into `log_path`; interrupted (SIGINT to its process group,
    then SIGKILL) when `deadline_s` passes, so the caller still has time to pack what exists."""
    t0 = time.monotonic()
    # --no-commit: no copy of checkpoints into .dvc/cache, which nobody reads on a machine given back after the run.
    # --keep-going: a failing stage costs only what depends on it, not the rest of a lease that will not come back.
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "--no-commit", "--keep-going", *stages], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    stopped = threading.Event()

    def guard() -> None:
        if _wait(proc, deadline_s):
            return
        stopped.set()
        os.killpg(proc.pid, signal.SIGINT)
        if not _wait(proc, 20):
            os.killpg(proc.pid, signal.SIGKILL)

    threading.Thread(target=guard, daemon=True).start()
    events: list[tuple[float, str]] = []
    with log_path.open("w") as log:
        for line in proc.stdout:
            t = time.monotonic() - t0
            log.write(f"[{t:8.1f}] {line}")
            log.flush()
            sys.stdout.write(f"[{t:8.1f}] {line}")
            events.append((t, line))
    rc = proc.wait()
    return {"returncode": rc, "stopped_at_deadline": stopped.is_set(), "seconds": time.monotonic() - t0,
            "events": events}


def _wait(proc: subprocess.Popen, seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def stage_times(events: list[tuple[float, str]], end: float, rc: int, stopped: bool = False) -> list[dict]:
    """One row per stage DVC started: its start, and its end at the lock update that follows, or at DVC's report
    that it failed; a stage still running when the run ended was cut off by the deadline (or failed with it)."""
    rows: list[dict] = []
    for t, line in events:
        m = RUNNING.search(line)
        if m:
            rows.append({"stage": m.group(1), "start_s": round(t, 2), "seconds": None, "status": "running"})
        elif rows and rows[-1]["status"] == "running" and (LOCKED.search(line) or FAILED.search(line)):
            rows[-1].update(seconds=round(t - rows[-1]["start_s"], 2),
                            status="done" if LOCKED.search(line) else "failed")
    for row in rows:
        if row["status"] == "running":
            row.update(seconds=round(end - row["start_s"], 2), status="cut off" if stopped or not rc else "failed")
    return rows


def pack(work: Path, out: Path, result: dict, rows: list[dict], left_out: dict, profile: str) -> None:
    with (out / "stage_times.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["stage", "start_s", "seconds", "status"])
        w.writeheader()
        w.writerows(rows)
    for name in ("dvc.lock", "params.yaml"):
        if (work / name).exists():
            shutil.copyfile(work / name, out / name)
    with tarfile.open(out / "results.tar.gz", "w:gz") as tar:
        if (work / "results").exists():
            tar.add(work / "results", arcname="results")
    summary = {"profile": profile, "returncode": result["returncode"],
               "stopped_at_deadline": result["stopped_at_deadline"], "repro_seconds": round(result["seconds"], 1),
               "stages_done": sum(r["status"] == "done" for r in rows), "stages_started": len(rows),
               "stages_failed": [r["stage"] for r in rows if r["status"] == "failed"],
               "left_out": left_out, "inception_weights": PLACEHOLDER_NOTE.strip()}
    (out / "lease.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "left_out"}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/scorerepro-lease"))
    ap.add_argument("--profile", default="gpu_h100")
    ap.add_argument("--overlay", type=Path, help="YAML merged onto the profile (a CPU dry run's tiny settings)")
    ap.add_argument("--deadline-s", type=float, default=530.0, help="interrupt dvc repro after this many seconds")
    ap.add_argument("--targets", nargs="*", help="stages to reproduce with what they need (default: all)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    make_workspace(args.work)
    env = tool_env(args.work)
    dvc(args.work, env, "init", "--no-scm", "-q")
    install_params(args.work, env, args.profile, args.overlay.resolve() if args.overlay else None)
    stand_in_for_inception(args.work, env)
    stages, left_out = targets(args.work, env, args.targets)
    result = run_repro(args.work, env, stages, args.deadline_s, args.out / "repro.log")
    rows = stage_times(result["events"], result["seconds"], result["returncode"], result["stopped_at_deadline"])
    pack(args.work, args.out, result, rows, left_out, args.profile)
    return 0 if result["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
