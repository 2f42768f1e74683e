"""K copies of one env stepped in lock-step as one batch, with auto-reset (mirrors `VecEnv` in
src/envs/env.ts): `obs` is what to act on next (a fresh reset where an episode ended), `next_obs`
the true s' of the transition just taken.

Seeding: `reset(seed)` seeds env i with `seed + i` (the VecEnv contract). The e-th automatic reset
of env i (e = 1, 2, ...) is seeded from `SeedSequence([seed + i, e])`, so a batch replays exactly
given its reset seed and the action sequence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .envs import Env, make


class BatchInputError(ValueError):
    """An action batch that cannot be stepped: wrong shape or a non-finite value (named)."""


class NotResetError(RuntimeError):
    """`step` before the first `reset`, or after an env raised (its state is then unknown)."""


@dataclass(frozen=True)
class RenderRequest:
    """Which env to picture, and how large (pixels)."""

    env: int
    width_px: int
    height_px: int


@dataclass(frozen=True)
class BatchStep:
    """One lock-step of K envs; the fields of `VecStepResult` (src/envs/env.ts) minus `dropped`."""

    obs: np.ndarray  # float32 (K, obs_size)
    next_obs: np.ndarray  # float32 (K, obs_size)
    reward: np.ndarray  # float32 (K,)
    failure: np.ndarray  # uint8 (K,)
    terminated: np.ndarray  # uint8 (K,)
    truncated: np.ndarray  # uint8 (K,)
    frame: np.ndarray | None = None  # uint8 (H, W, 3): the rendered env's s', before any auto-reset


class Batch:
    """Owns K envs built by `csc_sim.envs.make(env_id, **env_kwargs)`."""

    def __init__(self, env_id: str, num_envs: int, **env_kwargs) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs}, expected >= 1")
        self.envs: list[Env] = []
        try:
            for _ in range(num_envs):
                self.envs.append(make(env_id, **env_kwargs))
        except BaseException:
            self.close()
            raise
        self.spec = self.envs[0].spec
        self.num_envs = num_envs
        self._low = np.asarray(self.spec.act_low, dtype=np.float32)
        self._high = np.asarray(self.spec.act_high, dtype=np.float32)
        self._seeds = np.zeros(num_envs, dtype=np.int64)
        self._episodes = np.zeros(num_envs, dtype=np.int64)
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._obs: np.ndarray | None = None

    def reset(self, seed: int) -> np.ndarray:
        k, n = self.num_envs, self.spec.obs_size
        obs = np.empty((k, n), dtype=np.float32)
        self._obs = None
        for i, env in enumerate(self.envs):
            self._seeds[i] = seed + i
            obs[i] = env.reset(seed + i)
        self._episodes[:] = 0
        self._t[:] = 0
        self._obs = obs
        return obs.copy()

    def check_actions(self, actions: np.ndarray) -> None:
        k, m = self.num_envs, self.spec.act_size
        if actions.shape != (k, m):
            raise BatchInputError(
                f"{self.spec.id}: action batch has shape {list(actions.shape)}, expected [{k}, {m}] ({k} envs x {m} actions)"
            )
        bad = ~np.isfinite(actions)
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise BatchInputError(
                f"{self.spec.id}: action {self.spec.act_names[j]} of env {i} is {float(actions[i, j])}, expected a finite number"
            )

    def check_render(self, request: RenderRequest) -> None:
        if not 0 <= request.env < self.num_envs:
            raise BatchInputError(f"{self.spec.id}: render env {request.env}, expected an index in [0, {self.num_envs - 1}]")

    def render(self, request: RenderRequest) -> np.ndarray:
        """A picture of one env's current state (after a reset: its first state)."""
        if self._obs is None:
            raise NotResetError(f"{self.spec.id}: render before reset (or after an env error); send reset first")
        self.check_render(request)
        return self._frame(request)

    def _frame(self, request: RenderRequest) -> np.ndarray:
        frame = self.envs[request.env].render(request.width_px, request.height_px)
        want = (request.height_px, request.width_px, 3)
        if frame.shape != want or frame.dtype != np.uint8:
            raise RuntimeError(f"{self.spec.id}: render returned {frame.dtype} {list(frame.shape)}, expected uint8 {list(want)}")
        return frame

    def step(self, actions: np.ndarray, render: RenderRequest | None = None) -> BatchStep:
        """Steps every env; with `render`, also pictures that env's s' before it auto-resets."""
        if self._obs is None:
            raise NotResetError(f"{self.spec.id}: step before reset (or after an env error); send reset first")
        self.check_actions(actions)
        if render is not None:
            self.check_render(render)
        frame = None
        clipped = np.clip(actions, self._low, self._high)
        k, n = self.num_envs, self.spec.obs_size
        obs = np.empty((k, n), dtype=np.float32)
        next_obs = np.empty((k, n), dtype=np.float32)
        reward = np.empty(k, dtype=np.float32)
        failure = np.zeros(k, dtype=np.uint8)
        terminated = np.zeros(k, dtype=np.uint8)
        truncated = np.zeros(k, dtype=np.uint8)
        limit = self.spec.max_episode_steps
        try:
            for i, env in enumerate(self.envs):
                s = env.step(clipped[i])
                self._t[i] += 1
                term = bool(s.terminated or s.failure)
                trunc = bool((s.truncated or self._t[i] >= limit) and not term)
                next_obs[i] = s.obs
                reward[i] = s.reward
                failure[i] = s.failure
                terminated[i] = term
                truncated[i] = trunc
                if render is not None and render.env == i:
                    frame = self._frame(render)
                if term or trunc:
                    self._episodes[i] += 1
                    ss = np.random.SeedSequence([int(self._seeds[i]), int(self._episodes[i])])
                    obs[i] = env.reset(int(ss.generate_state(1)[0]))
                    self._t[i] = 0
                else:
                    obs[i] = s.obs
        except BaseException:
            self._obs = None
            raise
        self._obs = obs
        return BatchStep(obs, next_obs, reward, failure, terminated, truncated, frame)

    def close(self) -> None:
        for env in self.envs:
            try:
                env.close()
            except Exception:
                pass
        self.envs = []
