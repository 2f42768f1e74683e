"""Listens on ROS 2 topics and prints one JSON line per message, in arrival order, for
test/ros-graph.test.ts: what `ros2 topic echo` shows, but several topics in one process so the test
can tell which message came after which.

    probe.py TOPIC:TYPE [TOPIC:TYPE ...]     e.g. /csc/critic:std_msgs/msg/Float64MultiArray

Types it knows: geometry_msgs/msg/TwistStamped (prints the linear part and the stamp),
geometry_msgs/msg/PoseStamped, std_msgs/msg/Float64MultiArray (data, NaN as null),
diagnostic_msgs/msg/DiagnosticArray (level and message of the first status). Subscriptions are
reliable with a deep queue, except PoseStamped (state, best effort as a robot publishes it).
Prints {"ready": true} once subscribed; SIGINT ends it (exit 0).
"""

import json
import math
import signal
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float64MultiArray


def twist(m):
    return {"linear": [m.twist.linear.x, m.twist.linear.y, m.twist.linear.z], "stamp": [m.header.stamp.sec, m.header.stamp.nanosec], "frame": m.header.frame_id}


def pose(m):
    return {"position": [m.pose.position.x, m.pose.position.y, m.pose.position.z]}


def finite_or_none(x):
    return x if math.isfinite(x) else None  # JSON has no NaN


def array(m):
    return {"data": [finite_or_none(x) for x in m.data]}


def diagnostics(m):
    s = m.status[0] if m.status else None
    return {"level": int.from_bytes(s.level, "little") if isinstance(s.level, bytes) else int(s.level), "message": s.message, "values": {kv.key: kv.value for kv in s.values}} if s else {}


TYPES = {
    "geometry_msgs/msg/TwistStamped": (TwistStamped, twist, ReliabilityPolicy.RELIABLE),
    "geometry_msgs/msg/PoseStamped": (PoseStamped, pose, ReliabilityPolicy.BEST_EFFORT),
    "std_msgs/msg/Float64MultiArray": (Float64MultiArray, array, ReliabilityPolicy.RELIABLE),
    "diagnostic_msgs/msg/DiagnosticArray": (DiagnosticArray, diagnostics, ReliabilityPolicy.RELIABLE),
}


def main():
    rclpy.init(args=sys.argv)
    node = Node("csc_test_probe")
    for spec in sys.argv[1:]:
        topic, type_name = spec.split(":", 1)
        cls, fields, reliability = TYPES[type_name]

        def callback(msg, topic=topic, fields=fields):
            print(json.dumps({"topic": topic, "t": time.monotonic(), **fields(msg)}), flush=True)

        node.create_subscription(cls, topic, callback, QoSProfile(depth=1000, reliability=reliability))
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print(json.dumps({"ready": True}), flush=True)
    while not stop:
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
