#!/bin/bash
# Call B on the bare host: panda-push-topple sim scale-out on 16 cores through the TypeScript RemoteVecEnv
# (bench/ray-scale.ts, bundled), local processes then Ray actors (if unpack-ray.sh left Ray in /tmp/rayx).
set -x
mkdir -p "${OUT:-/tmp/csc-scale-out}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
mkdir -p /tmp/d && xz -dc .pack-scale/node.xz > /tmp/d/node && chmod +x /tmp/d/node && /tmp/d/node -v || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .pack-scale/whl/*.whl || exit 1
tar xJf .pack-scale/robosuite.tar.xz -C /tmp/site || exit 1
export CSC_SIM_PYTHON=$(command -v python3)
MODES=local
if [ -f /tmp/rayx/ray_ok ]; then export PYTHONPATH=/tmp/rayx:/tmp/site; MODES="local ray"; else export PYTHONPATH=/tmp/site; echo "no Ray from unpack-ray.sh: local servers only"; fi
lscpu | grep -E "Model name|^CPU\(s\)|Thread|Socket" ; cat /proc/loadavg
# one env build first, so numba's cache is written once, not by 16 servers at the same time
(cd sim && timeout 120 python3 -c "from csc_sim.envs import make; e = make('panda-push-topple'); e.reset(seed=0); print('panda ok')") || exit 1
M=$(echo $MODES | tr ' ' ',')
timeout 400 /tmp/d/node .pack-scale/bundle/ray-scale.mjs --envs panda-push-topple --workers ${WORKERS:-1,2,4,8,16} --envs-per-worker ${K:-2} --modes $M --seconds 5 --out ${OUT:-/tmp/csc-scale-out}/ray-scale-k${K:-2}.json 2>&1 | grep -v -E "robosuite WARNING|^\s*$|__logo__|SyntaxWarning" | tee -a ${OUT:-/tmp/csc-scale-out}/log.txt
cat /proc/loadavg
