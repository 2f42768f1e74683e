"""rosbag2 MCAP written by the TypeScript McapRecorder (src/ros/mcap.ts), read by an independent
implementation: the Python `mcap` + `mcap-ros2-support` packages, which parse the stored ros2msg
schemas and decode the CDR themselves. And the other way: a bag written by `mcap_ros2`'s writer
read by the TypeScript `readMcapTransitions`."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from mcap.reader import make_reader
from mcap.writer import CompressionType
from mcap_ros2.decoder import DecoderFactory
from mcap_ros2.writer import Writer as Ros2Writer

REPO = Path(__file__).resolve().parents[2]
FIXTURE = "test/fixtures/sample-bag.ts"
SEPARATOR = "=" * 80


def run_fixture(*args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node is not None, "node (>= 20) must be on PATH to run the TypeScript side of this test"
    return subprocess.run(
        [node, "--import", "tsx", FIXTURE, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def ts_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("bag") / "sample.mcap"
    r = run_fixture("write", str(path))
    assert r.returncode == 0, r.stderr
    return path, json.loads(r.stdout)


def read_all(path: Path):
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        header = reader.get_header()
        summary = reader.get_summary()
        decoded = list(reader.iter_decoded_messages())
    return header, summary, decoded


def test_header_schemas_and_channels_follow_the_ros2_profile(ts_bag):
    path, written = ts_bag
    header, summary, _ = read_all(path)
    assert header.profile == "ros2"
    assert summary.statistics.message_count == len(written)
    topics = {c.topic: c for c in summary.channels.values()}
    assert set(topics) == {m["topic"] for m in written}
    for w in written:
        channel = topics[w["topic"]]
        schema = summary.schemas[channel.schema_id]
        assert channel.message_encoding == "cdr"
        assert schema.encoding == "ros2msg"
        assert schema.name == w["type"]
        assert "offered_qos_profiles" in channel.metadata
        text = schema.data.decode()
        # rosbag2's layout: the root .msg text first, each dependency after an 80 '=' line.
        assert not text.startswith(SEPARATOR)
        if "header" in w["message"]:
            assert f"\n{SEPARATOR}\nMSG: std_msgs/Header\n" in text
            assert f"\n{SEPARATOR}\nMSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n" in text


def test_python_decodes_every_message_the_recorder_wrote(ts_bag):
    path, written = ts_bag
    _, _, decoded = read_all(path)
    assert len(decoded) == len(written)
    for (schema, channel, message, msg), w in zip(decoded, written):
        assert channel.topic == w["topic"]
        assert schema.name == w["type"]
        assert message.log_time == int(w["timeNs"])
        assert message.publish_time == int(w["timeNs"])
        expect = w["message"]
        if w["type"] == "sensor_msgs/msg/JointState":
            assert msg.header.stamp.sec == expect["header"]["stamp"]["sec"]
            assert msg.header.stamp.nanosec == expect["header"]["stamp"]["nanosec"]
            assert msg.header.frame_id == "panda_link0"
            assert list(msg.name) == expect["name"]
            assert list(msg.position) == expect["position"]
            assert list(msg.velocity) == expect["velocity"]
            assert list(msg.effort) == []
        elif w["type"] == "geometry_msgs/msg/TwistStamped":
            t = expect["twist"]
            assert (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z) == (
                t["linear"]["x"], t["linear"]["y"], t["linear"]["z"])
            assert (msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z) == (
                t["angular"]["x"], t["angular"]["y"], t["angular"]["z"])
        elif w["type"] == "sensor_msgs/msg/Imu":
            assert msg.header.frame_id == "trunk"
            assert (msg.orientation.z, msg.orientation.w) == (0.0998, 0.995)
            assert list(msg.orientation_covariance) == expect["orientation_covariance"]
            assert msg.linear_acceleration.z == 9.81
        elif w["type"] == "diagnostic_msgs/msg/DiagnosticArray":
            (status,) = msg.status
            e = expect["status"][0]
            assert (status.level, status.name, status.message, status.hardware_id) == (
                e["level"], e["name"], e["message"], e["hardware_id"])
            assert [(kv.key, kv.value) for kv in status.values] == [(kv["key"], kv["value"]) for kv in e["values"]]
        elif w["type"] == "csc_node/msg/Transition":
            # float32 values chosen exactly representable, so equality is exact.
            assert list(msg.obs) == expect["obs"]
            assert list(msg.action) == expect["action"]
            assert list(msg.next_obs) == expect["next_obs"]
            assert msg.reward == expect["reward"]
            assert msg.failure == expect["failure"]
            assert msg.terminated is expect["terminated"]
            assert msg.truncated is expect["truncated"]
        else:
            pytest.fail(f"unexpected type {w['type']}")


TRANSITION_MSG = (REPO / "msg" / "Transition.msg").read_text()


def write_python_transitions(path: Path, compression: CompressionType) -> list[dict]:
    records = [
        {"obs": [0.5, -1.0], "action": [0.25], "reward": 1.5, "failure": 0,
         "terminated": False, "truncated": False, "next_obs": [0.75, -1.0]},
        {"obs": [0.75, -1.0], "action": [-0.5], "reward": -2.0, "failure": 1,
         "terminated": True, "truncated": False, "next_obs": [1.0, 0.0]},
    ]
    with open(path, "wb") as f:
        writer = Ros2Writer(f, compression=compression)
        schema = writer.register_msgdef("csc_node/msg/Transition", TRANSITION_MSG)
        for i, r in enumerate(records):
            writer.write_message("/csc/transition", schema, r, log_time=1000 + i)
        writer.finish()
    return records


def test_typescript_reads_transitions_written_by_python(tmp_path):
    path = tmp_path / "py.mcap"
    records = write_python_transitions(path, CompressionType.NONE)
    r = run_fixture("read-transitions", str(path))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == records


def test_typescript_names_the_file_and_the_compression_it_cannot_read(tmp_path):
    path = tmp_path / "zstd.mcap"
    write_python_transitions(path, CompressionType.ZSTD)
    r = run_fixture("read-transitions", str(path))
    assert r.returncode != 0
    assert f"{path}: chunk compression 'zstd' is not supported" in r.stderr


def test_the_documented_rewrite_makes_a_zstd_bag_readable(tmp_path):
    """docs/ros-packaging.md's Python snippet that rewrites a bag with uncompressed chunks."""
    doc = (REPO / "docs" / "ros-packaging.md").read_text()
    (snippet,) = [b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "CompressionType.NONE" in b]
    src, dst = tmp_path / "zstd.mcap", tmp_path / "plain.mcap"
    records = write_python_transitions(src, CompressionType.ZSTD)
    exec(snippet.replace('"in.mcap"', repr(str(src))).replace('"out.mcap"', repr(str(dst))), {})
    r = run_fixture("read-transitions", str(dst))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == records
