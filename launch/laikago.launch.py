"""Runs the CSC safety node on a Unitree Laikago (hardware/laikago.yaml): joint states and IMU in,
safety-filtered joint position targets with PD gains out, a damping hold on a fall.

    ros2 launch csc_node laikago.launch.py checkpoint:=/path/to/runs/<run>
    ros2 launch csc_node laikago.launch.py checkpoint:=... profile:=/my/laikago.yaml params_file:=/my/params.yaml

Arguments, parameters and what the node does: docs/ros-packaging.md.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

ROBOT = "laikago"


def generate_launch_description():
    share = FindPackageShare("csc_node")
    return LaunchDescription([
        DeclareLaunchArgument(
            "checkpoint",
            description="run folder of a trained policy and critic (csc train --out), or one of its checkpoints",
        ),
        DeclareLaunchArgument(
            "profile",
            default_value=PathJoinSubstitution([share, "hardware", f"{ROBOT}.yaml"]),
            description="robot profile: topics, observation layout, action mapping, hard limits",
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([share, "config", f"{ROBOT}.params.yaml"]),
            description="ROS 2 parameter file for the node (csc_node: ros__parameters: ...)",
        ),
        Node(
            package="csc_node",
            executable="csc_node",
            name="csc_node",
            output="screen",
            emulate_tty=True,
            arguments=[
                "--checkpoint", LaunchConfiguration("checkpoint"),
                "--profile", LaunchConfiguration("profile"),
            ],
            parameters=[LaunchConfiguration("params_file")],
        ),
    ])
