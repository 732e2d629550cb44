"""The NCSN image study of a profile (default: gpu_h100) through the pipeline's own stages, without DVC, with the
four experiments side by side on one GPU: made for a lease shorter than the profile run one stage after another.

1. each experiment's chain, train -> select_sample -> select -> sample -> evaluate (benchmarks/gpu_profile_chain.py),
   all four at once as separate processes (one GPU is far from full with one eager ngf-64 training at batch 128);
2. then the sensitivity study, the four summary rows and the NCSN summary, which writes results/ncsn/claims.csv:
   the image claims decided at the profile's network.
Before it starts it removes the checkout's results/ncsn/<experiment>, results/ncsn/sensitivity and the NCSN summary
files (in a copy they are the committed quick-profile results). Not run: inpainting, the figures stage and the neighbours (Inception weights do not fit a 64 MiB carry). The toy
studies are not rerun either: the summary reads the checkout's results/ncsn/toy, whose settings are the same in
gpu_h100.yaml and the quick profile (tests/papers/ncsn/test_ncsn_params.py keeps the non-image blocks equal).

`--set PATH=VALUE` changes the profile at a dotted path (YAML value), e.g. `--set ncsn.defaults.training.n_iters=4`
(a CPU dry run shrinks everything with them). Writes OUT/params.yaml, OUT/<experiment>/ (the chain's logs and
chain.json), OUT/<stage>.log and OUT/profile.json; prints one `RESULT {json}` line. Like the chain, it writes where
the pipeline does (models/ncsn, samples/ncsn, results/ncsn): run it in a copy of the checkout, or on the GPU machine.

    python benchmarks/gpu_profile_ncsn.py --out /tmp/prof --chain-deadline-s 430 --deadline-s 560
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_profile_chain import read_profile, run_stage, set_at  # noqa: E402  (benchmarks/ is not a package)


def derived_profile(profile: Path, sets: list[str]) -> dict:
    params = read_profile(profile)
    for item in sets:
        path, sep, value = item.partition("=")
        keys = path.split(".")
        if not sep or not all(keys):
            raise SystemExit(f"--set {item!r}: expected A.B.KEY=VALUE, e.g. ncsn.defaults.training.n_iters=4")
        set_at(params, keys, value, item)
    return params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="workflow/params/gpu_h100.yaml", help="the profile")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="A.B.KEY=VALUE")
    ap.add_argument("--out", required=True)
    ap.add_argument("--chain-deadline-s", type=float, default=None, help="each chain's --deadline-s")
    ap.add_argument("--deadline-s", type=float, default=None,
                    help="kill a shared stage (sensitivity, summaries) that would run past this many s from the start")
    args = ap.parse_args()
    if (ROOT / "models/ncsn").exists():
        raise SystemExit(f"{ROOT / 'models/ncsn'} exists: this run would replace the pipeline's NCSN outputs. "
                         "Run it in a copy of the checkout")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    params = derived_profile(ROOT / args.params, args.sets)
    params_file = out / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    experiments = list(params["ncsn"]["experiments"])
    # The copy's results/ncsn holds the committed quick-profile results: left there, a stage that fails would leave
    # the quick model's metrics to be read as this run's (and sensitivity would look for its checkpoint).
    results = ROOT / "results/ncsn"
    for stale in [results / n for n in experiments] + [results / "sensitivity", ROOT / "data/ncsn/summary_rows"] + [
            results / f for f in ("summary.csv", "summary.md", "claims.csv", "leaderboard.csv")]:
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    start = time.perf_counter()
    record = {"bench": "gpu_profile_ncsn", "profile": args.params, "sets": args.sets, "chains": {}, "stages": []}

    procs = {}
    for name in experiments:
        cmd = [sys.executable, str(ROOT / "benchmarks/gpu_profile_chain.py"), "--params", str(params_file),
               "--experiment", name, "--out", str(out / name)]
        if args.chain_deadline_s is not None:
            cmd += ["--deadline-s", str(args.chain_deadline_s)]
        log = open(out / f"chain_{name}.log", "w")
        procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log)
        print(f"[{time.strftime('%H:%M:%S')}] chain {name} started", flush=True)
    for name, (proc, log) in procs.items():
        rc = proc.wait()
        log.close()
        chain = out / name / "chain.json"
        summary = json.loads(chain.read_text()) if chain.is_file() else {}
        record["chains"][name] = {"returncode": rc, "wall_s_at_end": round(time.perf_counter() - start, 1),
                                  **{k: summary.get(k) for k in ("completed", "total_s", "training", "stages",
                                                                 "selected", "metrics", "fid_by_iteration")}}
        print(f"[{time.strftime('%H:%M:%S')}] chain {name}: exit {rc}, completed {summary.get('completed')}, "
              f"{summary.get('total_s')} s", flush=True)

    def shared(label: str, argv: list[str]) -> bool:
        left = None if args.deadline_s is None else args.deadline_s - (time.perf_counter() - start)
        if left is not None and left <= 5:
            record["stages"].append({"stage": label, "skipped": "deadline"})
            return False
        r = run_stage(label, argv, params_file, out, left)
        record["stages"].append(r)
        return r["returncode"] == 0

    main_experiment = params["ncsn"]["sensitivity"]["experiment"]
    if (results / main_experiment / "selected.json").is_file():
        shared("sensitivity", ["ncsn", "sensitivity"])
    rows = [shared(f"summary_rows_{n}", ["ncsn", "summary_rows", n]) for n in experiments
            if (results / n / "metrics.json").is_file()]
    if rows and all(rows) and len(rows) == len(experiments):
        shared("summary", ["ncsn", "summary"])
    record["total_s"] = round(time.perf_counter() - start, 1)
    claims = results / "claims.csv"
    if claims.is_file() and record["stages"] and record["stages"][-1].get("stage") == "summary":
        with open(claims, newline="") as f:
            record["claims"] = list(csv.DictReader(f))
    (out / "profile.json").write_text(json.dumps(record, indent=1, default=str))
    brief = {name: {k: c.get(k) for k in ("completed", "total_s")} | {
        "fid": (c.get("metrics") or {}).get("fid_mnist_classifier")} for name, c in record["chains"].items()}
    print("RESULT " + json.dumps({"total_s": record["total_s"], "chains": brief,
                                  "stages": [(s["stage"], s.get("wall_s"), s.get("returncode", s.get("skipped")))
                                             for s in record["stages"]],
                                  "claims": [(c["claim"][:70], c["holds"], c["measured"])
                                             for c in record.get("claims", [])]}, default=str), flush=True)


if __name__ == "__main__":
    main()
