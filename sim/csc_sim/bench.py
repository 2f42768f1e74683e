"""In-process stepping speed of an env: the reference the bridge's throughput is compared against
(bench/bridge.ts). Actions are drawn uniformly within the bounds before the clock starts."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .batch import Batch


def _actions(batch: Batch, rows: int, seed: int) -> np.ndarray:
    low = np.nan_to_num(np.asarray(batch.spec.act_low, dtype=np.float32), neginf=-1.0)
    high = np.nan_to_num(np.asarray(batch.spec.act_high, dtype=np.float32), posinf=1.0)
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=(rows, batch.spec.act_size)).astype(np.float32)


def run_bench(env_id: str, steps: int, num_envs: int, seed: int, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Times `steps` single-env `Env.step` calls (with auto-reset; wall and CPU time) and `steps` env
    steps of a `Batch` of `num_envs` (what one server does per request, minus the wire)."""
    out: dict[str, Any] = {"env": env_id, "steps": steps}

    single = Batch(env_id, 1, **env_kwargs)
    try:
        env = single.envs[0]
        acts = _actions(single, min(steps, 4096), seed)
        limit = single.spec.max_episode_steps
        env.reset(seed)
        t, episodes = 0, 0
        c0 = time.process_time()
        t0 = time.perf_counter()
        for n in range(steps):
            s = env.step(acts[n % len(acts)])
            t += 1
            if s.terminated or s.truncated or t >= limit:
                episodes += 1
                env.reset(seed + episodes)
                t = 0
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        # CPU time is what a step costs; wall time also holds the waits of a loaded machine
        out["single"] = {"stepsPerS": steps / dt, "usPerStep": 1e6 * dt / steps, "cpuStepsPerS": steps / cpu, "cpuUsPerStep": 1e6 * cpu / steps}
    finally:
        single.close()

    batch = Batch(env_id, num_envs, **env_kwargs)
    try:
        rounds = max(1, steps // num_envs)
        acts = _actions(batch, num_envs * min(rounds, 256), seed).reshape(-1, num_envs, batch.spec.act_size)
        batch.reset(seed)
        t0 = time.perf_counter()
        for r in range(rounds):
            batch.step(acts[r % len(acts)])
        dt = time.perf_counter() - t0
        out["batch"] = {"numEnvs": num_envs, "stepsPerS": rounds * num_envs / dt, "usPerStep": 1e6 * dt / (rounds * num_envs)}
    finally:
        batch.close()
    return out
