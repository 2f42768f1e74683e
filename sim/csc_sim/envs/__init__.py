"""Registry of csc_sim environments. Simulator packages are imported lazily, only when an env that
needs them is made, so a missing simulator gives a clear error naming the package to install."""
from __future__ import annotations

import importlib

from .base import Env, EnvSpec, RenderUnavailableError, Step

# id -> (module, class name, pip package(s) it needs)
REGISTRY: dict[str, tuple[str, str, str]] = {
    "car-nav": ("csc_sim.envs.car_nav", "CarNavEnv", "mujoco"),
    "laikago-walk": ("csc_sim.envs.laikago", "LaikagoWalkEnv", "pybullet"),
    "laikago-stand": ("csc_sim.envs.laikago", "LaikagoStandEnv", "pybullet"),
    "panda-push-topple": ("csc_sim.envs.panda_push", "PandaPushToppleEnv", "robosuite"),
    "panda-push-boundary": ("csc_sim.envs.panda_push", "PandaPushBoundaryEnv", "robosuite"),
}


class UnknownEnvError(ValueError):
    pass


class MissingSimulatorError(RuntimeError):
    pass


def make(env_id: str, **kwargs) -> Env:
    """Builds one env by id. `gym:<id>` wraps any installed Gymnasium env."""
    if env_id.startswith("gym:"):
        module, cls, pkg = "csc_sim.envs.gym_env", "GymEnv", "gymnasium"
        kwargs = {"gym_id": env_id[4:], **kwargs}
    elif env_id in REGISTRY:
        module, cls, pkg = REGISTRY[env_id]
    else:
        known = ", ".join(sorted(REGISTRY)) + ", gym:<id>"
        raise UnknownEnvError(f"unknown env id {env_id!r}; known: {known}")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise MissingSimulatorError(
            f"env {env_id!r} needs the Python package {pkg!r} ({e.name} is not installed); run scripts/setup-sim.sh"
        ) from e
    return getattr(mod, cls)(**kwargs)


__all__ = ["Env", "EnvSpec", "RenderUnavailableError", "Step", "REGISTRY", "make", "UnknownEnvError", "MissingSimulatorError"]
