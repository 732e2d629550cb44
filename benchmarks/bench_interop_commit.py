"""The closing `dvc commit` of a Snakemake run (workflow/scripts/dvc_interop.py::commit), timed in a workspace
whose stages are all current: as the hook runs after a run whose jobs made the given stages, with the run's DAG
being every stage of dvc.yaml. Recommitting current outputs leaves dvc.lock as it was.

    python benchmarks/bench_interop_commit.py --root COPY_OF_A_WORKSPACE ncsn_evaluate@fig5_mnist ...

Run it in a copy (dvc.yaml, dvc.lock, params.yaml, src, workflow, the outputs, .dvc with its cache, `git init`):
it takes DVC's repository lock and rewrites dvc.lock."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
import dvc_interop  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="the workspace copy to commit in")
    ap.add_argument("stages", nargs="+", help="the stages the run made (dvc.yaml names, e.g. ncsn_evaluate@fig5_mnist)")
    args = ap.parse_args()
    os.chdir(args.root)  # as the Snakefile's hook runs: DVC resolves stage paths against the working directory
    stages = dvc_interop.dvc_stages(args.root)
    ran = [o for name in args.stages for o in stages[name]]
    dag = [o for outs in stages.values() for o in outs]
    start = time.perf_counter()
    done = dvc_interop.commit(args.root, ran, log=lambda m: print(f"{time.perf_counter() - start:7.2f} s {m}"),
                              dag_outputs=dag)
    wall = time.perf_counter() - start
    print("RESULT " + json.dumps({"stages_committed": len(done), "dag_stages": len(stages), "wall_s": round(wall, 2)}))


if __name__ == "__main__":
    main()
