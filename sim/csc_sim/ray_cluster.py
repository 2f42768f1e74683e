"""Sim servers as Ray actors across a Ray cluster (docs/scale-out.md).

`python -m csc_sim ray-cluster` is a small driver that the TypeScript learner starts. It connects
to Ray, creates N actors, each running the ordinary csc-sim/1 server loop (server.serve) bound to
tcp://0.0.0.0:0 on its node as a ZeroMQ CURVE server, and reports each actor's endpoint and
server public key to the learner as JSON lines on stdout. It then watches the actors: when one
dies (its process, or its whole node), or the learner asks for one to be replaced (a hung
server), it reports `lost`, starts a new actor and reports the new endpoint. The learner drops
the episodes that were in flight on the lost server (src/envs/remote.ts).

Keys: every actor makes its own CURVE key pair, so no server secret leaves its node; its public
key comes back through Ray. The learner makes its client key pair and passes only the public key
(`--client-key`), which reaches the actors through Ray as a constructor argument; each server's
ZAP handler admits that key and nothing else.

Events on stdout, one JSON object a line (every other line belongs to someone else; Ray's own
output is sent to stderr):

  {"event": "endpoint", "worker": j, "generation": g, "endpoint": "tcp://IP:PORT",
   "serverKey": Z85, "node": NODE_ID, "pid": PID, "nice": NICENESS}
  {"event": "ready", "workers": N}                 after the first N endpoints
  {"event": "lost", "worker": j, "generation": g, "endpoint": ..., "reason": "..."}
  {"event": "error", "code": ..., "message": ...}  then exit (codes as for `serve`, plus
                                                    ray_connect 6, workers_lost 7, no_ray 8)

Ports: each server takes a free port of its node, or one in $CSC_SIM_PORT_RANGE (`MIN-MAX`, read
by the driver) where a firewall allows only a range.

Commands on stdin, one JSON object a line: {"op": "replace", "worker": j, "endpoint": E}
(replace worker j if it still serves at E, else report where it serves now) and {"op": "close"}.
End of stdin, SIGTERM or SIGINT also close: every actor is killed before the driver exits.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

import zmq

from .server import process_gone

# Replacements of one worker that fail in a row (the actor dies before it is ready) before the
# driver gives up on the run: more than this means the cluster cannot host the env any more.
MAX_FAILED_STARTS = 5
# Exit codes beyond those of `serve` (docs/protocol.md "Server process").
EXIT_NO_RAY = 8
EXIT_RAY_CONNECT = 6
EXIT_WORKERS_LOST = 7


class SimServerActor:
    """One csc-sim/1 server on a Ray node. Made into a Ray actor by `_actor_class()`.

    The server loop runs on a thread of the actor's process (envs are built on it too: MuJoCo's
    and PyBullet's state stay on one thread); the actor's methods only report on it.
    """

    def __init__(
        self, env_id: str, num_envs: int, env_kwargs: dict[str, Any], client_key: str, port_range: tuple[int, int] | None = None
    ) -> None:
        public, secret = zmq.curve_keypair()
        self._public = public.decode("ascii")
        self._ready = threading.Event()
        self._done = threading.Event()
        self._stop = threading.Event()
        self._info: dict[str, Any] = {}
        self._thread = threading.Thread(
            target=self._run, args=(env_id, num_envs, env_kwargs, secret.decode("ascii"), client_key, port_range), daemon=True
        )
        self._thread.start()

    def _run(
        self, env_id: str, num_envs: int, env_kwargs: dict[str, Any], secret: str, client_key: str, port_range: tuple[int, int] | None
    ) -> None:
        from .batch import Batch
        from .envs import MissingSimulatorError, UnknownEnvError
        from .server import CurveServerKeys, serve

        try:
            try:
                batch = Batch(env_id, num_envs, **env_kwargs)
            except UnknownEnvError as e:
                self._info = {"error": {"code": "unknown_env", "message": str(e)}}
                return
            except MissingSimulatorError as e:
                self._info = {"error": {"code": "missing_simulator", "message": str(e)}}
                return
            except Exception as e:
                self._info = {"error": {"code": "env_error", "message": f"could not build env {env_id!r}: {type(e).__name__}: {e}"}}
                return
            try:
                import ray

                host = ray.util.get_node_ip_address()
                node = ray.get_runtime_context().get_node_id()

                def ready(endpoint: str) -> None:
                    port = endpoint.rsplit(":", 1)[1]
                    self._info = {"endpoint": f"tcp://{host}:{port}", "serverKey": self._public, "node": node, "pid": os.getpid(),
                                  "nice": os.nice(0)}
                    self._ready.set()

                keys = CurveServerKeys(self._public, secret, (client_key,))
                # a context of its own: its ZAP handler must not serve anyone else's sockets
                ctx = zmq.Context()
                try:
                    bind = "tcp://0.0.0.0:0" if port_range is None else "tcp://0.0.0.0"
                    serve(batch, bind, on_ready=ready, should_stop=self._stop.is_set, context=ctx, curve=keys, port_range=port_range)
                finally:
                    ctx.term()
            except zmq.ZMQError as e:
                if not self._ready.is_set():
                    where = "tcp://0.0.0.0:0" if port_range is None else f"a port of tcp://0.0.0.0:{port_range[0]}-{port_range[1]}"
                    self._info = {"error": {"code": "bind_failed", "message": f"cannot bind {where}: {e}"}}
            finally:
                batch.close()
        finally:
            self._ready.set()
            self._done.set()

    def info(self) -> dict[str, Any]:
        """Where the server listens ({endpoint, serverKey, node, pid}), or {error: {code, message}}."""
        self._ready.wait()
        return self._info

    def wait_stopped(self) -> str:
        """Returns when the server loop has ended (a `close` request); raises if the actor dies."""
        self._done.wait()
        return "the server loop ended (a client sent close)"


def _actor_class(ray: Any, cpus_per_worker: float) -> Any:
    return ray.remote(num_cpus=cpus_per_worker, max_restarts=0, max_concurrency=2)(SimServerActor)


@dataclass
class _Slot:
    """One worker: the actor serving it now, and what the learner has been told."""

    index: int
    generation: int = -1
    actor: Any = None
    info_ref: Any = None
    watch_ref: Any = None
    endpoint: str | None = None
    failed_starts: int = 0
    ever_ready: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class _Events:
    """The JSON-lines channel to the learner: a private copy of the original stdout."""

    def __init__(self) -> None:
        self._out: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
        # Ray (and the simulators it imports) print to fd 1; they go to stderr from now on
        sys.stdout.flush()
        os.dup2(2, 1)
        self._lock = threading.Lock()

    def emit(self, obj: dict[str, Any]) -> None:
        with self._lock:
            self._out.write(json.dumps(obj) + "\n")
            self._out.flush()


RAY_CLIENT_CONNECT_ATTEMPTS = 4
# what Ray Client's errors say when the per-client server process failed to start (Ray 2.60)
_CLIENT_SERVER_START_FAILURES = ("client server failed", "Initialization failure from server")


def _client_server_start_failed(e: BaseException) -> bool:
    return any(m in str(e) for m in _CLIENT_SERVER_START_FAILURES)


def _connect(ray: Any, address: str, workers: int, cpus_per_worker: float, object_store_mb: int | None) -> None:
    """`auto`: a running local cluster, else a new one sized for the workers; otherwise
    `ray://HOST:PORT` (Ray Client, from outside the cluster) or `HOST:PORT` (a node's GCS)."""
    common: dict[str, Any] = {"log_to_driver": False, "configure_logging": True, "logging_level": "warning"}
    if address.startswith("ray://") and "RAY_AUTH_MODE" not in os.environ and _has_auth_token():
        # Ray >= 2.59 starts clusters with token authentication; a driver on a node finds the
        # token by itself, a Ray Client sends it only in token mode (measured with Ray 2.60)
        os.environ["RAY_AUTH_MODE"] = "token"
    if address.startswith("ray://"):
        # Ray Client's proxy starts a server process per client; on a busy machine that start
        # sometimes fails at once (Ray 2.60 on this two-core machine: 4 of 5 full pytest runs in a
        # row, 1 of 13 runs of fewer test files; the server dies in gRPC's epoll poller). The client
        # sees "Starting Ray client server failed", or, when the proxy looks at the server just as it
        # dies, "Initialization failure from server" (psutil.ZombieProcess). A fresh connect gets a
        # fresh server: try a few times before giving up.
        for attempt in range(1, RAY_CLIENT_CONNECT_ATTEMPTS + 1):
            try:
                ray.init(address=address, **common)
                return
            except (ConnectionError, RuntimeError) as e:
                if attempt == RAY_CLIENT_CONNECT_ATTEMPTS or not _client_server_start_failed(e):
                    raise
                print(f"csc_sim ray-cluster: connecting to {address} failed ({type(e).__name__}: Ray Client server start); "
                      f"retrying ({attempt}/{RAY_CLIENT_CONNECT_ATTEMPTS})", file=sys.stderr, flush=True)
                time.sleep(2.0 * attempt)
    if address != "auto":
        ray.init(address=address, **common)
        return
    try:
        ray.init(address="auto", **common)
        return
    except ConnectionError:
        pass
    cpus = max(os.cpu_count() or 1, int(workers * cpus_per_worker + 0.999))
    # Ray starts its workers 9 steps nicer than the raylet by default; on a shared machine that
    # starves the sims (measured: 5x fewer steps/s on a loaded two-core machine), and here the
    # sims are the work. A cluster started with `ray start` takes the same variable (docs/scale-out.md).
    os.environ.setdefault("RAY_worker_niceness", "0")
    extra: dict[str, Any] = {"include_dashboard": False}
    if object_store_mb is not None:
        extra["object_store_memory"] = object_store_mb * 1024 * 1024
    ray.init(num_cpus=cpus, **common, **extra)


def run_ray_cluster(
    address: str,
    env_id: str,
    workers: int,
    num_envs: int,
    env_kwargs: dict[str, Any],
    client_key: str,
    *,
    cpus_per_worker: float = 1.0,
    object_store_mb: int | None = 100,
    port_range: tuple[int, int] | None = None,
    parent_pid: int | None = None,
    commands: Callable[[], TextIO] = lambda: sys.stdin,
) -> int:
    """Entry point of `python -m csc_sim ray-cluster`; returns the exit code."""
    events = _Events()

    def fail(code: str, exit_code: int, message: str) -> int:
        events.emit({"event": "error", "code": code, "message": message})
        print(f"csc_sim ray-cluster: error: {message}", file=sys.stderr, flush=True)
        return exit_code

    if len(client_key) != 40:
        return fail("bad_request", 2, f"--client-key: expected a Z85 CURVE public key of 40 characters, got {len(client_key)}")
    try:
        import ray
    except ImportError:
        return fail("no_ray", EXIT_NO_RAY, "Ray is not installed in this interpreter; run scripts/setup-sim.sh (it installs sim/requirements-ray.txt)")

    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    try:
        _connect(ray, address, workers, cpus_per_worker, object_store_mb)
    except Exception as e:
        return fail("ray_connect", EXIT_RAY_CONNECT, f"cannot connect to Ray at {address!r}: {type(e).__name__}: {e}")
    # ray.init installs its own SIGTERM handler; ours closes the actors first
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    Actor = _actor_class(ray, cpus_per_worker)
    slots = [_Slot(j) for j in range(workers)]

    def start(slot: _Slot) -> None:
        slot.generation += 1
        slot.endpoint = None
        slot.watch_ref = None
        # SPREAD: one actor per node before doubling up, so a lost node costs few workers
        slot.actor = Actor.options(scheduling_strategy="SPREAD").remote(env_id, num_envs, env_kwargs, client_key, port_range)
        slot.info_ref = slot.actor.info.remote()

    def lose(slot: _Slot, reason: str) -> None:
        events.emit({"event": "lost", "worker": slot.index, "generation": slot.generation, "endpoint": slot.endpoint, "reason": reason})
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:
            pass  # already gone with its node
        start(slot)

    cmd_queue: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read_commands() -> None:
        stream = commands()
        for line in stream:
            line = line.strip()
            if not line:
                continue
            try:
                cmd = json.loads(line)
            except json.JSONDecodeError:
                print(f"csc_sim ray-cluster: ignoring a command that is not JSON: {line[:200]!r}", file=sys.stderr, flush=True)
                continue
            if isinstance(cmd, dict):
                cmd_queue.put(cmd)
        cmd_queue.put(None)  # end of stdin: the learner is gone

    threading.Thread(target=read_commands, daemon=True).start()

    announced = False
    last_parent_check = time.monotonic()
    exit_code = 0
    try:
        for slot in slots:
            start(slot)
        while not stop.is_set():
            refs = [s.info_ref for s in slots if s.info_ref is not None] + [s.watch_ref for s in slots if s.watch_ref is not None]
            ready, _ = ray.wait(refs, num_returns=1, timeout=0.1) if refs else ([], [])
            for ref in ready:
                slot = next(s for s in slots if ref in (s.info_ref, s.watch_ref))
                if ref == slot.info_ref:
                    slot.info_ref = None
                    try:
                        info = ray.get(ref)
                    except Exception as e:  # the actor or its node died before it was ready
                        slot.failed_starts += 1
                        if slot.failed_starts > MAX_FAILED_STARTS:
                            exit_code = fail("workers_lost", EXIT_WORKERS_LOST,
                                             f"worker {slot.index}: {slot.failed_starts} actors in a row died before serving; last: {_first_line(e)}")
                            return exit_code
                        print(f"csc_sim ray-cluster: worker {slot.index} died while starting ({_first_line(e)}); starting another",
                              file=sys.stderr, flush=True)
                        start(slot)
                        continue
                    if "error" in info:
                        err = info["error"]
                        slot.failed_starts += 1
                        if slot.ever_ready and slot.failed_starts <= MAX_FAILED_STARTS:
                            # this env was built before, on some node: try another actor (a node
                            # without the simulator, or out of ports in CSC_SIM_PORT_RANGE)
                            print(f"csc_sim ray-cluster: worker {slot.index}: a replacement failed ({err['message']}); starting another",
                                  file=sys.stderr, flush=True)
                            ray.kill(slot.actor, no_restart=True)
                            start(slot)
                            continue
                        codes = {"unknown_env": 2, "missing_simulator": 3, "env_error": 4, "bind_failed": 5}
                        exit_code = fail(err["code"], codes.get(err["code"], 4), f"worker {slot.index}: {err['message']}")
                        return exit_code
                    slot.failed_starts = 0
                    slot.ever_ready = True
                    slot.endpoint = info["endpoint"]
                    slot.info = info
                    slot.watch_ref = slot.actor.wait_stopped.remote()
                    events.emit({"event": "endpoint", "worker": slot.index, "generation": slot.generation, **info})
                    if not announced and all(s.ever_ready for s in slots):
                        announced = True
                        events.emit({"event": "ready", "workers": workers})
                else:
                    slot.watch_ref = None
                    try:
                        reason = ray.get(ref)
                    except Exception as e:
                        reason = _first_line(e)
                    lose(slot, reason)
            while True:
                try:
                    cmd = cmd_queue.get_nowait()
                except queue.Empty:
                    break
                if cmd is None or cmd.get("op") == "close":
                    stop.set()
                    break
                if cmd.get("op") == "replace":
                    j = cmd.get("worker")
                    if not isinstance(j, int) or not 0 <= j < workers:
                        print(f"csc_sim ray-cluster: replace: no worker {j!r}", file=sys.stderr, flush=True)
                        continue
                    slot = slots[j]
                    if slot.endpoint is None:
                        continue  # a new actor is starting; its endpoint event will follow
                    if slot.endpoint == cmd.get("endpoint"):
                        lose(slot, "the learner asked for a replacement (no reply in time)")
                    else:
                        events.emit({"event": "endpoint", "worker": j, "generation": slot.generation, **slot.info})
            now = time.monotonic()
            if parent_pid is not None and now - last_parent_check > 1.0:
                last_parent_check = now
                if process_gone(parent_pid):
                    print(f"csc_sim ray-cluster: parent {parent_pid} is gone, exiting", file=sys.stderr, flush=True)
                    break
        return exit_code
    finally:
        for slot in slots:
            if slot.actor is not None:
                try:
                    ray.kill(slot.actor, no_restart=True)
                except Exception:
                    pass
        ray.shutdown()


def _has_auth_token() -> bool:
    """Whether this machine has a Ray token: $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token."""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return True
    return os.path.isfile(os.path.join(os.path.expanduser("~"), ".ray", "auth_token"))


def parse_port_range(text: str | None) -> tuple[int, int] | None:
    """`MIN-MAX` ($CSC_SIM_PORT_RANGE) as a pair; None for unset or empty. Raises ValueError."""
    if text is None or not text.strip():
        return None
    lo, sep, hi = text.strip().partition("-")
    if not sep or not lo.isdigit() or not hi.isdigit() or not 1024 <= int(lo) <= int(hi) <= 65535:
        raise ValueError(f"CSC_SIM_PORT_RANGE={text!r}: expected MIN-MAX with 1024 <= MIN <= MAX <= 65535")
    return int(lo), int(hi)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"
