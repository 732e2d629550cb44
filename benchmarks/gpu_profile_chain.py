"""One NCSN experiment of a profile through the pipeline's own stages, timed stage by stage: train -> select_sample
-> select -> sample -> evaluate, each as `python -m scorerepro.cli ... --params <derived file>`.

Made for a short GPU lease (the device machine lends 15 minutes all told, less than the 25-minute gpu_h100 profile):
it runs the profile's main chain at a size that fits and records what the profile needs to be sized by
measurement instead of estimate: the stages' wall times (process start, compilation and work together), the
training rate between checkpoints (checkpoint file times: compilation excluded), the selection curve and the
classifier FID of the evaluation samples.

`--set SECTION.KEY=VALUE` overrides the experiment's block (YAML values): e.g. `--set training.n_iters=1200
--set training.compile=false`. A stage that fails is not retried, except a sampling stage that failed with
sampling.cuda_graphs on: it is run once more without CUDA graphs (the failure is kept in its log and in the
record), since the graphs are the one option no GPU run of the stages had tried before. Training stopped by
--deadline-s keeps the checkpoints it wrote, and the chain goes on with them (recorded as `cut`).

Writes OUT/params_chain.yaml, OUT/<stage>.log and OUT/chain.json; prints one `RESULT {json}` line at the end.
The stages write where the pipeline's would (models/ncsn/<experiment>, samples/..., results/...): in a checkout
with the profile's own outputs, run it in a copy; it refuses to start over an existing models/ncsn/<experiment>
unless --overwrite is given.

    python benchmarks/gpu_profile_chain.py --out /tmp/chain --set training.n_iters=1200 --set training.snapshot_freq=400
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def set_at(block: dict, keys: list[str], value: str, item: str) -> None:
    """block[k1][k2]...[kn] = the YAML value, making the sections on the way (`item` names the --set in errors)."""
    for key in keys[:-1]:
        block = block.setdefault(key, {})
        if not isinstance(block, dict):
            raise SystemExit(f"--set {item!r}: {key} is not a section of settings")
    block[keys[-1]] = yaml.safe_load(value)


def read_profile(path: Path) -> dict:
    """A params file; a profile of workflow/params as `scorerepro use-profile` writes it (merged onto quick.yaml)."""
    sys.path.insert(0, str(ROOT / "src"))
    from scorerepro.config import parse_params_yaml, read_params_yaml
    from scorerepro.profiles import profile_text

    if path.resolve().parent == (ROOT / "workflow" / "params").resolve():
        return parse_params_yaml(profile_text(path.stem, path.parent))
    return read_params_yaml(path)


def derived_params(profile: Path, experiment: str, sets: list[str], device: str | None) -> dict:
    """The profile with the experiment's override block changed by `sets` ("section.key=value")."""
    params = read_profile(profile)
    exps = params["ncsn"]["experiments"]
    if experiment not in exps:
        raise SystemExit(f"experiment {experiment!r} is not in {profile} (have: {sorted(exps)})")
    for item in sets:
        key, sep, value = item.partition("=")
        keys = key.split(".")
        if not sep or len(keys) < 2 or not all(keys):
            raise SystemExit(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. training.n_iters=1200")
        set_at(exps[experiment], keys, value, item)
    if device:
        params["device"] = device
    return params


def merged(params: dict, experiment: str) -> dict:
    from scorerepro.papers.ncsn.experiment import experiment_settings

    return experiment_settings(params, experiment)


def run_stage(label: str, argv: list[str], params_file: Path, out: Path, timeout: float | None) -> dict:
    log = out / f"{label}.log"
    cmd = [sys.executable, "-m", "scorerepro.cli", *argv, "--params", str(params_file)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    print(f"[{time.strftime('%H:%M:%S')}] {label}: {' '.join(cmd[2:])}", flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env,
                                timeout=timeout).returncode
            timed_out = False
        except subprocess.TimeoutExpired:
            rc, timed_out = None, True
    wall = time.perf_counter() - t0
    tail = log.read_text(errors="replace").splitlines()[-5:]
    print(f"    {wall:.1f} s, exit {rc}{' (timed out)' if timed_out else ''}: {' | '.join(tail)[-400:]}", flush=True)
    return {"stage": label, "argv": argv, "wall_s": round(wall, 2), "returncode": rc, "timed_out": timed_out}


def training_rates(model_dir: Path) -> dict:
    """Steps per second between the first and last checkpoint, from their file times (no compilation in it)."""
    ckpts = sorted(((int(p.stem.split("_")[1]), p.stat().st_mtime) for p in (model_dir / "checkpoints").glob(
        "checkpoint_*.pt")), key=lambda t: t[0])
    out = {"checkpoints": [s for s, _ in ckpts]}
    if len(ckpts) >= 2:
        (s0, t0), (s1, t1) = ckpts[0], ckpts[-1]
        out["steady_iters_per_second"] = round((s1 - s0) / max(t1 - t0, 1e-9), 3)
    done = model_dir / "completed.json"
    if done.is_file():
        c = json.loads(done.read_text())
        out.update({k: c.get(k) for k in ("step", "seconds_this_run", "iters_per_second", "device",
                                           "torch_version", "last_loss")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="workflow/params/gpu_h100.yaml", help="the profile to start from")
    ap.add_argument("--experiment", default="fig5_mnist")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--device", default=None, help="params' device (default: the profile's)")
    ap.add_argument("--out", required=True, help="folder for the derived params, stage logs and chain.json")
    ap.add_argument("--deadline-s", type=float, default=None,
                    help="stop (kill) the running stage when the chain has run this long: the chain ends there")
    ap.add_argument("--train-budget-s", type=float, default=None,
                    help="stop (kill) training after this many s; it keeps the checkpoints it wrote and the chain "
                         "goes on with them (`cut` in the record)")
    ap.add_argument("--overwrite", action="store_true",
                    help="run even though models/ncsn/<experiment> exists (its outputs are replaced)")
    args = ap.parse_args()
    existing = ROOT / "models/ncsn" / args.experiment
    if existing.exists() and not args.overwrite:
        raise SystemExit(f"{existing} exists: this chain would replace it and the experiment's samples and results. "
                         f"Run it in a copy of the checkout, or pass --overwrite")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    params = derived_params(ROOT / args.params, args.experiment, args.sets, args.device)
    params_file = out / "params_chain.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    exp = merged(params, args.experiment)
    shards = params["sharding"]["shards"]
    name = args.experiment
    record = {"bench": "gpu_profile_chain", "profile": args.params, "experiment": name, "sets": args.sets,
              "settings": {k: exp[k] for k in ("model", "noise", "training", "sampling", "select", "eval")},
              "stages": []}
    start = time.perf_counter()

    def remaining():
        return None if args.deadline_s is None else args.deadline_s - (time.perf_counter() - start)

    def stage(label, argv, may_be_cut=False):
        left = remaining()
        if left is not None and left <= 0:
            record["stages"].append({"stage": label, "skipped": "deadline"})
            return False
        if may_be_cut and args.train_budget_s is not None:
            left = args.train_budget_s if left is None else min(left, args.train_budget_s)
        r = run_stage(label, argv, params_file, out, left)
        record["stages"].append(r)
        if r["timed_out"] and may_be_cut:
            r["cut"] = True
            return any((ROOT / "models/ncsn" / name / "checkpoints").glob("checkpoint_*.pt"))
        return r["returncode"] == 0

    def sampling_stage(label, argv):
        if stage(label, argv):
            return True
        last = record["stages"][-1]
        if last.get("timed_out") or last.get("skipped") or not exp["sampling"].get("cuda_graphs"):
            return False
        print(f"    {label} failed with sampling.cuda_graphs: retrying once without CUDA graphs", flush=True)
        params["ncsn"]["experiments"][name].setdefault("sampling", {})["cuda_graphs"] = False
        exp["sampling"]["cuda_graphs"] = False
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        record["cuda_graphs_fallback"] = label
        (out / f"{label}.log").rename(out / f"{label}.cuda_graphs_failed.log")
        return stage(label, argv)

    ok = stage("train", ["ncsn", "train", name], may_be_cut=True)
    ok = ok and all(sampling_stage(f"select_sample_{s}", ["ncsn", "select_sample", name, str(s)]) for s in shards)
    ok = ok and stage("select", ["ncsn", "select", name])
    ok = ok and all(sampling_stage(f"sample_{s}", ["ncsn", "sample", name, str(s)]) for s in shards)
    ok = ok and stage("evaluate", ["ncsn", "evaluate", name])
    record["completed"] = bool(ok)
    record["total_s"] = round(time.perf_counter() - start, 1)
    record["training"] = training_rates(ROOT / "models/ncsn" / name)
    results = ROOT / "results/ncsn" / name
    for fname in ("selected.json", "metrics.json"):
        if (results / fname).is_file():
            record[fname.removesuffix(".json")] = json.loads((results / fname).read_text())
    curve = results / "fig13_fid_by_iteration.csv"
    if curve.is_file():
        record["fid_by_iteration"] = curve.read_text()
    (out / "chain.json").write_text(json.dumps(record, indent=1, default=str))
    print("RESULT " + json.dumps({k: record.get(k) for k in ("completed", "total_s", "training", "stages")},
                                 default=str), flush=True)


if __name__ == "__main__":
    main()
