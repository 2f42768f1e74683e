"""Stand-in for `launch_ros.substitutions` (see ../../README.md)."""
from __future__ import annotations

import os

from launch import perform


class FindPackageShare:
    def __init__(self, package):
        self.package = package

    def perform(self, context):
        name = perform(self.package, context)
        return os.path.join(context.package_prefix(name), "share", name)
