"""`car-nav`: the paper's car navigation with traps (Appendix A.5) in MuJoCo.

The robot is Safety Gym's car (Ray et al. 2019): a box chassis with two independently driven front
wheels and a free-rolling rear ball caster, so it turns by driving its wheels at different torques.
It crosses a plane from x ≈ -1.5 m to a goal at x ≈ +1.5 m. Three circular traps (radius 0.45 m) lie
along the straight route at x ≈ -0.6, 0, +0.6 m, the same layout as the embedded TypeScript
`point-nav`: crossing the band lengthways costs far more than the 25 health the car has, so the
quick route fails and the safe route bends around the band.

Health starts at 25 and drops by 1 for every step whose final chassis centre lies inside a trap
(overlapping traps cost 1, not 1 per trap). The step where health reaches 0 is the catastrophic
failure: failure=True, terminated. Reaching the goal (chassis centre within 0.25 m) terminates with
success, not failure. Episodes are truncated at 500 steps (20 s simulated).

Reward per step, as in point-nav: 10 x (distance to goal before - after, in m) - 0.01, plus 5 on the
step that reaches the goal.

Traps are regions, not obstacles: the car drives over them. The plane has no walls. The start
(x, y, heading), the goal and each trap centre are drawn from `numpy.random.default_rng(seed)` on
`reset(seed)`; everything else is deterministic MuJoCo stepping.
"""
from __future__ import annotations

import math

import numpy as np

from .base import Env, EnvSpec, Step

HEALTH = 25
NUM_TRAPS = 3
TRAP_RADIUS_M = 0.45
GOAL_RADIUS_M = 0.25
PROGRESS_REWARD_PER_M = 10.0
STEP_PENALTY = 0.01
GOAL_BONUS = 5.0
MAX_EPISODE_STEPS = 500
# 10 physics steps of 4 ms: one control step is 40 ms of simulated time.
PHYSICS_DT_S = 0.004
FRAME_SKIP = 10
# Height of the chassis centre when resting on its wheels (wheel radius).
REST_HEIGHT_M = 0.05

# The car follows Safety Gym's car.xml in spirit (two driven wheels, a ball caster) with its own
# dimensions: 24 x 16 cm chassis, 5 cm wheels. Motor torque 0.1 N m at |ctrl| = 1 against the wheel
# damping gives a top speed of about 0.5 m/s. The caster's low friction lets it slide sideways as a
# castor wheel does. Goal and traps are visual-only sites, moved on reset.
CAR_NAV_MJCF = f"""
<mujoco model="car-nav">
  <option timestep="{PHYSICS_DT_S}" integrator="implicitfast"/>
  <default>
    <geom condim="3" friction="1 0.01 0.01" density="500"/>
  </default>
  <worldbody>
    <light pos="0 0 4" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="4 4 0.1" rgba="0.8 0.8 0.8 1"/>
    <site name="goal" type="cylinder" size="{GOAL_RADIUS_M} 0.002" pos="1.5 0 0.002" rgba="0 0.8 0 0.5"/>
    {"".join(f'<site name="trap{k}" type="cylinder" size="{TRAP_RADIUS_M} 0.001" pos="0 0 0.001" rgba="0.8 0 0 0.4"/>' for k in range(NUM_TRAPS))}
    <body name="car" pos="0 0 {REST_HEIGHT_M}">
      <freejoint name="car"/>
      <geom name="chassis" type="box" size="0.12 0.08 0.03" pos="0 0 0.01" rgba="0.74 0.04 0.18 1"/>
      <body name="left_wheel" pos="0.06 0.1 0" zaxis="0 1 0">
        <joint name="left_wheel" type="hinge" damping="0.008"/>
        <geom type="cylinder" size="0.05 0.01" rgba="0 0 1 1"/>
      </body>
      <body name="right_wheel" pos="0.06 -0.1 0" zaxis="0 1 0">
        <joint name="right_wheel" type="hinge" damping="0.008"/>
        <geom type="cylinder" size="0.05 0.01" rgba="0 0 1 1"/>
      </body>
      <body name="rear" pos="-0.09 0 -0.025">
        <joint name="rear" type="ball" damping="0.0001"/>
        <geom type="sphere" size="0.025" friction="0.02 0.005 0.005"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="left_wheel" joint="left_wheel" gear="0.1" ctrlrange="-1 1" ctrllimited="true"/>
    <motor name="right_wheel" joint="right_wheel" gear="0.1" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
"""

