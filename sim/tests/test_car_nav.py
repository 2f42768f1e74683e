"""car-nav: spec, determinism and the trap health rule, on the real MuJoCo model."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("mujoco")

from csc_sim.envs import make  # noqa: E402
from csc_sim.envs.car_nav import HEALTH, MAX_EPISODE_STEPS, CarNavEnv  # noqa: E402


def steer_to_goal(obs: np.ndarray) -> np.ndarray:
    """Greedy wheel-torque controller: turn toward the goal, drive when roughly facing it."""
    angle = math.atan2(float(obs[1]), float(obs[0]))
    forward = max(0.0, math.cos(angle))
    turn = float(np.clip(2 * angle, -1, 1))
    return np.clip(np.array([forward - turn, forward + turn]), -1, 1)


def test_spec_is_consistent():
    env = make("car-nav")
    s = env.spec
    assert s.id == "car-nav"
    assert s.act_size == 2 and s.act_low == (-1.0, -1.0) and s.act_high == (1.0, 1.0)
    assert s.max_episode_steps == MAX_EPISODE_STEPS == 500
    assert 0.02 <= s.control_period_s <= 0.05
    assert s.obs_names[-1] == "health/25"
    obs = env.reset(0)
    assert obs.dtype == np.float32 and obs.shape == (s.obs_size,)
    assert obs[-1] == pytest.approx(1.0)
    assert np.all(np.isfinite(obs))


def test_same_seed_same_trajectory_other_seed_other_layout():
    def rollout(env: CarNavEnv, seed: int) -> np.ndarray:
        rng = np.random.default_rng(123)
        out = [env.reset(seed)]
        for _ in range(60):
            st = env.step(rng.uniform(-1, 1, 2))
            out.append(np.concatenate([st.obs, [st.reward, st.failure, st.terminated, st.truncated]]))
            if st.terminated or st.truncated:
                break
        return np.concatenate(out)

    a, b = CarNavEnv(), CarNavEnv()
    first = rollout(a, 7)
    rollout(a, 3)  # a different episode in between must not leak into the next one
    np.testing.assert_array_equal(first, rollout(a, 7))
    np.testing.assert_array_equal(first, rollout(b, 7))
    assert not np.array_equal(a.reset(7), a.reset(8))


def test_parked_in_a_trap_dies_after_exactly_25_steps():
    env = CarNavEnv()
    env.reset(0)
    tx, ty = env.traps[1]
    env.place(float(tx), float(ty), 0.3)
    for k in range(1, HEALTH + 1):
        st = env.step(np.zeros(2))
        assert env.health == HEALTH - k
        assert st.obs[-1] == pytest.approx((HEALTH - k) / HEALTH)
        if k < HEALTH:
            assert not st.failure and not st.terminated and not st.truncated, f"ended early at step {k}"
    assert st.failure and st.terminated and not st.truncated


def test_driving_to_goal_without_traps_succeeds_with_positive_return():
    env = CarNavEnv(num_traps=0)
    obs = env.reset(1)
    start_dist_m = 4 * float(obs[2])
    ret = 0.0
    for _ in range(MAX_EPISODE_STEPS):
        st = env.step(steer_to_goal(obs))
        obs, ret = st.obs, ret + st.reward
        if st.terminated or st.truncated:
            break
    assert st.terminated and not st.failure and not st.truncated
    assert env.health == HEALTH
    # progress reward telescopes: 10 x (start distance - final distance) + bonus - step penalties
    assert ret > 0
    assert ret == pytest.approx(10 * (start_dist_m - 4 * float(obs[2])) + 5 - 0.01 * env._t, abs=1e-3)


def test_driving_straight_through_the_traps_fails():
    """The direct route is unsafe: the greedy controller dies in the trap band."""
    env = CarNavEnv()
    obs = env.reset(1)
    for _ in range(MAX_EPISODE_STEPS):
        st = env.step(steer_to_goal(obs))
        obs = st.obs
        if st.terminated or st.truncated:
            break
    assert st.failure and st.terminated


def test_a_detour_around_the_trap_band_reaches_the_goal_unharmed():
    """The safe route exists: waypoints at y = 0.9 m, beyond the band's reach (|y| < 0.6 m)."""
    env = CarNavEnv()
    obs = env.reset(2)
    waypoints = [(-1.0, 0.9), (1.0, 0.9), tuple(env.goal)]
    k = 0
    for t in range(MAX_EPISODE_STEPS):
        x, y, c, s = 2 * float(obs[5]), 2 * float(obs[6]), float(obs[3]), float(obs[4])
        dx, dy = waypoints[k][0] - x, waypoints[k][1] - y
        if math.hypot(dx, dy) < 0.15 and k < len(waypoints) - 1:
            k += 1
        # the waypoint in the robot frame, scaled like the goal entries, drives the same controller
        st = env.step(steer_to_goal(np.array([c * dx + s * dy, -s * dx + c * dy])))
        obs = st.obs
        if st.terminated or st.truncated:
            break
    assert st.terminated and not st.failure
    assert env.health == HEALTH
    assert t > 150  # the detour is slower than the ≈ 140-step straight drive


def test_rejects_bad_num_traps():
    with pytest.raises(ValueError, match="num_traps"):
        CarNavEnv(num_traps=5)
