#!/bin/bash
# Second step on the bare host: panda-push-topple sim scale-out through the TypeScript RemoteVecEnv
# (bench/ray-scale.ts as pack.sh bundled it): local servers, and Ray actors as well when
# unpack-ray.sh left a working Ray in /tmp/rayx. WORKERS (default 1,2,4,8,16), K envs per server
# (default 2) and OUT (default /tmp/csc-scale-out) are read from the environment.
set -x -o pipefail
cd "$(dirname "$0")/../.." || exit 1
out=${OUT:-/tmp/csc-scale-out}
workers=${WORKERS:-1,2,4,8,16}
k=${K:-2}
mkdir -p "$out"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
mkdir -p /tmp/d && xz -dc .pack-scale/node.xz > /tmp/d/node && chmod +x /tmp/d/node && /tmp/d/node -v || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .pack-scale/whl/*.whl || exit 1
tar xJf .pack-scale/robosuite.tar.xz -C /tmp/site || exit 1
CSC_SIM_PYTHON=$(command -v python3)
export CSC_SIM_PYTHON
modes=local
if [ -f /tmp/rayx/ray_ok ]; then export PYTHONPATH=/tmp/rayx:/tmp/site; modes=local,ray; else export PYTHONPATH=/tmp/site; echo "no Ray from unpack-ray.sh: local servers only"; fi
lscpu | grep -E "Model name|^CPU\(s\)|Thread|Socket"; cat /proc/loadavg
# one env build first, so numba's cache is written once, not by 16 servers at the same time
(cd sim && timeout 120 python3 -c "from csc_sim.envs import make; e = make('panda-push-topple'); e.reset(seed=0); print('panda ok')") || exit 1
timeout 400 /tmp/d/node .pack-scale/bundle/ray-scale.mjs --envs panda-push-topple --workers "$workers" --envs-per-worker "$k" \
  --modes "$modes" --seconds 5 --out "$out/ray-scale-k$k.json" 2>&1 | grep -v -E "robosuite WARNING|^\s*$|__logo__|SyntaxWarning" | tee -a "$out/log.txt"
status=$?
cat /proc/loadavg
exit $status
