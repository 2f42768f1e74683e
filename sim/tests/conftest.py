"""Shared pytest fixtures: a throwaway ipc endpoint per test and a helper to run a real server."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

SIM_ROOT = Path(__file__).resolve().parent.parent
if str(SIM_ROOT) not in sys.path:
    sys.path.insert(0, str(SIM_ROOT))


@pytest.fixture
def ipc_endpoint():
    """A fresh ipc:// address in a private temp dir (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="csc-sim-test-") as d:
        yield f"ipc://{os.path.join(d, 'sim.sock')}"
