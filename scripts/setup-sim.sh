#!/usr/bin/env bash
# Creates the Python simulator environment sim/.venv (Python 3.11) with sim/requirements.txt and an
# editable install of csc_sim. Idempotent: when the venv exists and requirements.txt / pyproject.toml
# are unchanged since the last successful run (a hash stamp in the venv), it returns at once.
#
# Env: CSC_SIM_BASE_PYTHON  the interpreter to build the venv from (default: python3.11 on PATH,
#                           then /usr/bin/python3.11)
#      CSC_SIM_VENV         where to put the venv (default: sim/.venv)
#      CSC_SIM_RAY          0: skip Ray (sim/requirements-ray.txt, `csc train --sim-cluster`; about
#                           200 MB and a minute), installed by default on top of the simulators
#                           with a stamp of its own, so adding it does not rebuild the venv
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
venv="${CSC_SIM_VENV:-$root/sim/.venv}"
stamp="$venv/.csc-sim-stamp"

# MuJoCo offscreen rendering (csc eval --render on car-nav and the Panda) uses OSMesa: a software
# OpenGL that needs no display or GPU. Debian package; installed when we are root, else named.
if ! ldconfig -p 2>/dev/null | grep -q 'libOSMesa\.so'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-sim: installing libosmesa6 (MuJoCo offscreen rendering)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosmesa6 >/dev/null
  else
    echo "setup-sim: libOSMesa not found; install libosmesa6 (e.g. sudo apt-get install libosmesa6) for csc eval --render on MuJoCo envs" >&2
  fi
fi

# Ray layer (docs/scale-out.md): after the simulators, with its own stamp.
ray_stamp="$venv/.csc-sim-ray-stamp"
install_ray() {
  [ "${CSC_SIM_RAY:-1}" = 0 ] && return 0
  local want_ray
  want_ray="$(cat sim/requirements-ray.txt | sha256sum | cut -d' ' -f1)"
  if [ -f "$ray_stamp" ] && [ "$(cat "$ray_stamp")" = "$want_ray" ]; then
    return 0
  fi
  echo "setup-sim: installing Ray (sim/requirements-ray.txt) for --sim-cluster" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r sim/requirements-ray.txt
  "$venv/bin/python" -c 'import ray, ray.util.client' || {
    echo "setup-sim: Ray does not import in $venv; --sim-cluster will not work (set CSC_SIM_RAY=0 to skip it)" >&2
    return 1
  }
  echo "$want_ray" > "$ray_stamp"
}

want="$(cat sim/requirements.txt sim/requirements-nodeps.txt sim/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  install_ray
  exit 0
fi

base="${CSC_SIM_BASE_PYTHON:-}"
if [ -z "$base" ]; then
  for cand in python3.11 /usr/bin/python3.11; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys, venv; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
      base="$cand"; break
    fi
  done
fi
if [ -z "$base" ]; then
  echo "setup-sim: no Python 3.11 found (tried python3.11, /usr/bin/python3.11); install it or set CSC_SIM_BASE_PYTHON" >&2
  exit 1
fi

# Pins changed since the venv was built: rebuild it rather than upgrade in place (switching mujoco
# 4.x ↔ 3.3.x in place leaves a broken import).
if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup-sim: sim/requirements changed; rebuilding $venv" >&2
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "setup-sim: creating $venv with $("$base" --version)" >&2
  "$base" -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check -r sim/requirements.txt
"$py" -m pip install --quiet --disable-pip-version-check --no-deps -r sim/requirements-nodeps.txt
"$py" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e sim
"$py" -c 'import csc_sim, zmq, msgpack, numpy, gymnasium' || {
  echo "setup-sim: the venv at $venv cannot import csc_sim and its dependencies" >&2
  exit 1
}
# robosuite's controllers are numba functions cached on first use (robosuite/utils/__pycache__/*.nbc).
# Compile them once here: otherwise the first Panda step of every fresh venv compiles them, which on
# a loaded two-core machine can outlast the bridge's 10 s step timeout and a ROS node's state timeout.
echo "setup-sim: compiling robosuite's numba controllers (once per venv)" >&2
"$py" -c '
import numpy as np
from csc_sim.envs import make
env = make("panda-push-topple")
env.reset(0)
for _ in range(3):
    env.step(np.zeros(env.spec.act_size, dtype=np.float32))
env.close()
' || { echo "setup-sim: could not build and step panda-push-topple in $venv" >&2; exit 1; }
echo "$want" > "$stamp"
install_ray
echo "setup-sim: ready ($py)" >&2
