"""laikago-walk / laikago-stand: spec, determinism, client isolation and the fall rule, on real PyBullet."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pybullet")

from csc_sim.envs import make  # noqa: E402
from csc_sim.envs.laikago import MAX_EPISODE_STEPS, LaikagoEnv  # noqa: E402


@pytest.fixture(scope="module")
def walk():
    env = make("laikago-walk")
    yield env
    env.close()


@pytest.fixture(scope="module")
def stand():
    env = make("laikago-stand")
    yield env
    env.close()


def rollout(env: LaikagoEnv, seed: int, actions: np.ndarray) -> np.ndarray:
    out = [env.reset(seed)]
    for a in actions:
        st = env.step(a)
        out.append(np.concatenate([st.obs, [st.reward, st.failure, st.terminated, st.truncated]]))
        if st.terminated or st.truncated:
            break
    return np.concatenate(out)


@pytest.mark.parametrize("env_id", ["laikago-walk", "laikago-stand"])
def test_spec_is_consistent(env_id, walk, stand):
    env = walk if env_id == "laikago-walk" else stand
    s = env.spec
    assert s.id == env_id
    assert s.act_size == 12 and s.act_low == (-1.0,) * 12 and s.act_high == (1.0,) * 12
    assert s.max_episode_steps == MAX_EPISODE_STEPS == 500
    assert s.control_period_s == pytest.approx(0.02)
    obs = env.reset(0)
    assert obs.dtype == np.float32 and obs.shape == (s.obs_size,) == (48,)
    assert s.obs_names[11] == "base_height_m"
    # Starts standing, level and facing +x: gravity straight down the body's z axis.
    np.testing.assert_allclose(obs[0:3], [0, 0, -1], atol=0.03)
    assert obs[3] == pytest.approx(1.0, abs=1e-3)
    assert obs[11] == pytest.approx(env.reference_height_m, abs=0.01)
    assert 0.4 < obs[11] < 0.5


def test_same_seed_same_trajectory(walk):
    actions = np.random.default_rng(5).uniform(-0.3, 0.3, (40, 12))
    first = rollout(walk, 11, actions)
    rollout(walk, 12, actions)  # another episode in between must not leak into the next one
    np.testing.assert_array_equal(first, rollout(walk, 11, actions))
    other = LaikagoEnv("walk")
    try:
        np.testing.assert_array_equal(first, rollout(other, 11, actions))
    finally:
        other.close()
    assert not np.array_equal(walk.reset(11), walk.reset(12))


def test_envs_in_one_process_do_not_interfere(walk, stand):
    """Each env has its own physics client: stepping one leaves the other's state untouched."""
    obs = stand.reset(3)
    walk.reset(3)
    for _ in range(20):
        if walk.step(np.ones(12)).terminated:  # flails and falls: a large change to its own world
            break
    ref = LaikagoEnv("stand")
    try:
        np.testing.assert_array_equal(obs, ref.reset(3))
        np.testing.assert_array_equal(stand.step(np.zeros(12)).obs, ref.step(np.zeros(12)).obs)
    finally:
        ref.close()


def test_holding_the_nominal_pose_stands_the_whole_episode(stand):
    stand.reset(0)
    ret = 0.0
    for t in range(1, MAX_EPISODE_STEPS + 1):
        st = stand.step(np.zeros(12))
        ret += st.reward
        assert not st.failure and not st.terminated, f"fell at step {t}"
        assert st.truncated == (t == MAX_EPISODE_STEPS)
    # pose and height held: the stand reward (at most 1 per step) stays near its maximum
    assert ret > 0.9 * MAX_EPISODE_STEPS


def trot(t: int) -> np.ndarray:
    """Open-loop 3.5 Hz trot: diagonal pairs (FR+RL, FL+RR) in antiphase, hips swing ±0.2, knees
    fold by up to 0.6 of the action range during the swing half."""
    a = np.zeros(12)
    for leg in range(4):
        phase = 2 * np.pi * 3.5 * t * 0.02 + (np.pi if leg in (1, 2) else 0.0)
        a[3 * leg + 1] = -0.2 * np.sin(phase)
        a[3 * leg + 2] = -0.6 * max(0.0, np.cos(phase))
    return a


def test_a_scripted_trot_walks_forward_the_whole_episode(walk):
    """The action mapping allows a gait, and stepping feet never trip the contact rule."""
    walk.reset(0)
    ret, forward_m = 0.0, 0.0
    for t in range(MAX_EPISODE_STEPS):
        st = walk.step(trot(t))
        ret += st.reward
        forward_m += float(st.obs[8]) * walk.spec.control_period_s
        assert not st.failure, f"fell at step {t}: {walk.fall_reason()}"
    assert st.truncated
    assert forward_m > 5.0  # ≈ 0.85 m/s measured
    assert ret > 250


