"""`laikago-walk` and `laikago-stand`: the Laikago quadruped in PyBullet (paper Appendix A.5).

The robot is pybullet_data's `laikago/laikago_toes_limits.urdf`, loaded so that its body faces world
+x with +z up. Every episode starts standing: the robot is settled on the nominal pose once per env
and that physics state (contacts included) is saved, so `reset(seed)` restores it exactly and then
adds a seeded perturbation of at most ±0.03 rad to each joint.

Control: the action is 12 joint position offsets in [-1, 1], scaled by `ACTION_SCALE_RAD` per joint
(abduction, hip, knee) around the nominal standing pose and clipped to the URDF joint limits. A joint
PD loop turns the target into torque at every physics step: tau = Kp (q* - q) - Kd dq, clipped to
±`MAX_TORQUE_NM`, Kp = 220 N m/rad, Kd = 0.3 (abduction), 2.0 (hip, knee) N m s/rad. The gains are
the values used for Laikago in PyBullet's locomotion examples; they are simulation values and must
never be copied to the real robot, whose gains come from its own profile (hardware/laikago.yaml).
The PD loop is written out explicitly (TORQUE_CONTROL, default velocity motors disabled) rather than
PyBullet's POSITION_CONTROL, whose gains act on a velocity constraint and have no torque units; with
explicit PD, Kp = Kd = 0 really means a limp robot.

Failure (C(s') = 1, episode terminated): a link other than the four toes touches the ground, or
|roll| or |pitch| exceeds 0.6 rad, or the base's centre of mass drops below 0.25 m (it stands at
about 0.46 m). The shank mesh reaches past the toe sphere, so a shank contact within 6 cm of the toe
centre counts as the foot. Episodes are truncated at 500 steps of 20 ms (10 s).

Rewards:
- walk: forward progress in world x over the step divided by the control period (m/s), plus an
  alive bonus of 0.02, minus 0.005 per joule of mechanical work sum |tau dq| dt done in the step.
- stand: 0.5 exp(-|q - q_nom|^2 / 0.1) + 0.5 exp(-((h - h_ref) / 0.05)^2), h the base height and
  h_ref its height when settled on the nominal pose, minus the same energy term; at most 1 per step.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

from .base import Env, EnvSpec, Step

URDF = "laikago/laikago_toes_limits.urdf"
# Rotation that maps the URDF body frame (x right, y up, z forward) to world x forward, z up.
BODY_TO_WORLD_QUAT = (0.5, 0.5, 0.5, 0.5)
LEGS = ("FR", "FL", "RR", "RL")
JOINTS = ("abduction", "hip", "knee")
JOINT_NAMES = tuple(
    f"{leg}_{part}"
    for leg in LEGS
    for part in ("hip_motor_2_chassis_joint", "upper_leg_2_hip_motor_joint", "lower_leg_2_upper_leg_joint")
)
TOE_NAMES = tuple(f"toe{leg}" for leg in LEGS)
# Knees slightly bent, shanks near vertical, base centre of mass at about 0.46 m. Straighter legs
# put the toes behind the hips; more bent ones make the shank mesh, not the toe, touch the ground.
NOMINAL_POSE_RAD = np.array([0.0, 0.2, -0.7] * 4)
ACTION_SCALE_RAD = np.array([0.3, 0.6, 0.6] * 4)
KP_NM_PER_RAD = 220.0
KD_NM_S_PER_RAD = np.array([0.3, 2.0, 2.0] * 4)
MAX_TORQUE_NM = 40.0
PHYSICS_DT_S = 0.004
SUBSTEPS = 5
CONTROL_PERIOD_S = PHYSICS_DT_S * SUBSTEPS
MAX_EPISODE_STEPS = 500
SETTLE_S = 0.6
START_JOINT_NOISE_RAD = 0.03
MAX_TILT_RAD = 0.6
# The shank mesh reaches past the toe sphere: a shank contact this close to the toe centre is the
# foot touching down (standing contacts sit 0.027 m from it), anything else on the shank is a knee.
FOOT_CONTACT_RADIUS_M = 0.06
MIN_BASE_HEIGHT_M = 0.25
ALIVE_BONUS = 0.02
ENERGY_PENALTY_PER_J = 0.005

OBS_NAMES: tuple[str, ...] = (
    "gravity_x",
    "gravity_y",
    "gravity_z",
    "heading_cos",
    "heading_sin",
    "ang_vel_x_rad_per_s",
    "ang_vel_y_rad_per_s",
    "ang_vel_z_rad_per_s",
    "vel_forward_m_per_s",
    "vel_left_m_per_s",
    "vel_up_m_per_s",
    "base_height_m",
    *(f"{leg}_{j}_rad_from_nominal" for leg in LEGS for j in JOINTS),
    *(f"{leg}_{j}_rad_per_s/10" for leg in LEGS for j in JOINTS),
    *(f"last_action_{leg}_{j}" for leg in LEGS for j in JOINTS),
)

TASKS = ("walk", "stand")


def _import_pybullet():
    """Imports pybullet with its C-level build banner sent to stderr: a server's stdout carries
    JSON lines only (docs/protocol.md)."""
    if "pybullet" in sys.modules:
        return sys.modules["pybullet"]
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        import pybullet
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return pybullet


class LaikagoEnv(Env):
    """Laikago with a task, `"walk"` or `"stand"` (see the module docstring).

    `kp` and `kd` override the simulated PD gains (N m/rad and N m s/rad; `kd` a scalar or 12
    values): tests use zero gains to make the robot fall.

    `gait_hz` > 0 appends a gait clock to the observation: sin and cos of 2π·gait_hz·t, t the
    episode time (`gait_phase_sin`, `gait_phase_cos`). It gives a policy of the current
    observation a rhythm to step to; without it a deterministic policy started from a stance tends
    to keep standing (docs/envs.md). A policy without those inputs (the standing controller) can
    start such a run: `--init-policy` adds zero weights for them.
    """

    def __init__(self, task: str = "walk", kp: float = KP_NM_PER_RAD, kd: float | np.ndarray | None = None, gait_hz: float = 0.0) -> None:
        p = _import_pybullet()
        import pybullet_data

        if task not in TASKS:
            raise ValueError(f"laikago: task={task!r}, expected one of {', '.join(TASKS)}")
        kd_arr = KD_NM_S_PER_RAD.copy() if kd is None else np.asarray(kd, dtype=float)
        if kd_arr.shape not in ((), (12,)) or not np.all(np.isfinite(kd_arr)) or np.any(kd_arr < 0):
            raise ValueError(f"laikago: kd={kd!r}, expected a finite number >= 0 or 12 of them")
        if not (math.isfinite(kp) and kp >= 0):
            raise ValueError(f"laikago: kp={kp!r}, expected a finite number >= 0 (N m/rad)")
        if not (isinstance(gait_hz, (int, float)) and math.isfinite(gait_hz) and 0 <= gait_hz <= 10):
            raise ValueError(f"laikago: gait_hz={gait_hz!r}, expected a number in [0, 10] (Hz; 0 = no gait clock)")
        self._gait_rad_per_step = 2 * math.pi * float(gait_hz) * CONTROL_PERIOD_S
        self._p = p
        self._task = task
        self._kp = float(kp)
        self._kd = np.broadcast_to(kd_arr, (12,)).copy()
        # One physics server per env: several envs in one process never share a world.
        self._cid = p.connect(p.DIRECT)
        if self._cid < 0:
            raise RuntimeError("laikago: pybullet.connect(DIRECT) failed")
        try:
            self._build(pybullet_data.getDataPath())
        except BaseException:
            self.close()
            raise

    def _build(self, data_path: str) -> None:
        """Loads the world, settles the robot on the nominal pose and saves that state."""
        p, cid, task = self._p, self._cid, self._task
        p.setAdditionalSearchPath(data_path, physicsClientId=cid)
        p.setGravity(0, 0, -9.81, physicsClientId=cid)
        p.setTimeStep(PHYSICS_DT_S, physicsClientId=cid)
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=cid)
        self._plane = p.loadURDF("plane.urdf", physicsClientId=cid)
        self._robot = p.loadURDF(URDF, [0, 0, 0.48], BODY_TO_WORLD_QUAT, physicsClientId=cid)
        by_name = {
            p.getJointInfo(self._robot, j, physicsClientId=cid)[1].decode(): j
            for j in range(p.getNumJoints(self._robot, physicsClientId=cid))
        }
        missing = [n for n in (*JOINT_NAMES, *(f"j{t}" for t in TOE_NAMES)) if n not in by_name]
        if missing:
            raise RuntimeError(f"laikago: {URDF} lacks joints {missing}; found {sorted(by_name)}")
        self._joints = [by_name[n] for n in JOINT_NAMES]
        # A joint's child link has the joint's index: the toe links, each the child of its leg's shank.
        self._toe_of_shank = {
            p.getJointInfo(self._robot, by_name[f"j{t}"], physicsClientId=cid)[16]: by_name[f"j{t}"] for t in TOE_NAMES
        }
        self._toes = frozenset(self._toe_of_shank.values())
        info = [p.getJointInfo(self._robot, j, physicsClientId=cid) for j in self._joints]
        self._q_low = np.array([i[8] for i in info])
        self._q_high = np.array([i[9] for i in info])
        # Disable the default velocity motors, which would otherwise hold the joints by themselves.
        p.setJointMotorControlArray(self._robot, self._joints, p.VELOCITY_CONTROL, forces=[0.0] * 12, physicsClientId=cid)

        self._target = NOMINAL_POSE_RAD.copy()
        self._last_action = np.zeros(12)
        self._fresh_joint_states: tuple[np.ndarray, np.ndarray] | None = None
        for k, j in enumerate(self._joints):
            p.resetJointState(self._robot, j, NOMINAL_POSE_RAD[k], physicsClientId=cid)
        # Settle with the default gains whatever kp/kd say, so every variant starts from one stance.
        kp_run, kd_run = self._kp, self._kd
        self._kp, self._kd = KP_NM_PER_RAD, KD_NM_S_PER_RAD.copy()
        for _ in range(round(SETTLE_S / PHYSICS_DT_S)):
            self._pd_substep()
        self._kp, self._kd = kp_run, kd_run
        self._h_ref = float(p.getBasePositionAndOrientation(self._robot, physicsClientId=cid)[0][2])
        self._settled_state = p.saveState(physicsClientId=cid)
        self._t = 0
        self._started = False

        self.spec = EnvSpec(
            id=f"laikago-{task}",
            obs_names=OBS_NAMES + (("gait_phase_sin", "gait_phase_cos") if self._gait_rad_per_step > 0 else ()),
            act_names=tuple(f"{leg}_{j}_offset" for leg in LEGS for j in JOINTS),
            act_low=(-1.0,) * 12,
            act_high=(1.0,) * 12,
            max_episode_steps=MAX_EPISODE_STEPS,
            control_period_s=CONTROL_PERIOD_S,
            failure_meaning=(
                f"the robot fell: a non-toe link touched the ground, |roll| or |pitch| > {MAX_TILT_RAD} rad, "
                f"or the base height < {MIN_BASE_HEIGHT_M} m"
            ),
            extra={
                "action_scale_rad": ACTION_SCALE_RAD.tolist(),
                "nominal_pose_rad": NOMINAL_POSE_RAD.tolist(),
                "sim_kp_nm_per_rad": self._kp,
                "sim_kd_nm_s_per_rad": self._kd.tolist(),
                "sim_gains_note": "simulation only; never copy to hardware",
            },
        )

    @property
    def reference_height_m(self) -> float:
        """Base centre-of-mass height when settled on the nominal pose (the stand task's target)."""
        return self._h_ref

    def reset(self, seed: int) -> np.ndarray:
        p, cid = self._p, self._cid
        rng = np.random.default_rng(seed)
        p.restoreState(self._settled_state, physicsClientId=cid)
        noise = rng.uniform(-START_JOINT_NOISE_RAD, START_JOINT_NOISE_RAD, 12)
        q = np.clip(NOMINAL_POSE_RAD + noise, self._q_low, self._q_high)
        for k, j in enumerate(self._joints):
            p.resetJointState(self._robot, j, q[k], physicsClientId=cid)
        self._target = NOMINAL_POSE_RAD.copy()
        self._last_action = np.zeros(12)
        self._t = 0
        self._started = True
        return self._observe()

    def step(self, action: np.ndarray) -> Step:
        if not self._started:
            raise RuntimeError(f"{self.spec.id}: step() before reset()")
        p, cid = self._p, self._cid
        action = np.asarray(action, dtype=float)
        self._target = np.clip(NOMINAL_POSE_RAD + ACTION_SCALE_RAD * action, self._q_low, self._q_high)
        self._last_action = action.copy()
        # the base position the last observation read: nothing has moved the robot since
        x0 = self._base[0][0]
        energy_j = 0.0
        for _ in range(SUBSTEPS):
            energy_j += self._pd_substep()
        self._t += 1
        obs = self._observe()
        pos, orn = self._base
        fell = self._fall_reason(pos, orn) is not None
        if self._task == "walk":
            reward = (pos[0] - x0) / CONTROL_PERIOD_S + ALIVE_BONUS - ENERGY_PENALTY_PER_J * energy_j
        else:
            q = self._q
            pose_err = float(np.sum((q - NOMINAL_POSE_RAD) ** 2))
            reward = (
                0.5 * math.exp(-pose_err / 0.1)
                + 0.5 * math.exp(-(((pos[2] - self._h_ref) / 0.05) ** 2))
                - ENERGY_PENALTY_PER_J * energy_j
            )
        truncated = not fell and self._t >= MAX_EPISODE_STEPS
        if fell or truncated:
            self._started = False
        return Step(obs, float(reward), fell, fell, truncated)

    def render(self, width_px: int, height_px: int) -> np.ndarray:
        """The robot from its front left, the camera following the base; PyBullet's TinyRenderer
        (software, no OpenGL needed)."""
        p, cid = self._p, self._cid
        pos = p.getBasePositionAndOrientation(self._robot, physicsClientId=cid)[0]
        view = p.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=[pos[0], pos[1], 0.25], distance=1.5, yaw=35.0, pitch=-20.0, roll=0.0, upAxisIndex=2
        )
        proj = p.computeProjectionMatrixFOV(fov=55.0, aspect=width_px / height_px, nearVal=0.05, farVal=20.0)
        _, _, rgba, _, _ = p.getCameraImage(
            width_px, height_px, view, proj, renderer=p.ER_TINY_RENDERER, physicsClientId=cid
        )
        return np.ascontiguousarray(np.asarray(rgba, dtype=np.uint8).reshape(height_px, width_px, 4)[:, :, :3])

    def close(self) -> None:
        if self._cid >= 0:
            self._p.disconnect(physicsClientId=self._cid)
            self._cid = -1

    def _joint_states(self) -> tuple[np.ndarray, np.ndarray]:
        states = self._p.getJointStates(self._robot, self._joints, physicsClientId=self._cid)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def _pd_substep(self) -> float:
        """One physics step under the PD loop; returns the mechanical work done in it (J)."""
        p = self._p
        if self._fresh_joint_states is not None:
            # read by the observation just before, with no physics step since: the same values
            q, dq = self._fresh_joint_states
            self._fresh_joint_states = None
        else:
            q, dq = self._joint_states()
        tau = np.minimum(np.maximum(self._kp * (self._target - q) - self._kd * dq, -MAX_TORQUE_NM), MAX_TORQUE_NM)
        p.setJointMotorControlArray(self._robot, self._joints, p.TORQUE_CONTROL, forces=tau, physicsClientId=self._cid)
        p.stepSimulation(physicsClientId=self._cid)
        return float(np.abs(tau * dq).sum()) * PHYSICS_DT_S

    def _robot_axes(self, orn) -> np.ndarray:
        """Columns: the robot's forward, left and up axes in world coordinates."""
        r = np.array(self._p.getMatrixFromQuaternion(orn)).reshape(3, 3)
        # URDF body axes: z forward, x left (after the load rotation), y up.
        return np.stack([r[:, 2], r[:, 0], r[:, 1]], axis=1)

    def _roll_pitch(self, orn) -> tuple[float, float]:
        axes = self._robot_axes(orn)
        fwd, left, up = axes[:, 0], axes[:, 1], axes[:, 2]
        return math.atan2(left[2], up[2]), -math.asin(max(-1.0, min(1.0, fwd[2])))

    def fall_reason(self) -> str | None:
        """Why the robot counts as fallen in the current physics state, or None while it stands
        (the failure rule; uses the contacts of the last physics step)."""
        return self._fall_reason(*self._p.getBasePositionAndOrientation(self._robot, physicsClientId=self._cid))

    def _fall_reason(self, pos, orn) -> str | None:
        p, cid = self._p, self._cid
        roll, pitch = self._roll_pitch(orn)
        if abs(roll) > MAX_TILT_RAD:
            return f"roll {roll:.3f} rad beyond ±{MAX_TILT_RAD}"
        if abs(pitch) > MAX_TILT_RAD:
            return f"pitch {pitch:.3f} rad beyond ±{MAX_TILT_RAD}"
        if pos[2] < MIN_BASE_HEIGHT_M:
            return f"base height {pos[2]:.3f} m below {MIN_BASE_HEIGHT_M}"
        for c in p.getContactPoints(self._robot, self._plane, physicsClientId=cid):
            link = c[3]
            if link in self._toes:
                continue
            toe = self._toe_of_shank.get(link)
            if toe is not None:
                toe_pos = p.getLinkState(self._robot, toe, physicsClientId=cid)[0]
                if math.dist(c[5], toe_pos) <= FOOT_CONTACT_RADIUS_M:
                    continue
            name = p.getJointInfo(self._robot, link, physicsClientId=cid)[12].decode() if link >= 0 else "chassis"
            return f"link {name} touches the ground"
        return None

    def _observe(self) -> np.ndarray:
        """The observation of the current state; keeps the base pose (`_base`), `q` (`_q`) and the
        joint state for the next PD substep, which would read the same values again."""
        p, cid = self._p, self._cid
        pos, orn = self._base = p.getBasePositionAndOrientation(self._robot, physicsClientId=cid)
        lin, ang = p.getBaseVelocity(self._robot, physicsClientId=cid)
        axes = self._robot_axes(orn)
        gravity = axes.T @ np.array([0.0, 0.0, -1.0])
        heading = math.atan2(axes[1, 0], axes[0, 0])
        q, dq = self._fresh_joint_states = self._joint_states()
        self._q = q
        return np.concatenate(
            [
                gravity,
                [math.cos(heading), math.sin(heading)],
                axes.T @ np.asarray(ang),
                axes.T @ np.asarray(lin),
                [pos[2]],
                q - NOMINAL_POSE_RAD,
                dq / 10,
                self._last_action,
                self._gait_clock(),
            ]
        ).astype(np.float32)

    def _gait_clock(self) -> list[float]:
        if self._gait_rad_per_step == 0:
            return []
        phase = self._gait_rad_per_step * self._t
        return [math.sin(phase), math.cos(phase)]


class LaikagoWalkEnv(LaikagoEnv):
    """`laikago-walk`: walk as fast as possible in world +x."""

    def __init__(self, **kwargs) -> None:
        super().__init__(task="walk", **kwargs)


class LaikagoStandEnv(LaikagoEnv):
    """`laikago-stand`: hold the nominal standing pose and height."""

    def __init__(self, **kwargs) -> None:
        super().__init__(task="stand", **kwargs)
