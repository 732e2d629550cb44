#!/usr/bin/env bash
# The gpu_h100 NCSN image study on a short GPU rental (15 minutes of device time, a machine start included; one call runs 10 minutes at
# most): the gpu_h100 profile's NCSN image study, the four experiments side by side on the one GPU, through the
# pipeline's own stages (benchmarks/gpu_profile_ncsn.py), ending in results/ncsn/claims.csv at the paper's MNIST
# network. Run from the repository root on the device machine with
#   carry: data/processed/mnist_embedded data/reference/mnist_embedded/reference.json
#          models/classifier/mnist_embedded .whl   (.whl: jsonschema, referencing, rpds-py, pytorch-fid wheels)
#   OUT=<folder for what comes back> bash benchmarks/gpu_lease_profile.sh
# PROFILE_SETS: `--set A.B.KEY=VALUE` arguments for the driver (a CPU dry run shrinks the profile with them).
set -u
OUT=${OUT:?set OUT}
CHAIN_S=${CHAIN_S:-420}
TOTAL_S=${TOTAL_S:-555}

. benchmarks/_device_env.sh
cat "$OUT/device.txt"
# Sample the GPU's use while the chains run (how full one GPU is with four of them).
( nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 > "$OUT/gpu_use.csv" 2>&1 & echo $! > /tmp/smi.pid ) 2>/dev/null

python3 benchmarks/gpu_profile_ncsn.py --out /tmp/profile --chain-deadline-s "$CHAIN_S" --deadline-s "$TOTAL_S" \
  ${PROFILE_SETS:-} 2>&1 | tee "$OUT/profile.log"
kill "$(cat /tmp/smi.pid)" 2>/dev/null
cp /tmp/profile/profile.json "$OUT/" 2>/dev/null
tar czf "$OUT/profile.tar.gz" -C /tmp profile -C "$PWD" results/ncsn \
  $(ls -d models/ncsn/*/completed.json models/ncsn/*/loss.csv 2>/dev/null) 2>/dev/null
ls -la "$OUT"
