#!/usr/bin/env bash
# One-time (idempotent) setup of everything csc_node needs on a fresh machine:
# node packages, and the Python simulator environment(s) under sim/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-sim.sh
