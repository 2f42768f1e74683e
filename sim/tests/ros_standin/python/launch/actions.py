"""Stand-in for `launch.actions` (see ../../README.md)."""
from __future__ import annotations


class DeclareLaunchArgument:
    def __init__(self, name, *, default_value=None, description=None, choices=None, **kwargs):
        self.name = name
        self.default_value = default_value
        self.description = description
        self.choices = choices
