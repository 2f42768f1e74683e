"""Sim servers as Ray actors (csc_sim.ray_cluster, docs/scale-out.md): CURVE refuses clients
without the keys, and on a real three-node Ray cluster on this machine the driver spreads its
actors over nodes, hands their endpoints and server keys over, replaces the actor of a node that
is killed on another node and a hung (SIGSTOPped) actor the learner asks to replace, and leaves
nothing behind when closed; with Ray's own TLS on (scripts/ray-tls-certs.sh), the driver works
and Ray's GCS answers only clients holding the cluster's certificate."""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import msgpack
import pytest
import zmq

from csc_sim.batch import Batch
from csc_sim.server import CurveServerKeys, serve

ENV = "gym:Pendulum-v1"
SIM_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _request(op: str, rid: int = 1) -> bytes:
    return msgpack.packb({"v": 1, "id": rid, "op": op}, use_bin_type=True)


def _ask(ctx: zmq.Context, endpoint: str, timeout_ms: int, curve: tuple[str, str, str] | None = None):
    """Sends `spec` from a DEALER (CURVE with (server, public, secret) keys when given); the reply or None."""
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    if curve is not None:
        server, public, secret = curve
        s.curve_serverkey = server.encode()
        s.curve_publickey = public.encode()
        s.curve_secretkey = secret.encode()
    try:
        s.connect(endpoint)
        s.send(_request("spec"))
        if not s.poll(timeout_ms):
            return None
        return msgpack.unpackb(s.recv(), raw=False)
    finally:
        s.close(linger=0)


def _keypair() -> tuple[str, str]:
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()


def test_curve_server_answers_only_the_admitted_client():
    server_pub, server_sec = _keypair()
    client_pub, client_sec = _keypair()
    other_pub, other_sec = _keypair()
    batch = Batch(ENV, 1)
    stop = threading.Event()
    bound: queue.Queue[str] = queue.Queue()
    ctx = zmq.Context()
    t = threading.Thread(
        target=serve,
        args=(batch, "tcp://127.0.0.1:0"),
        kwargs={"on_ready": bound.put, "should_stop": stop.is_set, "context": ctx,
                "curve": CurveServerKeys(server_pub, server_sec, (client_pub,))},
        daemon=True,
    )
    t.start()
    client_ctx = zmq.Context()
    try:
        endpoint = bound.get(timeout=10)
        assert _ask(client_ctx, endpoint, 1500) is None, "a plain (NULL) client must get no reply"
        assert _ask(client_ctx, endpoint, 1500, (server_pub, other_pub, other_sec)) is None, \
            "a CURVE client whose key the server does not admit must get no reply"
        wrong_server = _keypair()[0]
        assert _ask(client_ctx, endpoint, 1500, (wrong_server, client_pub, client_sec)) is None, \
            "a client expecting another server key must not complete the handshake"
        reply = _ask(client_ctx, endpoint, 5000, (server_pub, client_pub, client_sec))
        assert reply is not None and reply["ok"] and reply["data"]["id"] == ENV
    finally:
        stop.set()
        t.join(5)
        batch.close()
        client_ctx.term()
        ctx.term()
    assert not t.is_alive()


