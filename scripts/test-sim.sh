#!/usr/bin/env bash
# Runs the Python simulator tests (pytest) in the sim environment.
set -euo pipefail
