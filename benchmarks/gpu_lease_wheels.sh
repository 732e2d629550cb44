#!/usr/bin/env bash
# Downloads into .whl/ the wheels that benchmarks/gpu_lease_repro.sh installs on the GPU machine (Python 3.12,
# manylinux x86_64, no network there): benchmarks/gpu_lease_wheels.txt, the packages its image lacks for
# `dvc repro` of this project. Prints their total size: they travel with the working tree (64 MiB in all), so the
# sum must leave room for the tree itself. Run from the repository root on a machine with network access.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl  # ignored by .gitignore (/.whl/)
platforms=()
# pip matches manylinux tags exactly: name each glibc level a wheel of this set is published for.
for tag in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64 manylinux_2_27_x86_64 \
           manylinux_2_28_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
grep -v '^#' benchmarks/gpu_lease_wheels.txt | xargs python3 -m pip download --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp "${platforms[@]}" -d .whl
# One version of each package: two wheels of one name stop the whole install there.
dups=$(ls .whl/*.whl | xargs -n1 basename | cut -d- -f1 | tr 'A-Z' 'a-z' | sort | uniq -d)
[ -z "$dups" ] || { echo "more than one wheel of: $dups (delete the older from .whl/)" >&2; exit 1; }
echo "$(ls .whl/*.whl | wc -l) wheels, $(du -cb .whl/*.whl | tail -1 | cut -f1) bytes in all (limit of the carry: 67108864)"
