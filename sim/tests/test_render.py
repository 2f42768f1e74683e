"""Rendering (issue 11, item 5): the `render` op and a step's `render` field, on real renderers.

PyBullet's TinyRenderer (Laikago) runs in this process. MuJoCo (car-nav, the Panda) picks its GL
backend when first imported, so those are rendered by a real server process started with
MUJOCO_GL=osmesa, as `csc eval --render` starts it."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq

from csc_sim.batch import Batch, RenderRequest
from csc_sim.protocol import encode_array
from csc_sim.server import Handler

W, H = 64, 48
SIM_ROOT = Path(__file__).resolve().parent.parent


def call(handler: Handler, **msg):
    return msgpack.unpackb(handler.handle(msgpack.packb({"v": 1, "id": 1, **msg}, use_bin_type=True)), raw=False)


def f32(a):
    return encode_array(np.asarray(a, dtype=np.float32))


def frame_of(enc) -> np.ndarray:
    assert enc["dtype"] == "u8"
    return np.frombuffer(enc["data"], dtype=np.uint8).reshape(enc["shape"])


def has(pkg: str) -> bool:
    return importlib.util.find_spec(pkg) is not None


@pytest.fixture
def laikago():
    if not has("pybullet"):
        pytest.skip("pybullet is not installed (scripts/setup-sim.sh)")
    b = Batch("laikago-walk", 2)
    yield b
    b.close()


def test_laikago_frames_show_the_motion(laikago):
    h = Handler(laikago)
    assert call(h, op="reset", seed=4)["ok"]
    first = frame_of(call(h, op="render", env=1, width=W, height=H)["data"]["frame"])
    assert first.shape == (H, W, 3)
    # not a blank picture: the robot, the checkered floor and the sky differ
    assert first.std() > 10
    actions = np.tile(np.array([0.0, 0.8, -0.8] * 4, dtype=np.float32), (2, 1))
    r = call(h, op="step", actions=f32(actions), render={"env": 1, "width": W, "height": H})
    assert r["ok"], r
    after = frame_of(r["data"]["frame"])
    assert after.shape == (H, W, 3)
    assert np.abs(after.astype(int) - first.astype(int)).mean() > 0.5
    # a plain step has no frame
    assert "frame" not in call(h, op="step", actions=f32(actions))["data"]


def test_rendering_does_not_change_the_simulation():
    if not has("pybullet"):
        pytest.skip("pybullet is not installed")
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1, 1, size=(40, 1, 12)).astype(np.float32)
    out = []
    for render in (None, RenderRequest(0, 32, 24)):
        b = Batch("laikago-walk", 1)
        try:
            b.reset(9)
            steps = [b.step(a, render) for a in actions]
            assert all((s.frame is not None) == (render is not None) for s in steps)
            out.append(np.stack([s.next_obs for s in steps]))
        finally:
            b.close()
    np.testing.assert_array_equal(out[0], out[1])


def test_the_step_frame_is_the_terminal_state_not_the_auto_reset():
    if not has("pybullet"):
        pytest.skip("pybullet is not installed")
    # zero gains: the robot collapses and the episode ends with a failure
    b = Batch("laikago-walk", 1, kp=0.0, kd=0.0)
    try:
        h = Handler(b)
        call(h, op="reset", seed=2)
        standing = frame_of(call(h, op="render", env=0, width=W, height=H)["data"]["frame"])
        for _ in range(200):
            r = call(h, op="step", actions=f32(np.zeros((1, 12))), render={"env": 0, "width": W, "height": H})["data"]
            if r["failure"]["data"] == b"\x01":
                break
        else:
            pytest.fail("a limp Laikago did not fall within 200 steps")
        fallen = frame_of(r["frame"])
        restarted = frame_of(call(h, op="render", env=0, width=W, height=H)["data"]["frame"])
        # after the auto-reset the robot stands again, like at the start; the step's frame shows it down
        assert np.abs(restarted.astype(int) - standing.astype(int)).mean() < np.abs(fallen.astype(int) - standing.astype(int)).mean()
    finally:
        b.close()


def test_render_errors(laikago):
    h = Handler(laikago)
    r = call(h, op="render", env=0, width=W, height=H)
    assert r["error"]["code"] == "not_reset"
    call(h, op="reset", seed=0)
    for fields, fragment in [
        ({"env": 2, "width": W, "height": H}, "render.env: expected an integer in [0, 1], got 2"),
        ({"env": 0, "width": 0, "height": H}, "render.width"),
        ({"env": 0, "width": W, "height": 5000}, "render.height"),
        ({"env": 0, "width": W}, "render.height: expected an integer in [1, 4096], got None"),
        ({"env": True, "width": W, "height": H}, "render.env"),
    ]:
        r = call(h, op="render", **fields)
        assert r["error"]["code"] == "bad_request" and fragment in r["error"]["message"], r
    r = call(h, op="step", actions=f32(np.zeros((2, 12))), render={"env": 0, "width": "wide", "height": H})
    assert r["error"]["code"] == "bad_request" and "step.render.width" in r["error"]["message"]
    r = call(h, op="step", actions=f32(np.zeros((2, 12))), render=[0, W, H])
    assert r["error"]["code"] == "bad_request" and "step.render: expected a map" in r["error"]["message"]
    # nothing was stepped by the refused requests: stepping still works
    assert call(h, op="step", actions=f32(np.zeros((2, 12))))["ok"]


def test_an_env_without_renderer_says_so():
    if not has("gymnasium"):
        pytest.skip("gymnasium is not installed")
    b = Batch("gym:Pendulum-v1", 1)
    try:
        h = Handler(b)
        call(h, op="reset", seed=0)
        r = call(h, op="render", env=0, width=W, height=H)
        assert r["error"]["code"] == "cannot_render"
        assert "gym:Pendulum-v1: this env has no renderer" in r["error"]["message"]
        assert call(h, op="step", actions=f32([[0.0]]))["ok"]
    finally:
        b.close()


def mujoco_server(env_id: str, ipc_endpoint: str, gl: str | None):
    # this checkout's csc_sim, whatever the venv's editable install points at
    path = os.pathsep.join(x for x in (str(SIM_ROOT), os.environ.get("PYTHONPATH")) if x)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    env.pop("MUJOCO_GL", None)
    if gl is not None:
        env["MUJOCO_GL"] = gl
    return subprocess.Popen(
        [sys.executable, "-m", "csc_sim", "serve", "--env", env_id, "--bind", ipc_endpoint, "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def talk(endpoint: str):
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 60_000)
    s.connect(endpoint)

    def send(**msg):
        s.send(msgpack.packb({"v": 1, "id": 1, **msg}, use_bin_type=True))
        return msgpack.unpackb(s.recv(), raw=False)

    return ctx, s, send


@pytest.mark.parametrize("env_id, act_size, pkg", [("car-nav", 2, "mujoco"), ("panda-push-topple", 3, "robosuite")])
def test_mujoco_envs_render_offscreen_in_a_server(env_id, act_size, pkg, ipc_endpoint):
    if not has(pkg):
        pytest.skip(f"{pkg} is not installed")
    p = mujoco_server(env_id, ipc_endpoint, "osmesa")
    try:
        ready = json.loads(p.stdout.readline())
        assert ready["event"] == "ready", p.stderr.read()
        ctx, s, send = talk(ready["endpoint"])
        r = send(op="render", env=0, width=W, height=H)
        if not r["ok"] and "libOSMesa" in r["error"]["message"]:
            pytest.skip(f"no OSMesa on this machine: {r['error']['message']}")
        assert r["ok"], r
        frames = [frame_of(r["data"]["frame"])]
        act = np.ones((1, act_size), dtype=np.float32)
        for _ in range(8):
            r = send(op="step", actions=f32(act), render={"env": 0, "width": W, "height": H})
            assert r["ok"], r
            frames.append(frame_of(r["data"]["frame"]))
        assert all(f.shape == (H, W, 3) for f in frames)
        assert frames[0].std() > 5
        # full-speed wheels / hand: the picture changes from step to step
        changed = [np.abs(a.astype(int) - b.astype(int)).sum() > 0 for a, b in zip(frames, frames[1:])]
        assert sum(changed) >= 6, changed
        s.close()
        ctx.term()
    finally:
        p.kill()
        p.wait()
        p.stdout.close(), p.stderr.close()


def test_mujoco_without_a_headless_backend_is_cannot_render(ipc_endpoint):
    if not has("mujoco"):
        pytest.skip("mujoco is not installed")
    p = mujoco_server("car-nav", ipc_endpoint, None)
    try:
        ready = json.loads(p.stdout.readline())
        ctx, s, send = talk(ready["endpoint"])
        r = send(op="render", env=0, width=W, height=H)
        assert r["error"]["code"] == "cannot_render"
        assert "MUJOCO_GL=osmesa or egl" in r["error"]["message"]
        assert send(op="step", actions=f32([[0.5, 0.5]]))["ok"]
        s.close()
        ctx.term()
    finally:
        p.kill()
        p.wait()
        p.stdout.close(), p.stderr.close()
