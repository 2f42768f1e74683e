"""A stand-in for MoveIt Servo's input side, for test/ros-graph.test.ts (MoveIt is not in the ROS 2
core the tests run on). It implements the part of Servo's documented contract that a command
publisher must respect, and reports what it saw:

- Servo accepts no command until it is started: Humble's ``~/start_servo`` (std_srvs/Trigger), or
  Jazzy's ``~/switch_command_type`` (moveit_msgs/srv/ServoCommandType) with TWIST for twist input.
  ``--distro`` picks which of the two services it offers, as the real Servo of that distribution.
- A twist must be in the expected frame (``--frame``) and fresh: its ``header.stamp`` at most
  ``--timeout`` seconds old by this node's clock (Servo's incoming_command_timeout, 0.1 s); a zero
  stamp is never fresh. Stale input halts the arm (counted as a halt).
- Without a fresh command for ``--timeout`` s after the last one the arm halts as well.

Prints one JSON line per event ("started", "first_accepted", "halt") and, on SIGINT, a summary
line {"event": "summary", ...} with the counts; exits 0.
"""

import argparse
import json
import signal
import sys

import rclpy
from geometry_msgs.msg import TwistStamped
from moveit_msgs.srv import ServoCommandType
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_srvs.srv import Trigger


def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class ServoStandIn(Node):
    def __init__(self, distro, frame, timeout_s, service_after_command=False):
        super().__init__("servo_node")
        self.frame = frame
        self.timeout_ns = int(timeout_s * 1e9)
        self.started = False
        self.command_type = ServoCommandType.Request.JOINT_JOG  # Jazzy's Servo starts in joint jog mode
        self.counts = {"ignored_not_started": 0, "ignored_wrong_type": 0, "wrong_frame": 0, "stale": 0, "zero_stamp": 0, "accepted": 0, "halts": 0, "start_calls": 0}
        self.max_age_s = 0.0
        self.last_accepted_ns = None
        self.halted = True
        self.distro = distro
        self.service = None
        # With service_after_command the start service appears only once a command has arrived
        # (and been ignored), so a test sees the ignore-until-started rule whatever DDS discovery's
        # order between the topic and the service.
        if not service_after_command:
            self.offer_service()
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(TwistStamped, "~/delta_twist_cmds", self.on_twist, qos)
        self.create_timer(0.01, self.watchdog)

    def offer_service(self):
        if self.distro == "humble":
            self.service = self.create_service(Trigger, "~/start_servo", self.on_start_servo)
        else:
            self.service = self.create_service(ServoCommandType, "~/switch_command_type", self.on_switch)

    def on_start_servo(self, _request, response):
        self.counts["start_calls"] += 1
        self.started = True
        self.command_type = ServoCommandType.Request.TWIST  # Humble's Servo takes twists once started
        response.success = True
        response.message = "started"
        say("started", service="start_servo")
        return response

    def on_switch(self, request, response):
        self.counts["start_calls"] += 1
        valid = request.command_type in (ServoCommandType.Request.JOINT_JOG, ServoCommandType.Request.TWIST, ServoCommandType.Request.POSE)
        if valid:
            self.started = True
            self.command_type = request.command_type
            say("started", service="switch_command_type", command_type=int(request.command_type))
        response.success = valid
        return response

    def on_twist(self, msg):
        if not self.started:
            self.counts["ignored_not_started"] += 1
            if self.service is None:
                self.offer_service()
            return
        if self.command_type != ServoCommandType.Request.TWIST:
            self.counts["ignored_wrong_type"] += 1
            return
        if msg.header.frame_id != self.frame:
            self.counts["wrong_frame"] += 1
            return
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if stamp_ns == 0:
            self.counts["zero_stamp"] += 1
            self.halt("zero stamp")
            return
        age_ns = self.get_clock().now().nanoseconds - stamp_ns
        if age_ns > self.timeout_ns:
            self.counts["stale"] += 1
            self.halt(f"stale command: {age_ns / 1e9:.3f} s old")
            return
        self.max_age_s = max(self.max_age_s, age_ns / 1e9)
        self.counts["accepted"] += 1
        if self.counts["accepted"] == 1:
            say("first_accepted", linear=[msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z])
        self.last_accepted_ns = self.get_clock().now().nanoseconds
        self.halted = False

    def watchdog(self):
        if self.halted or self.last_accepted_ns is None:
            return
        if self.get_clock().now().nanoseconds - self.last_accepted_ns > self.timeout_ns:
            self.halt("no fresh command")

    def halt(self, reason):
        if not self.halted:
            self.counts["halts"] += 1
            say("halt", reason=reason)
        self.halted = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distro", choices=["humble", "jazzy"], required=True)
    parser.add_argument("--frame", default="panda_link0")
    parser.add_argument("--timeout", type=float, default=0.1)
    parser.add_argument("--service-after-command", action="store_true", help="offer the start service only after a command has arrived")
    args = parser.parse_args()
    rclpy.init(args=sys.argv)
    node = ServoStandIn(args.distro, args.frame, args.timeout, args.service_after_command)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    say("ready", distro=args.distro)
    while not stop:
        rclpy.spin_once(node, timeout_sec=0.05)
    say("summary", started=node.started, max_age_s=node.max_age_s, **node.counts)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
