# Sourced by the device scripts (gpu_lease.sh, gpu_lease_profile.sh) from the repository root on the GPU machine:
# installs the carried wheels (.whl: what the machine's Python lacks), puts src/ on PYTHONPATH and writes
# $OUT/device.txt (nvidia-smi, torch, CPU count).
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1; python3 -c \
  "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))"; \
  nproc; } > "$OUT/device.txt" 2>&1