def test_zero_gains_fall_and_fail():
    limp = LaikagoEnv("walk", kp=0.0, kd=0.0)
    try:
        limp.reset(0)
        for t in range(1, 101):
            st = limp.step(np.zeros(12))
            if st.terminated:
                break
        assert st.failure and st.terminated and not st.truncated, "a limp robot must collapse within 2 s"
        assert t > 1, "the collapse takes time; failing at once means the rule fires on a standing robot"
    finally:
        limp.close()


def test_violent_actions_fall_and_fail(walk):
    walk.reset(0)
    for t in range(100):
        st = walk.step(np.full(12, 1.0 if (t // 5) % 2 else -1.0))
        if st.terminated:
            break
    assert st.failure and st.terminated and not st.truncated


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"task": "run"}, "task='run'"), ({"kp": -1.0}, "kp=-1.0"), ({"kd": [1.0, 2.0]}, "kd="), ({"kd": float("nan")}, "kd="),
     ({"gait_hz": -1.0}, "gait_hz=-1.0"), ({"gait_hz": float("inf")}, "gait_hz="), ({"gait_hz": "2"}, "gait_hz='2'")],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LaikagoEnv(**kwargs)


def test_gait_clock_appends_sin_cos_of_episode_time_and_leaves_the_rest_alone():
    """`gait_hz`: two inputs after the 48 of the plain env, sin/cos of 2π·f·t; the rest of the
    observation and the dynamics are the plain env's, step for step."""
    from csc_sim.envs.laikago import CONTROL_PERIOD_S, OBS_NAMES

    plain, clocked = LaikagoEnv(task="walk"), LaikagoEnv(task="walk", gait_hz=2.0)
    try:
        assert clocked.spec.obs_names == OBS_NAMES + ("gait_phase_sin", "gait_phase_cos")
        assert plain.spec.obs_names == OBS_NAMES
        o_plain, o_clock = plain.reset(3), clocked.reset(3)
        np.testing.assert_array_equal(o_clock[:-2], o_plain)
        np.testing.assert_allclose(o_clock[-2:], [0.0, 1.0], atol=1e-7)
        rng = np.random.default_rng(0)
        for t in range(1, 8):
            a = rng.uniform(-0.3, 0.3, 12)
            s_plain, s_clock = plain.step(a), clocked.step(a)
            np.testing.assert_array_equal(s_clock.obs[:-2], s_plain.obs)
            assert s_clock.reward == s_plain.reward
            phase = 2 * np.pi * 2.0 * CONTROL_PERIOD_S * t
            np.testing.assert_allclose(s_clock.obs[-2:], [np.sin(phase), np.cos(phase)], atol=1e-6)
        # a new episode starts the clock again
        np.testing.assert_allclose(clocked.reset(4)[-2:], [0.0, 1.0], atol=1e-7)
    finally:
        plain.close()
        clocked.close()


def _pose(env: LaikagoEnv, base_z_m: float, roll_rad: float, pitch_rad: float, leg_rad: tuple[float, float, float]):
    """Puts the robot in a posed state (robot frame roll/pitch) and refreshes its contacts."""
    p, cid, robot = env._p, env._cid, env._robot
    body_to_world = p.getQuaternionFromEuler([roll_rad, pitch_rad, 0.0])
    _, orn = p.multiplyTransforms([0, 0, 0], body_to_world, [0, 0, 0], (0.5, 0.5, 0.5, 0.5))
    p.resetBasePositionAndOrientation(robot, [0, 0, base_z_m], orn, physicsClientId=cid)
    for k, j in enumerate(env._joints):
        p.resetJointState(robot, j, leg_rad[k % 3], physicsClientId=cid)
    p.performCollisionDetection(physicsClientId=cid)


@pytest.mark.parametrize(
    ("base_z_m", "roll_rad", "pitch_rad", "leg_rad", "expected"),
    [
        (0.46, 0.0, 0.0, (0.0, 0.2, -0.7), None),  # nominal stance: toe (and shank-tip) contacts only
        (1.0, 0.65, 0.0, (0.0, 0.2, -0.7), "roll"),  # in the air, so only the tilt can fire
        (1.0, 0.0, -0.65, (0.0, 0.2, -0.7), "pitch"),
        (1.0, 0.55, 0.55, (0.0, 0.2, -0.7), None),  # both just inside the limit
        (0.24, 0.0, 0.0, (0.0, 1.0, -2.1), "height"),  # legs folded up, off the ground
        (0.28, 0.0, 0.0, (0.0, -0.3, -1.3), "touches the ground"),  # level, tall enough, on its thighs
    ],
)
def test_fall_rule_cases(stand, base_z_m, roll_rad, pitch_rad, leg_rad, expected):
    stand.reset(0)
    _pose(stand, base_z_m, roll_rad, pitch_rad, leg_rad)
    reason = stand.fall_reason()
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason, reason
