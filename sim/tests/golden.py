"""Golden trajectories of the robot envs: a fixed seed and fixed actions through a `Batch` (auto-reset
included), recorded once and compared bit for bit by test_golden.py, so that speed work on an env
cannot change what it simulates unnoticed.

    sim/.venv/bin/python sim/tests/golden.py [ENV ...]    # re-record (only when a change is meant)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SIM_ROOT = Path(__file__).resolve().parent.parent
if str(SIM_ROOT) not in sys.path:
    sys.path.insert(0, str(SIM_ROOT))

from csc_sim.batch import Batch  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / "data"
# env id -> (steps, envs in the batch). Laikago falls within ~40 steps under random actions, so its
# trajectory crosses several automatic resets; the Panda's 500-step episodes are too long for that.
GOLDEN: dict[str, tuple[int, int]] = {
    "panda-push-topple": (60, 2),
    "panda-push-boundary": (40, 1),
    "laikago-walk": (150, 2),
    "laikago-stand": (60, 1),
    "car-nav": (300, 2),
}
SEED = 20261127


def record(env_id: str) -> dict[str, np.ndarray]:
    """Steps `env_id` with seeded uniform actions; returns every array the batch returned."""
    steps, k = GOLDEN[env_id]
    batch = Batch(env_id, k)
    try:
        rng = np.random.default_rng(SEED)
        low = np.asarray(batch.spec.act_low, dtype=np.float32)
        high = np.asarray(batch.spec.act_high, dtype=np.float32)
        actions = rng.uniform(low, high, size=(steps, k, batch.spec.act_size)).astype(np.float32)
        out: dict[str, list[np.ndarray]] = {n: [] for n in ("obs", "next_obs", "reward", "failure", "terminated", "truncated")}
        names = list(out)
        first = batch.reset(SEED)
        for t in range(steps):
            if t == steps // 2:
                # an explicit reset halfway: envs that rebuild state on reset (robosuite reloads its
                # controllers) must come back the same way
                out["obs_after_reset"] = [batch.reset(SEED + 1)]
            r = batch.step(actions[t])
            for name in names:
                out[name].append(getattr(r, name).copy())
        return {"reset_obs": first, "actions": actions, **{n: np.stack(v) for n, v in out.items()}}
    finally:
        batch.close()


def path_of(env_id: str) -> Path:
    return DATA_DIR / f"golden-{env_id}.npz"


if __name__ == "__main__":
    DATA_DIR.mkdir(exist_ok=True)
    for env_id in sys.argv[1:] or list(GOLDEN):
        arrays = record(env_id)
        np.savez_compressed(path_of(env_id), **arrays)
        print(f"{env_id}: {len(arrays['reward'])} steps, {int(arrays['terminated'].sum() + arrays['truncated'].sum())} episode ends -> {path_of(env_id)}")
