"""`python -m csc_sim serve|bench|ray-cluster`: the simulator server, its in-process speed reference, and
servers as Ray actors across a Ray cluster (docs/scale-out.md)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _env_arg(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--env-arg {text!r}: expected KEY=VALUE (VALUE as JSON, else a string)")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _add_env_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="env id: a registered csc_sim id or gym:<GymnasiumId>")
    p.add_argument("--env-arg", action="append", type=_env_arg, default=[], metavar="KEY=VALUE",
                   help="keyword argument for the env constructor (repeatable; VALUE parsed as JSON)")
    g = p.add_argument_group("gym:<id> envs")
    g.add_argument("--failure-from", choices=("terminated", "cost", "none"),
                   help="failure = the env's termination (default), info['cost'] with a health budget, or never")
    g.add_argument("--health-budget", type=float, help="starting health for --failure-from cost (default 25)")
    g.add_argument("--cost-key", help="info key holding the per-step cost (default 'cost')")
    g.add_argument("--max-episode-steps", type=int, help="override the env's time limit")


def _env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(args.env_arg)
    for flag in ("failure_from", "health_budget", "cost_key", "max_episode_steps"):
        value = getattr(args, flag)
        if value is not None:
            kwargs[flag] = value
    return kwargs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m csc_sim", description="csc_sim simulator server (csc-sim/1)")
    sub = parser.add_subparsers(dest="cmd", required=True)

    serve = sub.add_parser("serve", help="serve K envs over ZeroMQ until close/SIGTERM/SIGINT",
                           description="Prints one JSON line {\"event\": \"ready\", \"endpoint\": ...} on stdout "
                                       "once bound. Exit codes: 0 ok, 2 unknown env, 3 missing simulator "
                                       "package, 4 env failed to build, 5 cannot bind.")
    _add_env_options(serve)
    serve.add_argument("--num-envs", type=int, default=1, help="envs stepped as one batch (K, default 1)")
    serve.add_argument("--bind", default="tcp://127.0.0.1:0",
                       help="ZeroMQ endpoint, ipc://PATH or tcp://HOST:PORT (port 0 picks one; default %(default)s)")
    serve.add_argument("--seed", type=int, help="reset the batch with this seed before serving")
    serve.add_argument("--parent-pid", type=int,
                       help="exit when this process is gone (set by the TypeScript supervisor)")

    bench = sub.add_parser("bench", help="in-process stepping speed (the bridge's reference); prints JSON")
    _add_env_options(bench)
    bench.add_argument("--steps", type=int, default=20000, help="env steps to time (default %(default)s)")
    bench.add_argument("--num-envs", type=int, default=16, help="batch size for the batched measurement")
    bench.add_argument("--seed", type=int, default=0)

    rc = sub.add_parser("ray-cluster", help="serve envs from Ray actors across a Ray cluster (CURVE); JSON events on stdout",
                        description="Started by `csc train --sim-cluster`. Creates --workers actors, each a csc-sim/1 "
                                    "server of --num-envs envs bound to tcp://0.0.0.0:0 on its node with ZeroMQ CURVE; "
                                    "reports endpoints and server keys as JSON lines, replaces dead actors "
                                    "(docs/scale-out.md).")
    _add_env_options(rc)
    rc.add_argument("--address", default="auto",
                    help="ray://HOST:PORT (Ray Client), HOST:PORT (a cluster this machine is a node of), or auto "
                         "(a running local cluster, else a new one); default %(default)s")
    rc.add_argument("--workers", type=int, default=1, help="actors (servers) to run (default 1)")
    rc.add_argument("--num-envs", type=int, default=1, help="envs per actor (default 1)")
    rc.add_argument("--client-key", required=True, help="Z85 CURVE public key of the one client the servers admit")
    rc.add_argument("--cpus-per-worker", type=float, default=1.0, help="Ray CPUs each actor reserves (default 1)")
    rc.add_argument("--object-store-mb", type=int, default=100,
                    help="object store of a cluster started by `auto` (MB, default %(default)s; the actors pass no objects)")
    rc.add_argument("--parent-pid", type=int, help="exit (killing the actors) when this process is gone")

    args = parser.parse_args(argv)
    if args.num_envs < 1:
        parser.error(f"--num-envs {args.num_envs}: expected >= 1")
    if args.cmd == "serve":
        from .server import run_server

        return run_server(args.env, args.num_envs, args.bind, args.seed, _env_kwargs(args), parent_pid=args.parent_pid)
    if args.cmd == "ray-cluster":
        if args.workers < 1:
            parser.error(f"--workers {args.workers}: expected >= 1")
        import os

        from .ray_cluster import parse_port_range, run_ray_cluster

        try:
            port_range = parse_port_range(os.environ.get("CSC_SIM_PORT_RANGE"))
        except ValueError as e:
            parser.error(str(e))
        return run_ray_cluster(args.address, args.env, args.workers, args.num_envs, _env_kwargs(args), args.client_key,
                               cpus_per_worker=args.cpus_per_worker, object_store_mb=args.object_store_mb,
                               port_range=port_range, parent_pid=args.parent_pid)
    if args.cmd == "bench":
        from .bench import run_bench

        print(json.dumps(run_bench(args.env, args.steps, args.num_envs, args.seed, _env_kwargs(args))))
        return 0
    parser.error(f"unknown command {args.cmd}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
