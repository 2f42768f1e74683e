"""Stand-in for `launch_ros.actions` (see ../../README.md)."""
from __future__ import annotations

import os

from launch import perform

# Keyword arguments launch_ros.actions.Node passes on to launch.actions.ExecuteProcess.
EXECUTE_PROCESS_KWARGS = {
    "cwd", "env", "additional_env", "shell", "sigterm_timeout", "sigkill_timeout", "emulate_tty",
    "output", "output_format", "cached_output", "log_cmd", "on_exit", "respawn", "respawn_delay",
    "respawn_max_retries", "prefix", "condition",
}


class Node:
    def __init__(self, *, executable, package=None, name=None, namespace=None, exec_name=None,
                 parameters=None, remappings=None, ros_arguments=None, arguments=None, **kwargs):
        unknown = set(kwargs) - EXECUTE_PROCESS_KWARGS
        if unknown:
            raise TypeError(f"Node() got unexpected keyword arguments {sorted(unknown)}")
        self.executable = executable
        self.package = package
        self.name = name
        self.namespace = namespace
        self.parameters = list(parameters or [])
        self.remappings = list(remappings or [])
        self.ros_arguments = list(ros_arguments or [])
        self.arguments = list(arguments or [])
        self.kwargs = kwargs

    def command(self, context) -> list[str]:
        """The command line launch_ros runs: executable, arguments, then --ros-args with the node
        name remap and one --params-file per parameter file."""
        package = perform(self.package, context)
        exe = os.path.join(context.package_prefix(package), "lib", package, perform(self.executable, context))
        cmd = [exe, *(perform(a, context) for a in self.arguments), "--ros-args"]
        if self.name is not None:
            cmd += ["-r", f"__node:={perform(self.name, context)}"]
        for p in self.parameters:
            if isinstance(p, dict):
                raise NotImplementedError("the stand-in resolves parameter files only")
            cmd += ["--params-file", perform(p, context)]
        cmd += [perform(a, context) for a in self.ros_arguments]
        return cmd
