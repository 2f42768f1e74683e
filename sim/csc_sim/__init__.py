"""csc_sim: Python simulators for csc_node, served over ZeroMQ (protocol csc-sim/1, see docs/protocol.md)."""

__version__ = "0.1.0"
