"""Stand-in for ROS 2's `launch` package (see ../../README.md)."""
from __future__ import annotations

import os


class LaunchDescription:
    def __init__(self, initial_entities=None, *, deprecated_reason=None):
        self.entities = list(initial_entities or [])

    def add_action(self, action):
        self.entities.append(action)

    def get_launch_arguments(self):
        from .actions import DeclareLaunchArgument
        return [e for e in self.entities if isinstance(e, DeclareLaunchArgument)]


class LaunchContext:
    """Launch configurations (argument values) and the ament prefixes to resolve packages in."""

    def __init__(self, launch_configurations=None, ament_prefix_path=None):
        self.launch_configurations = dict(launch_configurations or {})
        prefixes = ament_prefix_path if ament_prefix_path is not None else os.environ.get("AMENT_PREFIX_PATH", "")
        self.ament_prefixes = [p for p in prefixes.split(os.pathsep) if p]

    def package_prefix(self, package: str) -> str:
        for prefix in self.ament_prefixes:
            if os.path.isfile(os.path.join(prefix, "share", "ament_index", "resource_index", "packages", package)):
                return prefix
        raise LookupError(f"package '{package}' not found in AMENT_PREFIX_PATH {self.ament_prefixes}")


def perform(value, context: LaunchContext) -> str:
    """A string, a substitution, or a list of them (concatenated), as launch evaluates them."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "".join(perform(v, context) for v in value)
    return value.perform(context)
