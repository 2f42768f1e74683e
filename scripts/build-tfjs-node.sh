#!/usr/bin/env bash
# Optional: builds @tensorflow/tfjs-node (the native `--backend tensorflow`) without reaching
# Google's storage, against the TensorFlow C API shipped inside the tensorflow-cpu pip wheel
# (DESIGN.md "Measured facts"; docs/backends.md). Never run by `npm test` or CI.
#
#   bash scripts/build-tfjs-node.sh [--force]     # --force rebuilds the binding
#   bash scripts/build-tfjs-node.sh --gpu         # @tensorflow/tfjs-node-gpu: `--backend tensorflow-gpu`
#
# Everything lands in .tfjs-node/ (git-ignored), not in node_modules/ nor package.json, so
# `npm ci` / `npm install` stay unchanged for everyone else and cannot prune the build:
#   .tfjs-node/wheel/          the downloaded wheel (cache)
#   .tfjs-node/libtensorflow/  include/ + lib/ taken from the wheel
#   .tfjs-node/prefix/         an npm prefix holding @tensorflow/tfjs-node and its helpers;
#                              src/nn/backend.ts looks here when no tfjs-node is installed.
# The prefix's own copies of @tensorflow/tfjs* are removed, so tfjs-node's require of
# @tensorflow/tfjs resolves up to the project's node_modules and registers its backend in the
# project's single tfjs-core.
# --gpu does the same in .tfjs-node-gpu/ with the CUDA-enabled `tensorflow` wheel (≈570 MB) and
# @tensorflow/tfjs-node-gpu, and adds the CUDA 12 libraries that `tensorflow[and-cuda]` pulls
# (nvidia-*-cu12 wheels, ≈2.8 GB) under .tfjs-node-gpu/libtensorflow/nvidia/, where TensorFlow's
# own RUNPATH ($ORIGIN/../nvidia/<lib>/lib) looks for them. An NVIDIA driver is needed at run time
# only; without one TensorFlow runs on the CPU and the backend says so.
set -euo pipefail

TFJS_NODE_VERSION=4.22.0
TF_VERSION=2.21.0
FORCE=0
GPU=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --gpu) GPU=1 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "build-tfjs-node: unknown argument '$arg' (expected --gpu, --force or --help)" >&2; exit 2 ;;
  esac
done

# --gpu: the CUDA 12 libraries of `tensorflow[and-cuda]==2.21.0` (the wheel METADATA's extra
# "and-cuda"), pinned to the newest versions inside TensorFlow's bounds that have
# manylinux_2_27-or-older wheels (2026-11-27). TensorFlow 2.21 was built against CUDA 12.5.1 and
# cuDNN 9; later 12.x and 9.x libraries are compatible with it.
CUDA_WHEELS=(
  nvidia-cublas-cu12==12.9.3.13
  nvidia-cuda-cupti-cu12==12.8.90
  nvidia-cuda-nvcc-cu12==12.9.86
  nvidia-cuda-nvrtc-cu12==12.9.86
  nvidia-cuda-runtime-cu12==12.9.79
  nvidia-cudnn-cu12==9.28.0.42
  nvidia-cufft-cu12==11.4.1.4
  nvidia-curand-cu12==10.3.10.19
  nvidia-cusolver-cu12==11.7.5.82
  nvidia-cusparse-cu12==12.5.10.65
  nvidia-nccl-cu12==2.32.3
  nvidia-nvjitlink-cu12==12.9.86
)
# What TensorFlow dlopens (tsl's DsoLoader; libcuda.so.1 is the driver's and not here), relative
# to .tfjs-node-gpu/libtensorflow/nvidia/: checked to load after the build.
CUDA_DSOS=(
  cuda_runtime/lib/libcudart.so.12
  cublas/lib/libcublasLt.so.12
  cublas/lib/libcublas.so.12
  cufft/lib/libcufft.so.11
  nvjitlink/lib/libnvJitLink.so.12
  cusparse/lib/libcusparse.so.12
  cusolver/lib/libcusolver.so.11
  cuda_cupti/lib/libcupti.so.12
  cudnn/lib/libcudnn.so.9
  nccl/lib/libnccl.so.2
)

