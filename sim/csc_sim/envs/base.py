"""The single-env contract every csc_sim environment implements.

The server wraps K of these into one batch (auto-reset, lock-step). Cost is first-class: `failure`
is C(s') in {0, 1} and a failure always terminates the episode.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class EnvSpec:
    """Static description of an env; mirrors `EnvSpec` in src/envs/env.ts."""

    id: str
    obs_names: tuple[str, ...]
    act_names: tuple[str, ...]
    act_low: tuple[float, ...]
    act_high: tuple[float, ...]
    max_episode_steps: int
    control_period_s: float
    failure_meaning: str
    extra: dict = field(default_factory=dict)

    @property
    def obs_size(self) -> int:
        return len(self.obs_names)

    @property
    def act_size(self) -> int:
        return len(self.act_names)


class Step(NamedTuple):
    obs: np.ndarray  # float32 (obs_size,): s'
    reward: float
    failure: bool  # C(s'); implies terminated
    terminated: bool
    truncated: bool  # the env's own time limit (max_episode_steps)


class RenderUnavailableError(RuntimeError):
    """The env has no renderer, or its renderer cannot run here (e.g. no offscreen OpenGL)."""


class Env:
    """Base class. Subclasses set `spec` and implement `reset` and `step`; `render` is optional.

    `step` receives an action already checked for size and finiteness and clipped to the spec's
    bounds. Envs must be deterministic given the seed passed to `reset`, and rendering must not
    change the simulation.
    """

    spec: EnvSpec

    def reset(self, seed: int) -> np.ndarray:
        raise NotImplementedError

    def step(self, action: np.ndarray) -> Step:
        raise NotImplementedError

    def render(self, width_px: int, height_px: int) -> np.ndarray:
        """An RGB picture of the current state: uint8 `(height_px, width_px, 3)`."""
        raise RenderUnavailableError(f"{self.spec.id}: this env has no renderer")

    def close(self) -> None:
        pass
