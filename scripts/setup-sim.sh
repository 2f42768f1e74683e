#!/usr/bin/env bash
# Creates the Python simulator environment for csc_sim (idempotent). Filled in with the sim package.
set -euo pipefail
