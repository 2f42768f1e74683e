"""`gym:<id>`: any installed Gymnasium env with a continuous (Box) action space as a csc_sim Env.

Gymnasium has no notion of a catastrophic failure, so the adapter makes one, chosen by
`failure_from`:

- ``"terminated"``: every termination the Gymnasium env reports is a failure (a pole that fell, a
  walker that fell over). Truncation by the time limit never is.
- ``"cost"``: the env reports a per-step cost in ``info[cost_key]`` (Safety-Gymnasium style). The
  agent starts each episode with ``health_budget`` health and loses the step's cost every step; the
  step where health reaches 0 is a failure and terminates the episode (the paper's trap rule, with
  25 steps of budget). The remaining health is appended to the observation as its last entry,
  ``health``, so the state stays Markov. Terminations of the Gymnasium env itself are kept and are
  not failures.
- ``"none"``: the env never fails (useful for benchmarks and plumbing tests).
"""
from __future__ import annotations

import numpy as np

from .base import Env, EnvSpec, Step

FAILURE_MODES = ("terminated", "cost", "none")
DEFAULT_MAX_EPISODE_STEPS = 500


class GymEnv(Env):
    """Wraps `gymnasium.make(gym_id)`. Keyword arguments are documented in the module docstring.

    `max_episode_steps` overrides the Gymnasium registration's time limit (500 when it has none).
    """

    def __init__(
        self,
        gym_id: str,
        failure_from: str = "terminated",
        health_budget: float = 25.0,
        cost_key: str = "cost",
        max_episode_steps: int | None = None,
    ) -> None:
        import gymnasium as gym
        from gymnasium import spaces

        if failure_from not in FAILURE_MODES:
            raise ValueError(f"gym:{gym_id}: failure_from={failure_from!r}, expected one of {', '.join(FAILURE_MODES)}")
        if not (health_budget > 0 and np.isfinite(health_budget)):
            raise ValueError(f"gym:{gym_id}: health_budget={health_budget!r}, expected a finite number > 0")
        from . import MissingSimulatorError, UnknownEnvError

        try:
            self._env = gym.make(gym_id, max_episode_steps=max_episode_steps, disable_env_checker=True)
        except gym.error.DependencyNotInstalled as e:
            raise MissingSimulatorError(f"gym:{gym_id} needs a simulator that is not installed: {e}") from e
        except ModuleNotFoundError as e:
            # `gym:pkg:Id-v0` imports pkg to register its envs
            pkg = e.name or gym_id.split(":", 1)[0]
            raise MissingSimulatorError(
                f"gym:{gym_id} needs the Python package {pkg!r}, which is not installed; add it to sim/requirements.txt"
            ) from e
        except gym.error.Error as e:
            # NameNotFound / VersionNotFound: the id is unusable, say which and why
            raise UnknownEnvError(f"gym:{gym_id}: {e}") from e
        act_space, obs_space = self._env.action_space, self._env.observation_space
        if not isinstance(act_space, spaces.Box):
            raise ValueError(
                f"gym:{gym_id}: action space is {type(act_space).__name__}, expected Box (continuous actions)"
            )
        if not isinstance(obs_space, spaces.Box):
            raise ValueError(f"gym:{gym_id}: observation space is {type(obs_space).__name__}, expected Box")

        self._failure_from = failure_from
        self._health_budget = float(health_budget)
        self._cost_key = cost_key
        self._health = self._health_budget
        self._limit = self._env.spec.max_episode_steps if self._env.spec is not None else None
        self._t = 0

        obs_size = int(np.prod(obs_space.shape))
        obs_names = tuple(f"obs_{i}" for i in range(obs_size))
        if failure_from == "cost":
            obs_names += ("health",)
        act_size = int(np.prod(act_space.shape))
        unwrapped = self._env.unwrapped
        dt = getattr(unwrapped, "dt", None)
        fps = self._env.metadata.get("render_fps")
        period = float(dt) if dt else (1.0 / float(fps) if fps else 0.0)
        meaning = {
            "terminated": f"the Gymnasium env {gym_id} terminated the episode",
            "cost": f"the accumulated info[{cost_key!r}] of {gym_id} used up a health budget of {health_budget:g}",
            "none": f"never ({gym_id} is run without a failure signal)",
        }[failure_from]
        self.spec = EnvSpec(
            id=f"gym:{gym_id}",
            obs_names=obs_names,
            act_names=tuple(f"act_{i}" for i in range(act_size)),
            act_low=tuple(float(x) for x in np.asarray(act_space.low, dtype=np.float64).ravel()),
            act_high=tuple(float(x) for x in np.asarray(act_space.high, dtype=np.float64).ravel()),
            max_episode_steps=int(self._limit or max_episode_steps or DEFAULT_MAX_EPISODE_STEPS),
            control_period_s=period,
            failure_meaning=meaning,
            extra={"failure_from": failure_from, "health_budget": self._health_budget, "cost_key": cost_key},
        )
        self._act_shape = act_space.shape

    def _obs(self, raw) -> np.ndarray:
        flat = np.asarray(raw, dtype=np.float32).ravel()
        if self._failure_from == "cost":
            return np.append(flat, np.float32(self._health))
        return flat

    def reset(self, seed: int) -> np.ndarray:
        self._health = self._health_budget
        self._t = 0
        raw, _ = self._env.reset(seed=int(seed))
        return self._obs(raw)

    def step(self, action: np.ndarray) -> Step:
        raw, reward, terminated, truncated, info = self._env.step(action.reshape(self._act_shape))
        self._t += 1
        failure = False
        if self._failure_from == "terminated":
            failure = bool(terminated)
        elif self._failure_from == "cost":
            if self._cost_key not in info:
                raise KeyError(
                    f"{self.spec.id}: failure_from='cost' needs info[{self._cost_key!r}] every step, "
                    f"but the env's info has keys {sorted(info)}"
                )
            cost = float(info[self._cost_key])
            if not np.isfinite(cost) or cost < 0:
                raise ValueError(f"{self.spec.id}: info[{self._cost_key!r}] = {cost!r}, expected a finite cost >= 0")
            self._health = max(0.0, self._health - cost)
            failure = self._health <= 0.0
        if self._limit is None and self._t >= self.spec.max_episode_steps:
            truncated = True
        terminated = bool(terminated) or failure
        return Step(self._obs(raw), float(reward), failure, terminated, bool(truncated) and not terminated)

    def close(self) -> None:
        self._env.close()
