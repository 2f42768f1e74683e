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


class Env:
    """Base class. Subclasses set `spec` and implement `reset` and `step`.

    `step` receives an action already checked for size and finiteness and clipped to the spec's
    bounds. Envs must be deterministic given the seed passed to `reset`.
    """

    spec: EnvSpec

    def reset(self, seed: int) -> np.ndarray:
        raise NotImplementedError

    def step(self, action: np.ndarray) -> Step:
        raise NotImplementedError

    def close(self) -> None:
        pass
