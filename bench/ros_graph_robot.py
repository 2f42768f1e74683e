"""The robot side of bench/ros-latency.ts --graph: an rclpy process on a real ROS 2 graph.

    ros_graph_robot.py measure --seconds 60 [--state-prefix /csc] [--command /servo_node/delta_twist_cmds]
    ros_graph_robot.py echo [--command ...]

`measure` publishes the Panda profile's six state messages as one set per 1 ms slot (1 kHz) and
times, with time.perf_counter, each set's round trip: from publishing its first message to the
next TwistStamped on the command topic. One set is in flight at a time (the next goes out at the
first free 1 ms slot after the answer); no answer within 50 ms counts as missed. Prints one JSON
line with the latencies' percentiles.

`echo` is the bare DDS reference: it answers every set (its last message, the goal) with a
TwistStamped on the command topic at once, so `measure` against it times rclpy + DDS alone.
QoS as the node's: state best effort (sensor data), the goal and commands reliable.
"""

import argparse
import json
import signal
import time

import rclpy
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
ORIGIN = (0.56, 0.0, 0.0)


def percentiles(xs):
    s = sorted(xs)
    if not s:
        return None
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]  # noqa: E731
    return {"p50Ms": q(0.5), "p99Ms": q(0.99), "maxMs": s[-1], "meanMs": sum(s) / len(s)}


def measure(args):
    node = Node("csc_bench_robot")
    pubs = {
        "js": node.create_publisher(JointState, "/joint_states", qos_profile_sensor_data),
        "ee_pose": node.create_publisher(PoseStamped, "/csc/ee_pose", qos_profile_sensor_data),
        "ee_twist": node.create_publisher(TwistStamped, "/csc/ee_twist", qos_profile_sensor_data),
        "block_pose": node.create_publisher(PoseStamped, "/csc/block_pose", qos_profile_sensor_data),
        "block_twist": node.create_publisher(TwistStamped, "/csc/block_twist", qos_profile_sensor_data),
        # The node takes the goal reliably (it is not sensor data), so it is published reliably.
        "goal": node.create_publisher(PointStamped, "/csc/goal", RELIABLE),
    }
    answered = []
    node.create_subscription(TwistStamped, args.command, lambda _m: answered.append(time.perf_counter()), RELIABLE)
    js = JointState(name=[f"panda_joint{i}" for i in range(1, 8)], position=[0.0, -0.78, 0.0, -2.36, 0.0, 1.57, 0.78], velocity=[0.0] * 7, effort=[0.0] * 7)
    ee_pose, block_pose, ee_twist, block_twist, goal = PoseStamped(), PoseStamped(), TwistStamped(), TwistStamped(), PointStamped()
    ee_pose.pose.orientation.x, ee_pose.pose.orientation.w = 1.0, 0.0
    block_pose.pose.position.x, block_pose.pose.position.z = -0.08 + ORIGIN[0], 0.05
    block_pose.pose.orientation.w = 1.0
    ee_twist.twist.linear.x = 0.01
    goal.point.x = 0.1 + ORIGIN[0]

    def publish(i):
        stamp = node.get_clock().now().to_msg()
        for m in (js, ee_pose, ee_twist, block_pose, block_twist, goal):
            m.header.stamp = stamp
            m.header.frame_id = "panda_link0"
        ee_pose.pose.position.x = -0.1 + 0.0001 * (i % 200) + ORIGIN[0]
        ee_pose.pose.position.z = 0.2
        pubs["js"].publish(js)
        pubs["ee_pose"].publish(ee_pose)
        pubs["ee_twist"].publish(ee_twist)
        pubs["block_pose"].publish(block_pose)
        pubs["block_twist"].publish(block_twist)
        pubs["goal"].publish(goal)

    # Wait until the responder is there: a set answered within 50 ms.
    deadline = time.perf_counter() + args.connect_timeout
    while True:
        answered.clear()
        publish(0)
        t = time.perf_counter()
        while not answered and time.perf_counter() - t < 0.05:
            rclpy.spin_once(node, timeout_sec=0.005)
        if answered:
            break
        if time.perf_counter() > deadline:
            raise SystemExit(f"no answer on {args.command} within {args.connect_timeout} s")
    time.sleep(0.2)
    rclpy.spin_once(node, timeout_sec=0.01)
    lat, missed, sets = [], 0, 0
    start = time.perf_counter()
    slot = start
    while time.perf_counter() - start < args.seconds:
        while time.perf_counter() < slot:
            pass
        answered.clear()
        t0 = time.perf_counter()
        publish(sets)
        sets += 1
        while not answered and time.perf_counter() - t0 < 0.05:
            rclpy.spin_once(node, timeout_sec=0.05)
        if answered:
            lat.append((answered[0] - t0) * 1000)
        else:
            missed += 1
        now = time.perf_counter()
        slot = max(slot + 0.001, now)
        slot = start + 0.001 * (int((slot - start) / 0.001 + 0.999999))
    elapsed = time.perf_counter() - start
    print(json.dumps({"sets": sets, "answered": len(lat), "missed": missed, "seconds": elapsed, "setsPerS": sets / elapsed, **(percentiles(lat) or {})}), flush=True)
    node.destroy_node()


def echo(args):
    node = Node("csc_bench_echo")
    pub = node.create_publisher(TwistStamped, args.command, RELIABLE)
    out = TwistStamped()
    out.header.frame_id = "panda_link0"

    def on_goal(_m):
        out.header.stamp = node.get_clock().now().to_msg()
        pub.publish(out)

    node.create_subscription(PointStamped, "/csc/goal", on_goal, qos_profile_sensor_data)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print(json.dumps({"ready": True}), flush=True)
    while not stop:
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["measure", "echo"])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--command", default="/servo_node/delta_twist_cmds")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    args = parser.parse_args()
    rclpy.init()
    try:
        measure(args) if args.mode == "measure" else echo(args)
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
