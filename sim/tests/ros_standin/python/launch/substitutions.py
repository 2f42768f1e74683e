"""Stand-in for `launch.substitutions` (see ../../README.md)."""
from __future__ import annotations

import os

from . import perform


class LaunchConfiguration:
    def __init__(self, variable_name, *, default=None):
        self.variable_name = variable_name
        self.default = default

    def perform(self, context):
        if self.variable_name in context.launch_configurations:
            return context.launch_configurations[self.variable_name]
        if self.default is not None:
            return perform(self.default, context)
        raise KeyError(f"launch configuration '{self.variable_name}' does not exist")


class PathJoinSubstitution:
    def __init__(self, substitutions):
        self.substitutions = list(substitutions)

    def perform(self, context):
        return os.path.join(*(perform(s, context) for s in self.substitutions))