class _Driver:
    """`python -m csc_sim ray-cluster` as a subprocess, its JSON events on a queue."""

    def __init__(self, address: str, workers: int, client_pub: str, extra_env: dict[str, str] | None = None) -> None:
        env = {**os.environ, **(extra_env or {}), "PYTHONPATH": SIM_ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "csc_sim", "ray-cluster", "--address", address, "--env", ENV,
             "--workers", str(workers), "--num-envs", "2", f"--client-key={client_pub}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        self.events: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def next(self, event: str, timeout_s: float = 120) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            e = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            assert e["event"] != "error", e
            if e["event"] == event:
                return e

    def send(self, cmd: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_actors_spread_over_nodes_hand_over_curve_endpoints_and_survive_a_node_loss():
    """Through Ray Client (ray://), as a learner outside the cluster connects; the TypeScript test
    (test/ray-cluster.test.ts) connects to the GCS address, as a learner on a node does."""
    pytest.importorskip("ray", reason="Ray is not installed (scripts/setup-sim.sh installs sim/requirements-ray.txt)")
    from ray_local_cluster import local_cluster

    client_pub, client_sec = _keypair()
    ctx = zmq.Context()
    port = _free_port()
    with local_cluster(nodes=3, client_port=port) as cluster:
        nodes = {n.node_id for n in cluster.worker_nodes}
        driver = _Driver(f"ray://127.0.0.1:{port}", 2, client_pub)
        try:
            first = [driver.next("endpoint"), driver.next("endpoint")]
            driver.next("ready")
            by_worker = {e["worker"]: e for e in first}
            assert sorted(by_worker) == [0, 1]
            placed = [by_worker[j]["node"] for j in (0, 1)]
            assert set(placed) <= nodes and len(set(placed)) == 2, f"one actor per node (SPREAD, 1 CPU each): {placed}"
            for e in first:
                assert e["endpoint"].startswith("tcp://") and not e["endpoint"].startswith("tcp://0.0.0.0"), e
                reply = _ask(ctx, e["endpoint"], 10_000, (e["serverKey"], client_pub, client_sec))
                assert reply is not None and reply["data"]["numEnvs"] == 2
                assert _ask(ctx, e["endpoint"], 1000) is None, "plain clients get nothing from an actor"

            # the node of worker 0 dies: the driver reports it and starts a new actor on the free node
            victim = by_worker[0]["node"]
            cluster.remove_node(next(n for n in cluster.worker_nodes if n.node_id == victim), allow_graceful=False)
            lost = driver.next("lost", 60)
            assert lost["worker"] == 0 and lost["endpoint"] == by_worker[0]["endpoint"]
            fresh = driver.next("endpoint", 120)
            assert fresh["worker"] == 0 and fresh["generation"] == 1
            assert fresh["node"] not in (victim, by_worker[1]["node"])
            assert fresh["serverKey"] != by_worker[0]["serverKey"], "every actor makes its own key pair"
            reply = _ask(ctx, fresh["endpoint"], 10_000, (fresh["serverKey"], client_pub, client_sec))
            assert reply is not None and reply["ok"]

            # a replace request for a stale endpoint only re-reports the current one
            driver.send({"op": "replace", "worker": 0, "endpoint": by_worker[0]["endpoint"]})
            again = driver.next("endpoint", 30)
            assert again["endpoint"] == fresh["endpoint"] and again["generation"] == 1

            # a hung actor (SIGSTOP: alive to Ray, silent to us), as the learner sees a server that
            # stops answering: its replace request kills the actor and starts another
            hung = by_worker[1]
            os.kill(hung["pid"], signal.SIGSTOP)
            try:
                assert _ask(ctx, hung["endpoint"], 1000, (hung["serverKey"], client_pub, client_sec)) is None
                driver.send({"op": "replace", "worker": 1, "endpoint": hung["endpoint"]})
                lost = driver.next("lost", 60)
                assert lost["worker"] == 1 and lost["endpoint"] == hung["endpoint"], lost
                new = driver.next("endpoint", 120)
                assert new["worker"] == 1 and new["generation"] == 1 and new["endpoint"] != hung["endpoint"], new
                reply = _ask(ctx, new["endpoint"], 10_000, (new["serverKey"], client_pub, client_sec))
                assert reply is not None and reply["ok"]
            finally:
                try:
                    os.kill(hung["pid"], signal.SIGCONT)  # only matters if the kill above did not happen
                except ProcessLookupError:
                    pass

            driver.send({"op": "close"})
            assert driver.proc.wait(60) == 0
            # the actors are gone with the driver: their servers no longer answer
            assert _ask(ctx, fresh["endpoint"], 1500, (fresh["serverKey"], client_pub, client_sec)) is None
        finally:
            if driver.proc.poll() is None:
                driver.proc.kill()
                driver.proc.wait()
    ctx.term()


def test_port_range_binds_inside_it_and_rejects_nonsense():
    from csc_sim.ray_cluster import parse_port_range

    assert parse_port_range(None) is None and parse_port_range(" ") is None
    assert parse_port_range("40000-40100") == (40000, 40100)
    for bad in ("40000", "5-10", "40100-40000", "a-b", "40000-70000"):
        with pytest.raises(ValueError, match="CSC_SIM_PORT_RANGE"):
            parse_port_range(bad)
    batch = Batch(ENV, 1)
    stop = threading.Event()
    bound: queue.Queue[str] = queue.Queue()
    t = threading.Thread(target=serve, args=(batch, "tcp://127.0.0.1"),
                         kwargs={"on_ready": bound.put, "should_stop": stop.is_set, "port_range": (41000, 41050)}, daemon=True)
    t.start()
    try:
        port = int(bound.get(timeout=10).rsplit(":", 1)[1])
        assert 41000 <= port <= 41050
    finally:
        stop.set()
        t.join(5)
        batch.close()


def test_without_ray_the_driver_says_so_and_exits_8(tmp_path):
    fake = tmp_path / "ray"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('no ray here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), SIM_ROOT, os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "csc_sim", "ray-cluster", "--env", ENV, f"--client-key={_keypair()[0]}"],
                       capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 8, r.stderr
    event = json.loads(r.stdout.strip().splitlines()[-1])
    assert event["event"] == "error" and event["code"] == "no_ray" and "scripts/setup-sim.sh" in event["message"]


_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # + an empty SETTINGS frame


def _gcs_answer(address: str, tls: ssl.SSLContext | None) -> bytes:
    """What Ray's GCS at `address` sends back to an HTTP/2 preface (its SETTINGS frame when it
    accepts the connection; b"" when it closes it), over TLS with `tls` or plain TCP."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        sock = tls.wrap_socket(raw, server_hostname=host) if tls is not None else raw
        try:
            sock.sendall(_H2_PREFACE)
            return sock.recv(64)
        except (ssl.SSLError, ConnectionResetError):
            return b""
        finally:
            if sock is not raw:
                sock.close()


def test_with_ray_tls_the_driver_works_and_the_gcs_refuses_clients_without_the_certificate(tmp_path):
    """docs/scale-out.md, "Ray's traffic": a cluster started with RAY_USE_TLS and the certificates
    of scripts/ray-tls-certs.sh; the driver, given the same variables, hands over its actors'
    endpoints as without TLS. Ray's GCS completes HTTP/2 only for a client that shows the
    cluster's certificate (mutual TLS); a TLS client without it and a plain one are cut off."""
    pytest.importorskip("ray", reason="Ray is not installed (scripts/setup-sim.sh installs sim/requirements-ray.txt)")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (scripts/ray-tls-certs.sh needs it)")
    from ray._private.services import get_node_ip_address

    certs = tmp_path / "tls"
    made = subprocess.run(["bash", os.path.join(SIM_ROOT, "..", "scripts", "ray-tls-certs.sh"), str(certs), "127.0.0.1", "localhost", get_node_ip_address()],
                          capture_output=True, text=True, check=True)
    tls_env = dict(line.removeprefix("export ").split("=", 1) for line in made.stdout.splitlines())
    assert tls_env["RAY_USE_TLS"] == "1" and set(tls_env) == {"RAY_USE_TLS", "RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT"}
    assert (certs / "ca.crt").is_file() and oct((certs / "node.key").stat().st_mode & 0o777) == "0o600"

    env = {**os.environ, **tls_env, "PYTHONPATH": SIM_ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cluster = subprocess.Popen([sys.executable, os.path.join(SIM_ROOT, "tests", "ray_local_cluster.py"), "--nodes", "1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    driver = None
    try:
        assert cluster.stdout is not None
        address = json.loads(cluster.stdout.readline())["address"]
        client_pub, client_sec = _keypair()
        driver = _Driver(address, 1, client_pub, tls_env)
        e = driver.next("endpoint")
        driver.next("ready")
        reply = _ask(zmq.Context.instance(), e["endpoint"], 10_000, (e["serverKey"], client_pub, client_sec))
        assert reply is not None and reply["data"]["numEnvs"] == 2

        with_cert = ssl.create_default_context(cafile=tls_env["RAY_TLS_CA_CERT"])
        with_cert.set_alpn_protocols(["h2"])
        with_cert.load_cert_chain(tls_env["RAY_TLS_SERVER_CERT"], tls_env["RAY_TLS_SERVER_KEY"])
        without_cert = ssl.create_default_context(cafile=tls_env["RAY_TLS_CA_CERT"])
        without_cert.set_alpn_protocols(["h2"])
        answer = _gcs_answer(address, with_cert)
        assert len(answer) >= 9 and answer[3] == 0x04, f"the GCS speaks HTTP/2 to a client with the certificate: {answer!r}"
        assert _gcs_answer(address, without_cert) == b"", "a TLS client without the certificate is cut off"
        assert _gcs_answer(address, None) == b"", "a plain client is cut off"

        driver.send({"op": "close"})
        assert driver.proc.wait(60) == 0
    finally:
        if driver is not None and driver.proc.poll() is None:
            driver.proc.kill()
            driver.proc.wait()
        assert cluster.stdin is not None
        cluster.stdin.close()
        try:
            cluster.wait(60)
        except subprocess.TimeoutExpired:
            cluster.kill()
            cluster.wait()


class _FlakyRayInit:
    """Stands in for the `ray` module's `init` only: raises the given errors in turn, then connects.
    The race it imitates (Ray Client's per-client server dying as it starts) cannot be provoked on
    demand, so the retry policy is checked against the errors Ray 2.60 raised in our CI logs."""

    def __init__(self, errors: list[BaseException]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def init(self, **_kwargs) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def test_ray_client_connect_retries_a_server_that_died_starting_and_nothing_else(monkeypatch):
    from csc_sim import ray_cluster

    monkeypatch.setattr(ray_cluster.time, "sleep", lambda _s: None)
    zombie = ConnectionAbortedError("Initialization failure from server:\nTraceback ...\npsutil.ZombieProcess: PID still exists but it's a zombie (pid=24111)")
    start = ConnectionError("ray client connection timeout: Starting Ray client server failed. See ray_client_server_23000.err")
    ray = _FlakyRayInit([zombie, start])
    ray_cluster._connect(ray, "ray://127.0.0.1:10001", 2, 1.0, None)
    assert ray.calls == 3

    always = _FlakyRayInit([zombie] * ray_cluster.RAY_CLIENT_CONNECT_ATTEMPTS)
    with pytest.raises(ConnectionAbortedError):
        ray_cluster._connect(always, "ray://127.0.0.1:10001", 2, 1.0, None)
    assert always.calls == ray_cluster.RAY_CLIENT_CONNECT_ATTEMPTS

    wrong = _FlakyRayInit([ConnectionError("ray client connection timeout: could not reach 127.0.0.1:10001")])
    with pytest.raises(ConnectionError, match="could not reach"):
        ray_cluster._connect(wrong, "ray://127.0.0.1:10001", 2, 1.0, None)
    assert wrong.calls == 1, "an unreachable address is not retried"
