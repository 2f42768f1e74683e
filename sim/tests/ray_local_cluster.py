"""A real multi-node Ray cluster on this machine, for tests: a head and several worker nodes, each
its own raylet with its own object store (ray.cluster_utils.Cluster runs `ray start`'s code for
every node). Kept small for a loaded two-core machine: one CPU per worker node, none on the head
(so actors land on worker nodes only), 80-100 MB object stores, and fast node-death detection.

As a script (test/ray-cluster.test.ts drives it):

    python sim/tests/ray_local_cluster.py --nodes 3

prints {"address": ..., "nodes": [NODE_ID, ...]} once the cluster is up, then reads commands on
stdin, one JSON object a line: {"op": "remove_node", "node": NODE_ID} kills that node's raylet
and everything on it (no graceful drain) and answers {"removed": NODE_ID}. End of stdin shuts
the whole cluster down.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, Iterator

MB = 1024 * 1024
# a dead node is noticed within ~1.5 s instead of the default ~30 s
FAST_HEALTH_CHECKS = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_failure_threshold": 3}


@contextlib.contextmanager
def local_cluster(nodes: int, cpus_per_node: int = 1, client_port: int | None = None) -> Iterator[Any]:
    """Yields a started `ray.cluster_utils.Cluster` with `nodes` worker nodes; shuts it down after.
    With `client_port`, the head also serves Ray Client (`ray://127.0.0.1:PORT`) there."""
    from ray.cluster_utils import Cluster

    head: dict[str, Any] = {"num_cpus": 0, "object_store_memory": 100 * MB, "include_dashboard": False, "_system_config": FAST_HEALTH_CHECKS}
    if client_port is not None:
        head["ray_client_server_port"] = client_port
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=cpus_per_node, object_store_memory=80 * MB)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--cpus-per-node", type=int, default=1)
    args = p.parse_args()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # Ray's chatter to stderr; our lines stay parseable
    with local_cluster(args.nodes, args.cpus_per_node) as cluster:
        workers = {n.node_id: n for n in cluster.worker_nodes}
        out.write(json.dumps({"address": cluster.address, "nodes": list(workers)}) + "\n")
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd.get("op") == "remove_node":
                node = workers.pop(cmd["node"])
                cluster.remove_node(node, allow_graceful=False)
                out.write(json.dumps({"removed": cmd["node"]}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
