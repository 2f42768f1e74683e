#!/bin/bash
# First step on the bare host (optional): unpack the trimmed Ray 2.60 for CPython 3.12 from
# .pack-ray/ (made by pack.sh) into /tmp/rayx, check that a local Ray starts and runs actors, and
# mark it usable for run-scale.sh. Run from anywhere inside the repository copy.
set -x
cd "$(dirname "$0")/../.." || exit 1
rm -f /tmp/rayx/ray_ok
nproc; python3 -V; command -v node || echo "no node on this host"; free -g | head -2; df -h /dev/shm | tail -1
mkdir -p /tmp/rayx && tar xJf .pack-ray/ray312.tar.xz -C /tmp/rayx || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/rayx .pack-ray/whl/*.whl || exit 1
cd /tmp && PYTHONPATH=/tmp/rayx timeout 90 python3 - <<'PY' && touch /tmp/rayx/ray_ok
import ray, time
t = time.time()
ray.init(num_cpus=4, include_dashboard=False)
@ray.remote
class A:
    def f(self): return 42
a = [A.remote() for _ in range(4)]
print("ray", ray.__version__, ray.get([x.f.remote() for x in a]), f"{time.time()-t:.1f} s")
ray.shutdown()
PY
ls /tmp/rayx/ray_ok
