"""The `gym:<id>` adapter on real Gymnasium envs: spec, termination as failure, and the cost +
health-budget rule (health in the observation, failure when it reaches 0)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from csc_sim.envs import MissingSimulatorError, UnknownEnvError, make


class CostlyLine(gym.Env):
    """A real Gymnasium env for the cost rule: x moves by the action; every step with x > 1 costs
    `info['cost'] = 1`; it terminates (success) when x reaches 5."""

    metadata = {"render_modes": [], "render_fps": 10}

    def __init__(self):
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.x = 0.0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.x = 0.0
        return np.array([self.x], np.float32), {}

    def step(self, action):
        self.x += float(action[0])
        return np.array([self.x], np.float32), -abs(self.x), self.x >= 5, False, {"cost": 1.0 if self.x > 1 else 0.0}


gym.register("CscCostlyLine-v0", entry_point=CostlyLine, max_episode_steps=50)


def test_pendulum_spec():
    env = make("gym:Pendulum-v1")
    s = env.spec
    assert (s.obs_size, s.act_size, s.max_episode_steps) == (3, 1, 200)
    assert s.act_low == (-2.0,) and s.act_high == (2.0,) and s.control_period_s == pytest.approx(0.05)
    obs = env.reset(0)
    assert obs.dtype == np.float32 and obs.shape == (3,)
    np.testing.assert_array_equal(obs, make("gym:Pendulum-v1").reset(0))
    env.close()


def test_termination_is_failure_mountain_car():
    env = make("gym:MountainCarContinuous-v0", failure_from="terminated")
    obs = env.reset(0)
    for t in range(999):
        # bang-bang energy pumping: push along the velocity; reaches the flag in ~100-200 steps
        s = env.step(np.array([1.0 if obs[1] >= 0 else -1.0], np.float32))
        obs = s.obs
        if s.terminated:
            break
    assert s.terminated and s.failure and not s.truncated
    assert obs[0] >= 0.45  # the goal position: the termination really happened
    env.close()


def test_failure_none_never_fails():
    env = make("gym:MountainCarContinuous-v0", failure_from="none")
    obs = env.reset(0)
    for _ in range(999):
        s = env.step(np.array([1.0 if obs[1] >= 0 else -1.0], np.float32))
        obs = s.obs
        assert not s.failure
        if s.terminated:
            break
    assert s.terminated


def test_cost_budget_health_in_obs():
    env = make("gym:CscCostlyLine-v0", failure_from="cost", health_budget=3)
    assert env.spec.obs_names == ("obs_0", "health")
    np.testing.assert_array_equal(env.reset(0), [0.0, 3.0])
    # x: 1 (cost 0), 2 (cost 1), 3 (1), 4 (1 -> health 0: failure)
    got = [env.step(np.array([1.0], np.float32)) for _ in range(4)]
    assert [float(s.obs[1]) for s in got] == [3.0, 2.0, 1.0, 0.0]
    assert [s.failure for s in got] == [False, False, False, True]
    assert got[-1].terminated and not got[-1].truncated
    np.testing.assert_array_equal(env.reset(1), [0.0, 3.0])  # health refilled


def test_cost_mode_keeps_env_termination_as_non_failure():
    env = make("gym:CscCostlyLine-v0", failure_from="cost", health_budget=25)
    env.reset(0)
    steps = [env.step(np.array([1.0], np.float32)) for _ in range(5)]
    assert steps[-1].terminated and not steps[-1].failure and steps[-1].obs[1] == 25 - 4


def test_cost_mode_without_cost_in_info_is_an_error():
    env = make("gym:Pendulum-v1", failure_from="cost")
    env.reset(0)
    with pytest.raises(KeyError, match=r"needs info\['cost'\]"):
        env.step(np.zeros(1, np.float32))


@pytest.mark.parametrize(
    "kwargs, err, fragment",
    [
        ({"gym_id": "NoSuchThing-v0"}, UnknownEnvError, "NoSuchThing"),
        ({"gym_id": "csc_no_such_sim_pkg:Thing-v0"}, MissingSimulatorError, "'csc_no_such_sim_pkg'"),
        ({"gym_id": "CartPole-v1"}, ValueError, "expected Box"),
        ({"gym_id": "Pendulum-v1", "failure_from": "sometimes"}, ValueError, "failure_from='sometimes'"),
        ({"gym_id": "Pendulum-v1", "health_budget": 0}, ValueError, "health_budget=0"),
    ],
)
def test_bad_arguments(kwargs, err, fragment):
    gid = kwargs.pop("gym_id")
    with pytest.raises(err, match=fragment):
        make(f"gym:{gid}", **kwargs)


def test_max_episode_steps_override():
    env = make("gym:Pendulum-v1", max_episode_steps=5)
    assert env.spec.max_episode_steps == 5
    env.reset(0)
    steps = [env.step(np.zeros(1, np.float32)) for _ in range(5)]
    assert [s.truncated for s in steps] == [False] * 4 + [True]
