"""The csc-sim/1 server: every error reply, batching and determinism, and a real process over
ipc and tcp (ready line, port 0, SIGTERM, exit codes)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import msgpack
import numpy as np
import pytest
import zmq

from csc_sim.batch import Batch
from csc_sim.protocol import encode_array
from csc_sim.server import Handler

ENV = "gym:Pendulum-v1"


def call(handler: Handler, **msg):
    return msgpack.unpackb(handler.handle(msgpack.packb(msg, use_bin_type=True)), raw=False)


def f32(a):
    return encode_array(np.asarray(a, dtype=np.float32))


def arr(enc):
    dt = {"f32": "<f4", "u8": "u1"}[enc["dtype"]]
    return np.frombuffer(enc["data"], dtype=dt).reshape(enc["shape"])


@pytest.fixture
def handler():
    b = Batch(ENV, 3)
    yield Handler(b)
    b.close()


def test_spec_mirrors_env_ts_names(handler):
    r = call(handler, v=1, id=1, op="spec")
    assert r["ok"] and r["id"] == 1
    d = r["data"]
    assert d["id"] == ENV and d["obsSize"] == 3 and d["actSize"] == 1 and d["numEnvs"] == 3
    assert d["actLow"] == [-2.0] and d["actHigh"] == [2.0]
    assert d["maxEpisodeSteps"] == 200 and d["controlPeriodS"] == pytest.approx(0.05)
    assert d["obsNames"] == ["obs_0", "obs_1", "obs_2"] and d["actNames"] == ["act_0"]
    assert isinstance(d["failureMeaning"], str) and d["protocol"] == "csc-sim/1"


def test_ping_echoes_payload(handler):
    assert call(handler, v=1, id=2, op="ping", payload=b"\x00\x01")["data"] == {"payload": b"\x00\x01"}
    assert call(handler, v=1, id=3, op="ping")["data"] == {"payload": b""}


@pytest.mark.parametrize(
    "frame, rid, code, fragment",
    [
        (b"\xc1\xc1", None, "bad_frame", "not valid msgpack"),
        (msgpack.packb("hello"), None, "bad_frame", "must be a msgpack map"),
        (msgpack.packb({"v": 2, "id": 5, "op": "spec"}), 5, "bad_version", "v=2"),
        (msgpack.packb({"v": 1, "id": 6, "op": "fly"}), 6, "unknown_op", "'fly'"),
        (msgpack.packb({"v": 1, "id": 7, "op": "reset", "seed": -1}), 7, "bad_request", "reset.seed"),
        (msgpack.packb({"v": 1, "id": 8, "op": "reset"}), 8, "bad_request", "got None"),
        (msgpack.packb({"v": 1, "id": 9, "op": "ping", "payload": 3}), 9, "bad_request", "ping.payload"),
        (msgpack.packb({"v": 1, "id": 10, "op": "step"}), 10, "bad_request", "step.actions"),
    ],
)
def test_error_replies(handler, frame, rid, code, fragment):
    r = msgpack.unpackb(handler.handle(frame), raw=False)
    assert r["v"] == 1 and r["id"] == rid and r["ok"] is False
    assert r["error"]["code"] == code
    assert fragment in r["error"]["message"]
    # and the handler still serves
    assert call(handler, v=1, id=11, op="ping")["ok"]


def test_step_errors(handler):
    r = call(handler, v=1, id=1, op="step", actions=f32([[0.0]] * 3))
    assert r["error"]["code"] == "not_reset"
    call(handler, v=1, id=2, op="reset", seed=0)
    r = call(handler, v=1, id=3, op="step", actions=f32([[0.0]] * 2))
    assert r["error"]["code"] == "bad_action" and "shape [2, 1], expected [3, 1]" in r["error"]["message"]
    r = call(handler, v=1, id=4, op="step", actions=f32([[0.0], [np.nan], [0.0]]))
    assert r["error"]["code"] == "bad_action" and "act_0 of env 1 is nan" in r["error"]["message"]
    r = call(handler, v=1, id=5, op="step", actions=encode_array(np.zeros((3, 1), dtype=np.uint8)))
    assert r["error"]["code"] == "bad_action" and "f32" in r["error"]["message"]
    assert call(handler, v=1, id=6, op="step", actions=f32([[0.0]] * 3))["ok"]


def test_env_error_is_reported_and_requires_reset(handler):
    call(handler, v=1, id=1, op="reset", seed=0)
    handler.batch.envs[1].step = lambda a: (_ for _ in ()).throw(RuntimeError("physics exploded"))
    r = call(handler, v=1, id=2, op="step", actions=f32([[0.0]] * 3))
    assert r["error"]["code"] == "env_error" and "RuntimeError: physics exploded" in r["error"]["message"]
    assert call(handler, v=1, id=3, op="step", actions=f32([[0.0]] * 3))["error"]["code"] == "not_reset"


def test_unexpected_exception_is_an_env_error_reply(handler, monkeypatch):
    monkeypatch.setattr("csc_sim.server.spec_data", lambda b: 1 / 0)
    r = call(handler, v=1, id=4, op="spec")
    assert r["id"] == 4 and r["error"]["code"] == "env_error" and "ZeroDivisionError" in r["error"]["message"]
    assert call(handler, v=1, id=5, op="ping")["ok"]


def test_close_stops_handler(handler):
    assert call(handler, v=1, id=1, op="close") == {"v": 1, "id": 1, "ok": True, "data": {}}
    assert handler.closed


def run_episode(seed, steps, k=3):
    b = Batch(ENV, k)
    h = Handler(b)
    rng = np.random.default_rng(123)
    out = [arr(call(h, v=1, id=0, op="reset", seed=seed)["data"]["obs"])]
    for i in range(steps):
        d = call(h, v=1, id=i + 1, op="step", actions=f32(rng.uniform(-2, 2, (k, 1))))["data"]
        out.append(np.concatenate([arr(d["obs"]), arr(d["nextObs"]), arr(d["reward"])[:, None]], axis=1))
    b.close()
    return out


def test_same_seed_same_trajectory_and_seed_plus_i():
    a, b = run_episode(7, 210), run_episode(7, 210)  # 210 > 200: crosses an auto-reset
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = run_episode(8, 1)
    assert not np.array_equal(a[0], c[0])
    # env i of seed s starts where env 0 of seed s + i starts
    np.testing.assert_array_equal(a[0][1], c[0][0])


def test_auto_reset_next_obs_is_true_successor():
    b = Batch(ENV, 2)
    b.reset(0)
    acts = np.zeros((2, 1), dtype=np.float32)
    for t in range(200):
        r = b.step(acts)
    assert r.truncated.tolist() == [1, 1] and r.terminated.tolist() == [0, 0]
    assert not np.array_equal(r.obs, r.next_obs)  # obs is the new episode's start, nextObs the true s'
    prev = r.obs
    r = b.step(acts)
    assert r.truncated.tolist() == [0, 0]
    b.close()


def test_actions_are_clipped_to_bounds():
    b1, b2 = Batch(ENV, 1), Batch(ENV, 1)
    b1.reset(0), b2.reset(0)
    r1 = b1.step(np.array([[2.0]], dtype=np.float32))
    r2 = b2.step(np.array([[50.0]], dtype=np.float32))
    np.testing.assert_array_equal(r1.next_obs, r2.next_obs)
    b1.close(), b2.close()


def start(args, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "csc_sim", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_real_server_process(transport, ipc_endpoint):
    bind = ipc_endpoint if transport == "ipc" else "tcp://127.0.0.1:0"
    p = start(["--env", ENV, "--num-envs", "2", "--bind", bind, "--seed", "3"])
    try:
        ready = json.loads(p.stdout.readline())
        assert ready["event"] == "ready" and ready["numEnvs"] == 2 and ready["pid"] == p.pid
        if transport == "tcp":
            assert ready["endpoint"].startswith("tcp://127.0.0.1:") and not ready["endpoint"].endswith(":0")
        else:
            assert ready["endpoint"] == bind
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 5000)
        s.connect(ready["endpoint"])
        s.send(b"garbage\xc1")
        r = msgpack.unpackb(s.recv(), raw=False)
        assert r["error"]["code"] == "bad_frame"
        # --seed pre-reset the batch: step works at once
        s.send(msgpack.packb({"v": 1, "id": 1, "op": "step", "actions": f32([[0.0], [1.0]])}, use_bin_type=True))
        r = msgpack.unpackb(s.recv(), raw=False)
        assert r["ok"] and arr(r["data"]["obs"]).shape == (2, 3)
        s.close()
        ctx.term()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 0
    finally:
        p.kill()
        p.wait()
        p.stdout.close(), p.stderr.close()


def test_close_op_ends_process(ipc_endpoint):
    p = start(["--env", ENV, "--bind", ipc_endpoint])
    try:
        json.loads(p.stdout.readline())
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(ipc_endpoint)
        s.send(msgpack.packb({"v": 1, "id": 1, "op": "close"}))
        assert msgpack.unpackb(s.recv())["ok"]
        s.close(), ctx.term()
        assert p.wait(timeout=5) == 0
    finally:
        p.kill(), p.wait()
        p.stdout.close(), p.stderr.close()


@pytest.mark.parametrize(
    "env, code, exit_code",
    [("no-such-env", "unknown_env", 2), ("gym:NoSuchEnv-v0", "unknown_env", 2), ("gym:CartPole-v1", "env_error", 4),
     ("gym:csc_no_such_sim_pkg:Thing-v0", "missing_simulator", 3)],
)
def test_bad_env_exits_before_serving(env, code, exit_code):
    p = start(["--env", env])
    out, err = p.communicate(timeout=30)
    assert p.returncode == exit_code
    line = json.loads(out.splitlines()[0])
    assert line["event"] == "error" and line["code"] == code
    assert "error:" in err


def test_missing_simulator_exit_code(monkeypatch):
    from csc_sim import envs
    from csc_sim.server import run_server

    monkeypatch.setitem(envs.REGISTRY, "needs-sim", ("csc_sim_no_such_simulator_module", "X", "nosuchsim"))
    assert run_server("needs-sim", 1, "tcp://127.0.0.1:0", None, {}) == 3


def test_bind_failure_exit_code():
    ctx = zmq.Context()
    holder = ctx.socket(zmq.ROUTER)
    holder.setsockopt(zmq.LINGER, 0)
    port = holder.bind_to_random_port("tcp://127.0.0.1")
    try:
        p = start(["--env", ENV, "--bind", f"tcp://127.0.0.1:{port}"])
        out, err = p.communicate(timeout=30)
        assert p.returncode == 5
        assert json.loads(out.splitlines()[0])["code"] == "bind_failed"
        assert "cannot bind" in err
    finally:
        holder.close()
        ctx.term()


def test_req_peer_gets_its_envelope_back(ipc_endpoint):
    """A REQ socket adds an empty delimiter frame; the server echoes the whole envelope."""
    p = start(["--env", ENV, "--bind", ipc_endpoint])
    try:
        json.loads(p.stdout.readline())
        ctx = zmq.Context()
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 5000)
        s.connect(ipc_endpoint)
        s.send(msgpack.packb({"v": 1, "id": 1, "op": "ping", "payload": b"hi"}))
        assert msgpack.unpackb(s.recv())["data"] == {"payload": b"hi"}
        s.close(), ctx.term()
    finally:
        p.terminate()
        assert p.wait(timeout=5) == 0
        p.stdout.close(), p.stderr.close()
