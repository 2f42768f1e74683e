"""Wire format of the csc-sim/1 protocol (docs/protocol.md): msgpack maps, typed arrays as raw bytes.

Everything here is pure (no sockets) so it can be tested byte for byte. Replies only ever contain
plain Python ints, floats, strings, bools, bytes, lists and dicts: numpy scalars are converted
before packing, because msgpack cannot encode them and other languages must not see them.
"""
from __future__ import annotations

import math
from typing import Any

import msgpack
import numpy as np

PROTOCOL = "csc-sim/1"
VERSION = 1
OPS = ("spec", "reset", "step", "close", "ping", "render")
MAX_FRAME_SIDE_PX = 4096
"""Largest width or height a `render` may ask for."""

# dtype tag on the wire -> little-endian numpy dtype
DTYPES: dict[str, np.dtype] = {"f32": np.dtype("<f4"), "u8": np.dtype("u1")}


class ProtocolError(Exception):
    """A request that cannot be served; `code` is the wire error code (docs/protocol.md)."""

    def __init__(self, code: str, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def encode_array(a: np.ndarray) -> dict[str, Any]:
    """`{dtype, shape, data}` with little-endian bytes; float arrays travel as f32, flags as u8."""
    if a.dtype == np.uint8 or a.dtype == np.bool_:
        tag, arr = "u8", np.ascontiguousarray(a, dtype=np.uint8)
    else:
        tag, arr = "f32", np.ascontiguousarray(a, dtype="<f4")
    return {"dtype": tag, "shape": [int(n) for n in arr.shape], "data": arr.tobytes()}


def decode_array(obj: Any, where: str) -> np.ndarray:
    """Checks an encoded array and views its bytes (zero-copy, read-only). Raises bad_request."""
    if not isinstance(obj, dict):
        raise ProtocolError("bad_request", f"{where}: expected an array map {{dtype, shape, data}}, got {_kind(obj)}")
    tag, shape, data = obj.get("dtype"), obj.get("shape"), obj.get("data")
    if tag not in DTYPES:
        raise ProtocolError("bad_request", f"{where}.dtype: expected one of {sorted(DTYPES)}, got {tag!r}")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ProtocolError("bad_request", f"{where}.shape: expected a list of non-negative ints, got {shape!r}")
    if not isinstance(data, (bytes, bytearray)):
        raise ProtocolError("bad_request", f"{where}.data: expected bin, got {_kind(data)}")
    dt = DTYPES[tag]
    expected = math.prod(shape) * dt.itemsize
    if len(data) != expected:
        raise ProtocolError(
            "bad_request", f"{where}.data: shape {shape} of {tag} needs {expected} bytes, got {len(data)}"
        )
    return np.frombuffer(data, dtype=dt).reshape(shape)


def pack(obj: dict[str, Any]) -> bytes:
    """msgpack with `bin` for bytes and `str` for text (never the legacy raw type)."""
    return msgpack.packb(obj, use_bin_type=True)


def unpack_request(frame: bytes) -> tuple[Any, dict[str, Any]]:
    """Decodes and checks the envelope of one request. Returns (id, message).

    Raises ProtocolError with code bad_frame (not msgpack / not a map / no usable id), bad_version
    or unknown_op. The id is returned whenever one could be read so the error reply can carry it.
    """
    try:
        msg = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    except Exception as e:  # msgpack raises several unrelated types for garbage input
        raise ProtocolError("bad_frame", f"request is not valid msgpack ({type(e).__name__}: {e})") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_frame", f"request must be a msgpack map, got {_kind(msg)}")
    rid = msg.get("id")
    if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0:
        raise ProtocolError("bad_frame", f"request field 'id' must be a non-negative integer, got {rid!r}")
    v = msg.get("v")
    if v != VERSION:
        raise ProtocolError("bad_version", f"request version v={v!r}, this server speaks v={VERSION} ({PROTOCOL})", rid)
    op = msg.get("op")
    if op not in OPS:
        raise ProtocolError("unknown_op", f"unknown op {op!r}; expected one of {', '.join(OPS)}", rid)
    return rid, msg


def ok_reply(rid: Any, data: dict[str, Any]) -> bytes:
    """`{v, id, ok: true, data}`."""
    return pack({"v": VERSION, "id": rid, "ok": True, "data": data})


def error_reply(rid: Any, code: str, message: str) -> bytes:
    """`{v, id, ok: false, error: {code, message}}`; `rid` is None when the request had no readable id."""
    return pack({"v": VERSION, "id": rid, "ok": False, "error": {"code": code, "message": message}})


def _kind(x: Any) -> str:
    return type(x).__name__
