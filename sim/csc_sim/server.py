"""The csc-sim/1 server: one ZeroMQ ROUTER socket serving one `Batch` of K envs (docs/protocol.md).

Requests are answered in arrival order, one at a time. Any request that cannot be served gets an
error reply with a code and a message, and the server keeps serving; only `close`, SIGTERM or SIGINT
end it.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import zmq

from .batch import Batch, BatchInputError, NotResetError, RenderRequest
from .envs import RenderUnavailableError
from .protocol import (
    MAX_FRAME_SIDE_PX,
    PROTOCOL,
    ProtocolError,
    decode_array,
    encode_array,
    error_reply,
    ok_reply,
    unpack_request,
)

MAX_SEED = 2**53 - 1  # seeds must survive a trip through a JavaScript number


def spec_data(batch: Batch) -> dict[str, Any]:
    """The `spec` reply: the EnvSpec fields with the names of src/envs/env.ts, plus numEnvs."""
    s = batch.spec
    return {
        "protocol": PROTOCOL,
        "id": s.id,
        "obsSize": int(s.obs_size),
        "actSize": int(s.act_size),
        "actLow": [float(x) for x in s.act_low],
        "actHigh": [float(x) for x in s.act_high],
        "obsNames": [str(x) for x in s.obs_names],
        "actNames": [str(x) for x in s.act_names],
        "maxEpisodeSteps": int(s.max_episode_steps),
        "controlPeriodS": float(s.control_period_s),
        "failureMeaning": str(s.failure_meaning),
        "numEnvs": int(batch.num_envs),
    }


class Handler:
    """Turns one request frame into one reply frame. No sockets, so tests can drive it directly."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.closed = False

    def handle(self, frame: bytes) -> bytes:
        rid: int | None = None
        try:
            rid, msg = unpack_request(frame)
            return ok_reply(rid, self._dispatch(msg))
        except ProtocolError as e:
            return error_reply(rid if rid is not None else e.request_id, e.code, e.message)
        except Exception as e:  # a bug in an env wrapper must not take the server down
            traceback.print_exc(file=sys.stderr)
            return error_reply(rid, "env_error", f"{self.batch.spec.id}: unexpected {_describe(e)}")

    def _dispatch(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = msg["op"]
        if op == "ping":
            payload = msg.get("payload", b"")
            if not isinstance(payload, (bytes, bytearray)):
                raise ProtocolError("bad_request", f"ping.payload: expected bin, got {type(payload).__name__}")
            return {"payload": bytes(payload)}
        if op == "spec":
            return spec_data(self.batch)
        if op == "reset":
            seed = msg.get("seed")
            if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED - self.batch.num_envs:
                raise ProtocolError(
                    "bad_request", f"reset.seed: expected an integer in [0, {MAX_SEED - self.batch.num_envs}], got {seed!r}"
                )
            try:
                obs = self.batch.reset(seed)
            except Exception as e:
                raise ProtocolError("env_error", f"{self.batch.spec.id}: reset({seed}) raised {_describe(e)}") from None
            return {"obs": encode_array(obs)}
        if op == "render":
            request = _render_request(msg, "render", self.batch.num_envs)
            try:
                frame = self.batch.render(request)
            except NotResetError as e:
                raise ProtocolError("not_reset", str(e)) from None
            except RenderUnavailableError as e:
                raise ProtocolError("cannot_render", str(e)) from None
            except Exception as e:
                raise ProtocolError("cannot_render", f"{self.batch.spec.id}: render raised {_describe(e)}") from None
            return {"frame": encode_array(frame)}
        if op == "step":
            actions = decode_array(msg.get("actions"), "step.actions")
            if actions.dtype.kind != "f":
                raise ProtocolError("bad_action", f"step.actions: expected dtype f32, got {msg['actions']['dtype']}")
            render = None
            if msg.get("render") is not None:
                render = _render_request(msg["render"], "step.render", self.batch.num_envs)
            try:
                r = self.batch.step(actions, render)
            except BatchInputError as e:
                raise ProtocolError("bad_action", str(e)) from None
            except NotResetError as e:
                raise ProtocolError("not_reset", str(e)) from None
            except Exception as e:
                raise ProtocolError(
                    "env_error", f"{self.batch.spec.id}: step raised {_describe(e)}; reset before stepping again"
                ) from None
            data = {
                "obs": encode_array(r.obs),
                "nextObs": encode_array(r.next_obs),
                "reward": encode_array(r.reward),
                "failure": encode_array(r.failure),
                "terminated": encode_array(r.terminated),
                "truncated": encode_array(r.truncated),
            }
            if r.frame is not None:
                data["frame"] = encode_array(r.frame)
            return data
        if op == "close":
            self.closed = True
            return {}
        raise ProtocolError("unknown_op", f"unknown op {op!r}")  # unreachable: unpack_request checks ops


def _render_request(obj: Any, where: str, num_envs: int) -> RenderRequest:
    """Checks `{env, width, height}` (a `render` request, or a step's `render` field)."""
    if not isinstance(obj, dict):
        raise ProtocolError("bad_request", f"{where}: expected a map {{env, width, height}}, got {type(obj).__name__}")
    values = {}
    for key, low, high in (("env", 0, num_envs - 1), ("width", 1, MAX_FRAME_SIDE_PX), ("height", 1, MAX_FRAME_SIDE_PX)):
        v = obj.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            raise ProtocolError("bad_request", f"{where}.{key}: expected an integer in [{low}, {high}], got {v!r}")
        values[key] = v
    return RenderRequest(values["env"], values["width"], values["height"])


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


@dataclass(frozen=True)
class CurveServerKeys:
    """ZeroMQ CURVE for one server (Z85 keys, 40 characters each): the server's own key pair, and
    the public keys of the only clients it talks to. A client without the server's public key, or
    whose own key is not listed, never completes the handshake and gets no reply at all."""

    public_key: str
    secret_key: str
    allowed_clients: tuple[str, ...]


class _AllowedClients:
    """Credentials provider for pyzmq's ZAP authenticator: a fixed set of client public keys."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = frozenset(k.encode("ascii") for k in keys)

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.keys


def serve(
    batch: Batch,
    bind: str,
    *,
    on_ready: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    poll_ms: int = 100,
    context: zmq.Context | None = None,
    curve: CurveServerKeys | None = None,
    port_range: tuple[int, int] | None = None,
) -> None:
    """Binds a ROUTER at `bind` and serves until `close` or `should_stop()` turns true.

    `on_ready` receives the bound endpoint (with the real port when `bind` asked for port 0).
    With `curve`, the socket is a CURVE server (authenticated, encrypted) that admits only
    `curve.allowed_clients`, checked by a ZAP handler on the same context. With `port_range`
    (min, max), `bind` is `tcp://HOST` and a free port in [min, max] is taken (a firewall's range).
    """
    ctx = context or zmq.Context.instance()
    auth = None
    if curve is not None:
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve_callback("*", credentials_provider=_AllowedClients(curve.allowed_clients))
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        sock.curve_secretkey = curve.secret_key.encode("ascii")
        sock.curve_publickey = curve.public_key.encode("ascii")
        sock.curve_server = True
    handler = Handler(batch)
    try:
        if port_range is None:
            sock.bind(bind)
        else:
            sock.bind_to_random_port(bind, min_port=port_range[0], max_port=port_range[1] + 1, max_tries=200)
        endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        if on_ready is not None:
            on_ready(endpoint)
        while not handler.closed and not should_stop():
            if not sock.poll(poll_ms):
                continue
            frames = sock.recv_multipart()
            if len(frames) < 2:
                continue  # a ROUTER always prefixes the peer identity; nothing to answer to
            reply = handler.handle(frames[-1])
            # echo the envelope (identity and any delimiter frames) so any DEALER/REQ peer works
            sock.send_multipart([*frames[:-1], reply])
    finally:
        sock.close(linger=0)
        if auth is not None:
            auth.stop()


def process_gone(pid: int) -> bool:
    """Whether no process `pid` exists any more (the parent-watch of `serve` and `ray-cluster`)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run_server(
    env_id: str, num_envs: int, bind: str, seed: int | None, env_kwargs: dict[str, Any], parent_pid: int | None = None
) -> int:
    """Entry point of `python -m csc_sim serve`; returns the process exit code (docs/protocol.md)."""
    from .envs import MissingSimulatorError, UnknownEnvError

    def fail(code: str, exit_code: int, message: str) -> int:
        print(json.dumps({"event": "error", "code": code, "message": message}), flush=True)
        print(f"csc_sim serve: error: {message}", file=sys.stderr, flush=True)
        return exit_code

    try:
        batch = Batch(env_id, num_envs, **env_kwargs)
    except UnknownEnvError as e:
        return fail("unknown_env", 2, str(e))
    except MissingSimulatorError as e:
        return fail("missing_simulator", 3, str(e))
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return fail("env_error", 4, f"could not build env {env_id!r}: {_describe(e)}")

    stop: dict[str, Any] = {"signal": None, "checked": time.monotonic()}

    def should_stop() -> bool:
        if stop["signal"] is not None:
            return True
        # an orphaned server would hold its port and CPU forever: follow the parent out
        now = time.monotonic()
        if parent_pid is not None and now - stop["checked"] > 1.0:
            stop["checked"] = now
            if process_gone(parent_pid):
                print(f"csc_sim serve: parent {parent_pid} is gone, exiting", file=sys.stderr, flush=True)
                return True
        return False

    def on_signal(signum, _frame):
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if seed is not None:
            batch.reset(seed)

        def ready(endpoint: str) -> None:
            line = {"event": "ready", "protocol": PROTOCOL, "endpoint": endpoint, "env": env_id,
                    "numEnvs": num_envs, "pid": os.getpid()}
            print(json.dumps(line), flush=True)

        try:
            serve(batch, bind, on_ready=ready, should_stop=should_stop)
        except zmq.ZMQError as e:
            return fail("bind_failed", 5, f"cannot bind {bind}: {e}")
    finally:
        batch.close()
    return 0
