"""Byte-level checks of the csc-sim/1 wire format (docs/protocol.md)."""
from __future__ import annotations

import msgpack
import numpy as np
import pytest

from csc_sim.protocol import ProtocolError, decode_array, encode_array, error_reply, ok_reply, unpack_request


def test_f32_array_is_little_endian_raw_bytes():
    enc = encode_array(np.array([[1.0, -2.5]], dtype=np.float64))
    # 1.0f = 0x3f800000, -2.5f = 0xc0200000, little-endian
    assert enc == {"dtype": "f32", "shape": [1, 2], "data": bytes.fromhex("0000803f000020c0")}
    assert all(type(n) is int for n in enc["shape"])


def test_bool_array_travels_as_u8():
    enc = encode_array(np.array([True, False, True]))
    assert enc == {"dtype": "u8", "shape": [3], "data": b"\x01\x00\x01"}


def test_decode_round_trip_and_zero_copy():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    enc = msgpack.unpackb(msgpack.packb(encode_array(a), use_bin_type=True), raw=False)
    back = decode_array(enc, "actions")
    np.testing.assert_array_equal(back, a)
    assert back.dtype == np.dtype("<f4")


@pytest.mark.parametrize(
    "obj, fragment",
    [
        ([1, 2], "expected an array map"),
        ({"dtype": "f64", "shape": [1], "data": b"\0" * 8}, "dtype: expected one of"),
        ({"dtype": "f32", "shape": [-1], "data": b""}, "shape: expected a list of non-negative ints"),
        ({"dtype": "f32", "shape": [2], "data": "abcdefgh"}, "data: expected bin, got str"),
        ({"dtype": "f32", "shape": [2, 2], "data": b"\0" * 12}, "needs 16 bytes, got 12"),
    ],
)
def test_decode_array_rejects(obj, fragment):
    with pytest.raises(ProtocolError) as e:
        decode_array(obj, "actions")
    assert e.value.code == "bad_request"
    assert fragment in e.value.message
    assert e.value.message.startswith("actions")


def req(**fields):
    return msgpack.packb(fields, use_bin_type=True)


@pytest.mark.parametrize(
    "frame, code, rid, fragment",
    [
        (b"\xc1", "bad_frame", None, "not valid msgpack"),
        (msgpack.packb([1, 2]), "bad_frame", None, "must be a msgpack map, got list"),
        (req(v=1, op="ping"), "bad_frame", None, "'id' must be a non-negative integer, got None"),
        (req(v=2, id=7, op="ping"), "bad_version", 7, "v=2"),
        (req(v=1, id=8, op="jump"), "unknown_op", 8, "unknown op 'jump'"),
    ],
)
def test_unpack_request_errors(frame, code, rid, fragment):
    with pytest.raises(ProtocolError) as e:
        unpack_request(frame)
    assert (e.value.code, e.value.request_id) == (code, rid)
    assert fragment in e.value.message


def test_unpack_request_ok():
    rid, msg = unpack_request(req(v=1, id=3, op="reset", seed=5))
    assert rid == 3 and msg["seed"] == 5


def test_replies_shape():
    assert msgpack.unpackb(ok_reply(4, {"x": 1})) == {"v": 1, "id": 4, "ok": True, "data": {"x": 1}}
    assert msgpack.unpackb(error_reply(None, "bad_frame", "m")) == {
        "v": 1, "id": None, "ok": False, "error": {"code": "bad_frame", "message": "m"},
    }
