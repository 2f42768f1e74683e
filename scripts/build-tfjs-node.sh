#!/usr/bin/env bash
# Optional: builds @tensorflow/tfjs-node (the native `--backend tensorflow`) without reaching
# Google's storage, against the TensorFlow C API shipped inside the tensorflow-cpu pip wheel
# (DESIGN.md "Measured facts"; docs/backends.md). Never run by `npm test` or CI.
#
#   bash scripts/build-tfjs-node.sh [--force]     # --force rebuilds the binding
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
set -euo pipefail

TFJS_NODE_VERSION=4.22.0
TF_VERSION=2.21.0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build-tfjs-node: unknown argument '$arg' (expected --force or --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.tfjs-node
TFDIR=$CACHE/libtensorflow
PREFIX=$CACHE/prefix
PKG=$PREFIX/node_modules/@tensorflow/tfjs-node

say() { echo "build-tfjs-node: $*"; }
die() { echo "build-tfjs-node: error: $*" >&2; exit 1; }

# --- 0. what the build needs ---------------------------------------------------------------
[ "$(uname -s)" = Linux ] || die "only Linux is supported (this is $(uname -s)); elsewhere use 'npm install @tensorflow/tfjs-node' with internet"
[ "$(uname -m)" = x86_64 ] || die "the tensorflow-cpu wheel exists for x86_64 only (this is $(uname -m))"
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
    die "the project has @tensorflow/$p $v but tfjs-node $TFJS_NODE_VERSION needs the same version ($TFJS_NODE_VERSION)"
done

# --- 1. the wheel ----------------------------------------------------------------------------
WHEEL=$(ls "$CACHE"/wheel/tensorflow_cpu-"$TF_VERSION"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$WHEEL" ]; then
  say "downloading tensorflow-cpu==$TF_VERSION (≈270 MB) into .tfjs-node/wheel"
  # Any CPython tag will do: only the C libraries inside are used.
  "$PYTHON" -m pip download --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
    --python-version 3.11 --implementation cp -d "$CACHE/wheel" "tensorflow-cpu==$TF_VERSION" ||
    die "pip could not download tensorflow-cpu==$TF_VERSION (is PyPI reachable? try '$PYTHON -m pip index versions tensorflow-cpu')"
  WHEEL=$(ls "$CACHE"/wheel/tensorflow_cpu-"$TF_VERSION"-*.whl | head -n1)
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

# --- 3. tfjs-node itself, scripts off (its install script downloads libtensorflow) -------------
installed=$(node -p "require('$PKG/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$TFJS_NODE_VERSION" ]; then
  say "installing @tensorflow/tfjs-node@$TFJS_NODE_VERSION into .tfjs-node/prefix (--ignore-scripts)"
  mkdir -p "$PREFIX"
  [ -f "$PREFIX/package.json" ] || echo '{ "name": "csc-tfjs-node-prefix", "private": true }' >"$PREFIX/package.json"
  (cd "$PREFIX" && npm install --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$TFJS_NODE_VERSION") ||
    die "npm could not install @tensorflow/tfjs-node@$TFJS_NODE_VERSION (is the npm registry reachable?)"
  FORCE=1
fi
# One tfjs-core per process: drop the prefix's copies so tfjs-node resolves the project's.
for d in "$PREFIX"/node_modules/@tensorflow/*; do
  [ "$(basename "$d")" = tfjs-node ] || rm -rf "$d"
done
rm -rf "$PKG/node_modules/@tensorflow"

# --- 4. wire the C API and build the binding -------------------------------------------------
mkdir -p "$PKG/deps"
ln -sfn ../../../../../libtensorflow/include "$PKG/deps/include" # relative: the repo may move
ln -sfn ../../../../../libtensorflow/lib "$PKG/deps/lib"
if [ "$FORCE" = 1 ] || ! ls "$PKG"/lib/napi-v*/tfjs_binding.node >/dev/null 2>&1; then
  say "compiling the tfjs-node binding against TensorFlow $TF_VERSION (≈1 min)"
  PRE_GYP=$(cd "$PKG" && node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp')") ||
    die "@mapbox/node-pre-gyp is missing from .tfjs-node/prefix; delete .tfjs-node/prefix and run again"
  (cd "$PKG" && npm_config_node_gyp="$NODE_GYP" PYTHON="$PYTHON" \
    node "$PRE_GYP" rebuild --build-from-source --nodedir="$NODEDIR") >"$CACHE/build.log" 2>&1 ||
    die "the binding did not compile; see .tfjs-node/build.log (last lines below)
$(tail -n 20 "$CACHE/build.log")"
fi

# --- 5. check: the 'tensorflow' backend registers in the project's tfjs-core and computes ------
say "checking tf.setBackend('tensorflow') with the project's @tensorflow/tfjs-core"
TF_CPP_MIN_LOG_LEVEL=2 node --input-type=module -e "
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
const require = createRequire(import.meta.url);
const pkg = '$PKG';
const core = require.resolve('@tensorflow/tfjs-core', { paths: [require.resolve('@tensorflow/tfjs', { paths: [pkg] })] });
if (core !== require.resolve('@tensorflow/tfjs-core')) throw new Error('tfjs-node would use tfjs-core at ' + core + ', not the project\'s ' + require.resolve('@tensorflow/tfjs-core'));
require(pkg);
if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not register with the project\'s tfjs-core');
const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 1], [2, 2])).dataSync();
if (Array.from(y).join() !== '1,2,3,4') throw new Error('matMul gave ' + Array.from(y).join());
console.log('build-tfjs-node: ok: backend ' + tf.getBackend() + ', tfjs-core ' + tf.version_core + ', TensorFlow ' + tf.backend().binding.TF_Version);
" || die "the built binding does not work with the project's tfjs-core (see the error above)"