cd "$(dirname "$0")/.."
ROOT=$PWD
if [ "$GPU" = 1 ]; then
  NAME=build-tfjs-node-gpu
  CACHE=$ROOT/.tfjs-node-gpu
  WHEEL_PKG=tensorflow # the CUDA-enabled build on Linux x86_64
  WHEEL_MB=570
  NPM_PKG=tfjs-node-gpu
else
  NAME=build-tfjs-node
  CACHE=$ROOT/.tfjs-node
  WHEEL_PKG=tensorflow-cpu
  WHEEL_MB=270
  NPM_PKG=tfjs-node
fi
WHEEL_FILE=${WHEEL_PKG//-/_} # wheel file names spell tensorflow-cpu as tensorflow_cpu
CACHE_REL=${CACHE#"$ROOT"/}
TFDIR=$CACHE/libtensorflow
PREFIX=$CACHE/prefix
PKG=$PREFIX/node_modules/@tensorflow/$NPM_PKG

say() { echo "$NAME: $*"; }
die() { echo "$NAME: error: $*" >&2; exit 1; }

# --- 0. what the build needs ---------------------------------------------------------------
[ "$(uname -s)" = Linux ] || die "only Linux is supported (this is $(uname -s)); elsewhere use 'npm install @tensorflow/$NPM_PKG' with internet"
[ "$(uname -m)" = x86_64 ] || die "the $WHEEL_PKG wheel used here is for x86_64 only (this is $(uname -m))"
command -v node >/dev/null || die "node not found on PATH"
command -v npm >/dev/null || die "npm not found on PATH"
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (needed for pip and node-gyp); set PYTHON=/path/to/python3"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "'$PYTHON -m pip' does not work; install pip (apt-get install python3-pip)"
command -v g++ >/dev/null || die "g++ not found; install a C++ toolchain (apt-get install build-essential)"
command -v make >/dev/null || die "make not found; install a C++ toolchain (apt-get install build-essential)"
NODEDIR=${NODEDIR:-$(dirname "$(dirname "$(command -v node)")")}
[ -f "$NODEDIR/include/node/node_api.h" ] ||
  die "node headers not found at $NODEDIR/include/node/node_api.h; install them (apt-get install libnode-dev) or set NODEDIR to a node source/headers tree"
NODE_GYP=${npm_config_node_gyp:-$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js}
[ -f "$NODE_GYP" ] || die "node-gyp not found at $NODE_GYP (npm normally bundles it); set npm_config_node_gyp=/path/to/node-gyp.js"
for p in tfjs tfjs-core; do
  v=$(node -p "require('./node_modules/@tensorflow/$p/package.json').version" 2>/dev/null) ||
    die "node_modules/@tensorflow/$p is missing; run 'npm ci' first"
  [ "$v" = "$TFJS_NODE_VERSION" ] ||
    die "the project has @tensorflow/$p $v but $NPM_PKG $TFJS_NODE_VERSION needs the same version ($TFJS_NODE_VERSION)"
done

# --- 1. the wheel ----------------------------------------------------------------------------
WHEEL=$(ls "$CACHE"/wheel/"$WHEEL_FILE"-"$TF_VERSION"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$WHEEL" ]; then
  say "downloading $WHEEL_PKG==$TF_VERSION (≈$WHEEL_MB MB) into $CACHE_REL/wheel"
  # Any CPython tag will do: only the C libraries inside are used.
  "$PYTHON" -m pip download --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
    --python-version 3.11 --implementation cp -d "$CACHE/wheel" "$WHEEL_PKG==$TF_VERSION" ||
    die "pip could not download $WHEEL_PKG==$TF_VERSION (is PyPI reachable? try '$PYTHON -m pip index versions $WHEEL_PKG')"
  WHEEL=$(ls "$CACHE"/wheel/"$WHEEL_FILE"-"$TF_VERSION"-*.whl | head -n1)
fi

# --- 2. the C API out of the wheel -------------------------------------------------------------
if [ ! -f "$TFDIR/.complete-$TF_VERSION" ]; then
  say "extracting the TensorFlow C API from $(basename "$WHEEL")"
  rm -rf "$TFDIR"
  "$PYTHON" - "$WHEEL" "$TFDIR" <<'EOF' || die "could not extract the TensorFlow C API from the wheel"
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    missing = libs - set(names)
    if missing or 'tensorflow/include/tensorflow/c/c_api.h' not in names:
        sys.exit(f'wheel lacks {sorted(missing) or "tensorflow/include/tensorflow/c/c_api.h"}')
    for n in names:
        if n.startswith('tensorflow/include/') and not n.endswith('/'):
            dest = os.path.join(out, 'include', n[len('tensorflow/include/'):])
        elif n in libs:
            dest = os.path.join(out, 'lib', os.path.basename(n))
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(n) as src, open(dest, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
EOF
  # The binding links -ltensorflow -ltensorflow_framework; the wheel's libtensorflow_cc carries
  # the C API (TF_*, TFE_*) that libtensorflow.so would.
  ln -sf libtensorflow_cc.so.2 "$TFDIR/lib/libtensorflow.so"
  ln -sf libtensorflow_cc.so.2 "$TFDIR/lib/libtensorflow.so.2"
  ln -sf libtensorflow_framework.so.2 "$TFDIR/lib/libtensorflow_framework.so"
  touch "$TFDIR/.complete-$TF_VERSION"
fi

# --- 2b. --gpu: the CUDA 12 libraries, where TensorFlow's RUNPATH looks for them ------------------
# libtensorflow_framework.so.2 (which holds the dlopen calls) has RUNPATH $ORIGIN/../nvidia/<lib>/lib,
# the layout of a pip install (site-packages/tensorflow/ next to site-packages/nvidia/): from
# libtensorflow/lib/ that is libtensorflow/nvidia/<lib>/lib/.
wheel_of() { # nvidia-foo-cu12==1.2 -> the cached wheel's path, or nothing
  local f="${1%%==*}"
  ls "$CACHE"/cuda-wheels/"${f//-/_}-${1##*==}"-*.whl 2>/dev/null | head -n1 || true
}
if [ "$GPU" = 1 ]; then
  CUDA_STAMP="$TFDIR/.complete-cuda-$(echo "${CUDA_WHEELS[*]}" | cksum | cut -d' ' -f1)"
  if [ ! -f "$CUDA_STAMP" ]; then
    missing=()
    for spec in "${CUDA_WHEELS[@]}"; do [ -n "$(wheel_of "$spec")" ] || missing+=("$spec"); done
    if [ "${#missing[@]}" -gt 0 ]; then
      say "downloading ${#missing[@]} CUDA 12 wheels (≈2.8 GB for all ${#CUDA_WHEELS[@]}) into $CACHE_REL/cuda-wheels"
      "$PYTHON" -m pip download --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 \
        --python-version 3.11 --implementation cp -d "$CACHE/cuda-wheels" "${missing[@]}" ||
        die "pip could not download the CUDA wheels (${missing[*]}); is PyPI reachable?"
    fi
    say "extracting the CUDA libraries into $CACHE_REL/libtensorflow/nvidia"
    rm -rf "$TFDIR/nvidia"
    wheels=()
    for spec in "${CUDA_WHEELS[@]}"; do wheels+=("$(wheel_of "$spec")"); done
    "$PYTHON" - "$TFDIR" "${wheels[@]}" <<'EOF' || die "could not extract the CUDA libraries"
import os, shutil, sys, zipfile
out, wheels = sys.argv[1], sys.argv[2:]
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            parts = info.filename.split('/')
            # nvidia/<lib>/{lib,bin,nvvm}/...: shared libraries (and nvcc's ptxas + libdevice, which
            # only XLA uses); headers and Python package files are not needed.
            if info.is_dir() or len(parts) < 4 or parts[0] != 'nvidia' or parts[2] == 'include':
                continue
            dest = os.path.join(out, *parts)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with z.open(info) as src, open(dest, 'wb') as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(dest, (mode | 0o600) if mode else 0o644)
EOF
    for dso in "${CUDA_DSOS[@]}"; do
      [ -f "$TFDIR/nvidia/$dso" ] || die "the CUDA wheels lack nvidia/$dso, which TensorFlow dlopens"
    done
    touch "$CUDA_STAMP"
  fi
fi

# --- 3. tfjs-node itself, scripts off (its install script downloads libtensorflow) -------------
installed=$(node -p "require('$PKG/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$TFJS_NODE_VERSION" ]; then
  say "installing @tensorflow/$NPM_PKG@$TFJS_NODE_VERSION into $CACHE_REL/prefix (--ignore-scripts)"
  mkdir -p "$PREFIX"
  [ -f "$PREFIX/package.json" ] || echo "{ \"name\": \"csc-$NPM_PKG-prefix\", \"private\": true }" >"$PREFIX/package.json"
  (cd "$PREFIX" && npm install --ignore-scripts --no-audit --no-fund "@tensorflow/$NPM_PKG@$TFJS_NODE_VERSION") ||
    die "npm could not install @tensorflow/$NPM_PKG@$TFJS_NODE_VERSION (is the npm registry reachable?)"
  FORCE=1
fi
# One tfjs-core per process: drop the prefix's copies so tfjs-node resolves the project's.
for d in "$PREFIX"/node_modules/@tensorflow/*; do
  [ "$(basename "$d")" = "$NPM_PKG" ] || rm -rf "$d"
done
rm -rf "$PKG/node_modules/@tensorflow"

# --- 4. wire the C API and build the binding -------------------------------------------------
mkdir -p "$PKG/deps"
ln -sfn ../../../../../libtensorflow/include "$PKG/deps/include" # relative: the repo may move
ln -sfn ../../../../../libtensorflow/lib "$PKG/deps/lib"
if [ "$FORCE" = 1 ] || ! ls "$PKG"/lib/napi-v*/tfjs_binding.node >/dev/null 2>&1; then
  say "compiling the $NPM_PKG binding against TensorFlow $TF_VERSION (≈1 min)"
  PRE_GYP=$(cd "$PKG" && node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp')") ||
    die "@mapbox/node-pre-gyp is missing from $CACHE_REL/prefix; delete $CACHE_REL/prefix and run again"
  (cd "$PKG" && npm_config_node_gyp="$NODE_GYP" PYTHON="$PYTHON" \
    node "$PRE_GYP" rebuild --build-from-source --nodedir="$NODEDIR") >"$CACHE/build.log" 2>&1 ||
    die "the binding did not compile; see $CACHE_REL/build.log (last lines below)
$(tail -n 20 "$CACHE/build.log")"
fi

# --- 4b. --gpu: every CUDA library TensorFlow dlopens loads from where its RUNPATH looks --------
# (No GPU is needed for this: the libraries load without a driver; TensorFlow only opens them
# once libcuda.so.1 has found a device.)
if [ "$GPU" = 1 ]; then
  say "checking that the CUDA libraries load from $CACHE_REL/libtensorflow/nvidia"
  "$PYTHON" - "$PKG/deps/lib" "${CUDA_DSOS[@]}" <<'EOF' || die "a CUDA library does not load (see above); delete $CACHE_REL/libtensorflow and run again"
import ctypes, os, sys
lib, dsos = sys.argv[1], sys.argv[2:]
for dso in dsos:
    path = os.path.join(lib, '..', 'nvidia', dso)  # $ORIGIN/../nvidia/<dso>, as the RUNPATH spells it
    try:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as e:
        sys.exit(f'{dso}: {e}')
print(f'  {len(dsos)} CUDA libraries load: ' + ', '.join(os.path.basename(d) for d in dsos))
EOF
fi

# --- 5. check: the 'tensorflow' backend registers in the project's tfjs-core and computes ------
say "checking tf.setBackend('tensorflow') with the project's @tensorflow/tfjs-core"
TF_CPP_MIN_LOG_LEVEL=2 node --input-type=module -e "
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
const require = createRequire(import.meta.url);
const pkg = '$PKG';
const core = require.resolve('@tensorflow/tfjs-core', { paths: [require.resolve('@tensorflow/tfjs', { paths: [pkg] })] });
if (core !== require.resolve('@tensorflow/tfjs-core')) throw new Error('$NPM_PKG would use tfjs-core at ' + core + ', not the project\'s ' + require.resolve('@tensorflow/tfjs-core'));
require(pkg);
if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not register with the project\'s tfjs-core');
const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 1], [2, 2])).dataSync();
if (Array.from(y).join() !== '1,2,3,4') throw new Error('matMul gave ' + Array.from(y).join());
const device = $GPU ? (tf.backend().isUsingGpuDevice ? ', on a GPU' : ', NO GPU visible: running on the CPU (see docs/backends.md, \"The GPU backend\")') : '';
console.log('$NAME: ok: backend ' + tf.getBackend() + ', tfjs-core ' + tf.version_core + ', TensorFlow ' + tf.backend().binding.TF_Version + device);
" || die "the built binding does not work with the project's tfjs-core (see the error above)"
