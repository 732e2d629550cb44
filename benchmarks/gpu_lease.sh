#!/usr/bin/env bash
# The GPU measurements in one short lease of the device machine (15 minutes of device time all told,
# a machine start included; the tool's run has 10 minutes): run from the repository root there, with
#   carry: data/processed/mnist_embedded data/reference/mnist_embedded/reference.json
#          models/classifier/mnist_embedded .whl   (.whl: jsonschema, referencing, rpds-py, pytorch-fid wheels)
#   OUT=<folder for what comes back> bash benchmarks/gpu_lease.sh
# 1. the gpu_h100 profile's main chain (fig5_mnist, ngf 64) through the pipeline's own stages at a size that fits
#    (benchmarks/gpu_profile_chain.py; training eager: a compile costs minutes, more than this lease's training);
# 2. the CIFAR-10 RefineNet sampler at batch 1,000: bf16 eager, compiled, compiled + CUDA graphs
#    (benchmarks/bench_sampling.py), for the GPU-hours projection of the full CIFAR-10 study.
# Each part is time-boxed so that the other always runs; everything lands in $OUT (at most 8 files come back).
# CHAIN_SETS: more `--set SECTION.KEY=VALUE` for the chain (a CPU dry run of this script shrinks it with them).
set -u
OUT=${OUT:?set OUT}
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
TOTAL_S=${TOTAL_S:-575}
CHAIN_S=${CHAIN_S:-330}

. benchmarks/_device_env.sh
cat "$OUT/device.txt"

echo "== [$(elapsed) s] 1. gpu_h100 fig5_mnist chain"
python3 benchmarks/gpu_profile_chain.py --out /tmp/chain --deadline-s "$CHAIN_S" --train-budget-s 150 \
  --set training.n_iters=1200 --set training.snapshot_freq=400 --set training.compile=false \
  --set sampling.compile=false --set sampling.cuda_graphs=false ${CHAIN_SETS:-} 2>&1 | tee "$OUT/chain.log"
tar czf "$OUT/chain.tar.gz" -C /tmp chain -C "$PWD" results/ncsn/fig5_mnist samples/ncsn/fig5_mnist/eval \
  models/ncsn/fig5_mnist/completed.json models/ncsn/fig5_mnist/loss.csv 2>/dev/null

LEFT=$(( TOTAL_S - $(elapsed) ))
echo "== [$(elapsed) s] 2. CIFAR-10 sampler, $LEFT s left"
timeout "$LEFT" python3 benchmarks/bench_sampling.py --device cuda --batches 1000 --compile-batches 1000 \
  --timed-steps 3 --configs bf16,bf16+cl+compile,bf16+cl+compile+cudagraphs --budget-s $(( LEFT - 90 )) 2>&1 \
  | tee "$OUT/bench_sampling.log"
echo "== [$(elapsed) s] done"