OBS_NAMES: tuple[str, ...] = (
    "goal_forward_m/4",
    "goal_left_m/4",
    "goal_dist_m/4",
    "cos_heading",
    "sin_heading",
    "x_m/2",
    "y_m/2",
    "vel_forward_m_per_s",
    "vel_left_m_per_s",
    "yaw_rate_rad_per_s/4",
    "left_wheel_rad_per_s/10",
    "right_wheel_rad_per_s/10",
    *(f"trap{k}_{q}" for k in range(NUM_TRAPS) for q in ("forward_m/4", "left_m/4", "edge_dist_m/4")),
    "health/25",
)


class CarNavEnv(Env):
    """The `car-nav` env (see the module docstring). `num_traps=0` removes the traps (for tests)."""

    def __init__(self, num_traps: int = NUM_TRAPS) -> None:
        import mujoco

        if not (isinstance(num_traps, int) and 0 <= num_traps <= NUM_TRAPS):
            raise ValueError(f"car-nav: num_traps={num_traps!r}, expected an int in [0, {NUM_TRAPS}]")
        self._mj = mujoco
        self._model = mujoco.MjModel.from_xml_string(CAR_NAV_MJCF)
        self._data = mujoco.MjData(self._model)
        self._num_traps = num_traps
        m = self._model
        self._car_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "car")
        self._qvel_left = int(m.jnt_dofadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "left_wheel")])
        self._qvel_right = int(m.jnt_dofadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "right_wheel")])
        self._goal_site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "goal")
        self._trap_sites = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, f"trap{k}") for k in range(NUM_TRAPS)]
        self._goal = np.zeros(2)
        # Unused trap slots sit far away so their observation entries stay finite and constant.
        self._traps = np.full((NUM_TRAPS, 2), 100.0)
        self._health = HEALTH
        self._t = 0
        self._started = False
        self._frames = None  # MjFrames, made on the first render
        self.spec = EnvSpec(
            id="car-nav",
            obs_names=OBS_NAMES,
            act_names=("left_wheel_torque", "right_wheel_torque"),
            act_low=(-1.0, -1.0),
            act_high=(1.0, 1.0),
            max_episode_steps=MAX_EPISODE_STEPS,
            control_period_s=PHYSICS_DT_S * FRAME_SKIP,
            failure_meaning=f"health (starts at {HEALTH}, -1 per step ending inside a trap) reached 0",
            extra={"num_traps": num_traps, "trap_radius_m": TRAP_RADIUS_M, "goal_radius_m": GOAL_RADIUS_M},
        )

    def reset(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        start_x = -1.5 + rng.uniform(-0.1, 0.1)
        start_y = rng.uniform(-0.3, 0.3)
        heading = rng.uniform(-math.pi, math.pi)
        self._goal[:] = (1.5 + rng.uniform(-0.1, 0.1), rng.uniform(-0.3, 0.3))
        self._traps[:] = 100.0
        for k in range(NUM_TRAPS):
            # Always drawn, so a layout does not depend on num_traps.
            tx, ty = -0.6 + 0.6 * k + rng.uniform(-0.05, 0.05), rng.uniform(-0.15, 0.15)
            if k < self._num_traps:
                self._traps[k] = (tx, ty)
        self._model.site_pos[self._goal_site, :2] = self._goal
        for k, site in enumerate(self._trap_sites):
            self._model.site_pos[site, :2] = self._traps[k]
        self._health = HEALTH
        self._t = 0
        self._started = True
        self.place(start_x, start_y, heading)
        return self._observe()

    def place(self, x_m: float, y_m: float, heading_rad: float) -> None:
        """Puts the car at rest at a pose (for scripted tests: park it in a trap)."""
        mj, d = self._mj, self._data
        mj.mj_resetData(self._model, d)
        d.qpos[0:3] = (x_m, y_m, REST_HEIGHT_M)
        d.qpos[3:7] = (math.cos(heading_rad / 2), 0.0, 0.0, math.sin(heading_rad / 2))
        mj.mj_forward(self._model, d)

    @property
    def health(self) -> int:
        """Remaining health (25 at reset; the episode fails when it reaches 0)."""
        return self._health

    @property
    def goal(self) -> np.ndarray:
        """Goal centre (x, y) in the world frame, m."""
        return self._goal.copy()

    @property
    def traps(self) -> np.ndarray:
        """Centres of the active traps, shape (num_traps, 2)."""
        return self._traps[: self._num_traps].copy()

    def position(self) -> np.ndarray:
        """Chassis centre (x, y) in the world frame, m."""
        return self._data.xpos[self._car_body, :2].copy()

    def step(self, action: np.ndarray) -> Step:
        if not self._started:
            raise RuntimeError("car-nav: step() before reset()")
        d = self._data
        d0 = float(np.linalg.norm(self._goal - d.qpos[0:2]))
        d.ctrl[:] = action
        self._mj.mj_step(self._model, d, nstep=FRAME_SKIP)
        self._t += 1
        pos = d.qpos[0:2]
        if self._num_traps and np.any(np.linalg.norm(self._traps[: self._num_traps] - pos, axis=1) < TRAP_RADIUS_M):
            self._health -= 1
        d1 = float(np.linalg.norm(self._goal - pos))
        failed = self._health <= 0
        reached = not failed and d1 < GOAL_RADIUS_M
        reward = PROGRESS_REWARD_PER_M * (d0 - d1) - STEP_PENALTY + (GOAL_BONUS if reached else 0.0)
        terminated = failed or reached
        truncated = not terminated and self._t >= MAX_EPISODE_STEPS
        if terminated or truncated:
            self._started = False
        return Step(self._observe(), float(reward), failed, terminated, truncated)

    def render(self, width_px: int, height_px: int) -> np.ndarray:
        """The arena seen from above the start's side: traps red, goal green, the car dark red."""
        if self._frames is None:
            from .mj_render import MjFrames, free_camera

            self._frames = MjFrames(self.spec.id, self._model, self._data, free_camera((0.0, 0.0, 0.0), 3.4, 90.0, -65.0))
        return self._frames.render(width_px, height_px)

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None

    def _observe(self) -> np.ndarray:
        d = self._data
        x, y = float(d.qpos[0]), float(d.qpos[1])
        w, qz = float(d.qpos[3]), float(d.qpos[6])
        # Yaw of a quaternion whose tilt is negligible (the car stays flat on a plane).
        qx, qy = float(d.qpos[4]), float(d.qpos[5])
        yaw = math.atan2(2 * (w * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
        c, s = math.cos(yaw), math.sin(yaw)

        def to_robot(dx: float, dy: float) -> tuple[float, float]:
            return c * dx + s * dy, -s * dx + c * dy

        gx, gy = to_robot(self._goal[0] - x, self._goal[1] - y)
        # Free-joint qvel: world-frame linear velocity, then body-frame angular velocity.
        vf, vl = to_robot(float(d.qvel[0]), float(d.qvel[1]))
        obs = [gx / 4, gy / 4, math.hypot(gx, gy) / 4, c, s, x / 2, y / 2, vf, vl, float(d.qvel[5]) / 4]
        obs += [float(d.qvel[self._qvel_left]) / 10, float(d.qvel[self._qvel_right]) / 10]
        for tx, ty in self._traps:
            fx, fy = to_robot(tx - x, ty - y)
            obs += [fx / 4, fy / 4, (math.hypot(fx, fy) - TRAP_RADIUS_M) / 4]
        obs.append(self._health / HEALTH)
        return np.asarray(obs, dtype=np.float32)
