#!/usr/bin/env bash
# Runs the Python simulator tests (pytest -q) in sim/.venv, creating it first if needed.
# Exits non-zero on any failure, and also when no test was collected (pytest's exit 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-sim.sh
py="${CSC_SIM_PYTHON:-$(pwd)/sim/.venv/bin/python}"
cd sim
set +e
"$py" -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test-sim: pytest collected no tests (exit 5); that is a failure here" >&2
  exit 1
fi
exit "$rc"
