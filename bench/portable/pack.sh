#!/bin/bash
# Packs what bench/ray-scale.ts needs to run panda-push-topple on a bare x86-64 Linux host that has
# Python 3.12 with numpy, numba, scipy, opencv, pillow, pyyaml, msgpack and grpcio (as an ML image
# does) but no Node.js and no package index: the 16-core runs in docs/scale-out.md were made so.
# Two packs, each under 64 MB, because the host it was written for took at most that per call:
#
#   .pack-ray/    Ray 2.60 for CPython 3.12, stripped of RLlib/Data/Serve/Train/Tune, the Java jars
#                 and the dashboard's source maps, its binaries stripped of symbols (≈ 24 MB)
#   .pack-scale/  this machine's node binary (xz), the bench bundled by esbuild with zeromq's
#                 linux-x64 glibc addon, robosuite with only the assets the Panda push envs load,
#                 and mujoco/pyzmq wheels for CPython 3.12 (≈ 42 MB)
#
# Then on the host, from a copy of the repository with the packs in place (two steps, because each
# pack alone fits the 64 MB the host took per transfer; /tmp must survive between them):
#   bash bench/portable/unpack-ray.sh      (optional: without it the bench runs local servers only)
#   WORKERS=1,2,4,8,16 K=2 OUT=DIR bash bench/portable/run-scale.sh
#
# Needs sim/.venv (scripts/setup-sim.sh) and node_modules here; downloads wheels from PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-3.12}
ABI=cp${PY/./}
WHEELS=${WHEELS:-/tmp/csc-portable-wheels}
mkdir -p "$WHEELS"
get() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$WHEELS" "$@"
}
get ray==2.60.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 \
  mujoco==3.3.7 pyzmq==27.3.0 glfw==2.11.0 termcolor==3.3.0
rm -rf .pack-ray .pack-scale
mkdir -p .pack-ray/whl .pack-scale/whl .pack-scale/bundle .pack-scale/node_modules

# Ray, trimmed
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && unzip -q "$WHEELS"/ray-2.60.0-"$ABI"-*.whl 'ray/*' \
  && rm -rf ray/jars ray/rllib ray/data ray/serve ray/tune ray/train ray/llm ray/air ray/workflow \
  && rm -f ray/dashboard/client/build/static/js/*.map \
  && strip ray/_raylet.so ray/core/src/ray/gcs/gcs_server ray/core/src/ray/raylet/raylet \
  && tar cf - ray) | xz -T0 -6 > .pack-ray/ray312.tar.xz
cp "$WHEELS"/{jsonschema-4.26.0,jsonschema_specifications-2025.9.1,referencing-0.37.0,rpds_py-2026.9.1}-*.whl .pack-ray/whl/

# robosuite: its code and XML, and of its meshes and textures only those the Panda push envs load
site=$(sim/.venv/bin/python -c 'import robosuite, os; print(os.path.dirname(os.path.dirname(robosuite.__file__)))')
PYTHONPATH=sim sim/.venv/bin/python - "$site" > "$tmp/keep.txt" <<'PY'
import os, re, sys
from csc_sim.envs import make
site = sys.argv[1]
root = os.path.join(site, "robosuite")
need = set()
for env_id in ("panda-push-topple", "panda-push-boundary"):
    env = make(env_id)
    env.reset(seed=0)
    world = next(v for v in vars(env).values() if hasattr(v, "model") and hasattr(v.model, "get_xml"))
    need |= {os.path.realpath(f) for f in re.findall(r'file="([^"]+)"', world.model.get_xml())}
for d, _, files in os.walk(root):
    if "__pycache__" in d:
        continue
    for f in files:
        p = os.path.join(d, f)
        if "/models/assets/" not in p or f.endswith((".xml", ".json")) or os.path.realpath(p) in need:
            print(os.path.relpath(p, site))
PY
tar cf - -C "$site" -T "$tmp/keep.txt" | xz -T0 -6 > .pack-scale/robosuite.tar.xz
cp "$WHEELS"/{mujoco-3.3.7,pyzmq-27.3.0,glfw-2.11.0,termcolor-3.3.0}-*.whl .pack-scale/whl/

# Node: the binary, the bench bundled (two folders down, so its REPO_ROOT is the repository), zeromq
xz -T0 -6 -c "$(command -v node)" > .pack-scale/node.xz
npx esbuild bench/ray-scale.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --external:zeromq --external:msgpackr-extract '--external:@tensorflow/*' --outfile=.pack-scale/bundle/ray-scale.mjs \
  "--banner:js=import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
cp -r node_modules/zeromq node_modules/cmake-ts .pack-scale/node_modules/
addon=$(node -e "require('zeromq'); console.log(Object.keys(require.cache).find((k) => k.endsWith('addon.node')) ?? '')")
[ -f "$addon" ] || { echo "pack.sh: cannot tell which zeromq addon this Node loads (got '$addon')" >&2; exit 1; }
(cd .pack-scale/node_modules/zeromq && rm -rf src build/darwin build/win32 build/linux/arm64 \
  && find build/linux/x64/node -mindepth 1 -maxdepth 1 ! -name "$(basename "$(dirname "$addon")")" -exec rm -rf {} +)
rm -rf .pack-scale/node_modules/cmake-ts/src
find .pack-scale/node_modules -name '*.map' -delete
du -sh .pack-ray .pack-scale
