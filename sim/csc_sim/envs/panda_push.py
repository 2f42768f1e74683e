"""Panda push tasks of the paper (Appendix A.5) on robosuite: `panda-push-topple`, `panda-push-boundary`.

A Franka Emika Panda with robosuite's Operational Space Controller pushes a 5x5x10 cm block standing
on end across a table to a goal. The two ids share the world and differ only in what counts as a
failure: the block toppling, or the block centre leaving a 15x35 cm rectangle.

Frames and units: every observation is in the *task frame*, whose origin is the table-top centre
(robosuite world (0, 0, 0.8)), x pointing away from the robot base, y to the robot's left, z up; metres,
metres per second, unit vectors.

Action (3-D, each in [-1, 1]): the commanded end-effector velocity, robosuite's OSC scaling kept:
+-1 is +-0.05 m per 50 ms control step (20 Hz), i.e. +-1 m/s. The env integrates the command into an
end-effector position setpoint and hands robosuite's OSC_POSITION controller the setpoint as its
per-step delta; the delta is clipped to robosuite's own +-0.05 m per axis, which bounds how far the
setpoint may lead the hand (anti wind-up when the hand is blocked). OSC (kp 150, critically damped,
torques through the task-space inertia, gravity compensated) then tracks the setpoint ramp, so a
constant command yields that end-effector velocity once the ~0.2 s transient has passed, for speeds
whose lag (kd/kp * v = 0.163 s * v) stays under the 0.05 m clip, i.e. up to ~0.3 m/s.
"""
from __future__ import annotations

import logging
import math
from collections import OrderedDict

import mujoco
import numpy as np

from .base import Env, EnvSpec, Step

# robosuite logs its missing optional extras (macros file, robosuite_models, mink) at import time on
# stderr; none of them is used here, so keep the server's stderr for real problems.
logging.disable(logging.WARNING)
try:
    import robosuite  # noqa: F401  (imported for its side effect of registering the Panda)
    from robosuite.controllers import load_composite_controller_config, load_part_controller_config
    from robosuite.environments.manipulation.manipulation_env import ManipulationEnv
    from robosuite.models.arenas import TableArena
    from robosuite.models.objects import BoxObject
    from robosuite.models.tasks import ManipulationTask
finally:
    logging.disable(logging.NOTSET)
logging.getLogger("robosuite_logs").setLevel(logging.ERROR)

CONTROL_PERIOD_S = 0.05
"""robosuite's default control rate, 20 Hz."""
MAX_EPISODE_STEPS = 500
ACTION_STEP_M = 0.05
"""End-effector displacement commanded by an action of 1 over one control step (robosuite OSC scale)."""
TABLE_TOP_Z_M = 0.8
"""Height of the table top in robosuite's world frame; the task frame's origin sits there."""
TABLE_FRICTION = 0.4
"""Sliding friction of table and block. MuJoCo takes the larger of the two geoms' values, so both
are set. With mu = 0.4 a quasi-static push tips the block when applied above w / (2 mu) = 6.25 cm of
its 10 cm height: low pushes slide it, high or hard pushes topple it, which is the point of the task."""
BLOCK_HALF_SIZE_M = (0.025, 0.025, 0.05)
BLOCK_DENSITY_KG_PER_M3 = 500.0
"""A 0.125 kg wooden block."""
WORKSPACE_HALF_M = (0.20, 0.10)
"""The paper's 20 x 40 cm workspace, centred on the table, long side along x (x, y half-extents)."""
BOUNDARY_HALF_M = (0.175, 0.075)
"""The paper's 15 x 35 cm region that the block centre must stay in (panda-push-boundary)."""
TOPPLE_COS = math.cos(math.radians(45.0))
"""The block counts as toppled when its long (up) axis tilts more than 45 degrees from vertical.
A standing block that tilts past atan(w/h) = 26.6 degrees about an edge no longer falls back, so 45
is well past the point of no return, yet reached within a few steps of a real topple."""
GOAL_RADIUS_M = 0.03
"""Success when the block centre is within 3 cm (x, y) of the goal."""
SETPOINT_BOX_M = ((-0.25, 0.25), (-0.30, 0.30), (0.01, 0.35))
"""Box (task frame) the end-effector setpoint is clamped to: a soft workspace limit, as a robot
profile's workspace box, that keeps the hand above the table top and near the workspace."""
PUSH_REWARD_PER_M = 50.0
"""Reward per metre the block moves toward the goal (x, y distance)."""
REACH_REWARD_PER_M = 10.0
"""Shaping reward per metre the gripper moves toward the block centre."""
SUCCESS_BONUS = 10.0
RENDER_VIEW = ((-0.12, 0.0, TABLE_TOP_Z_M + 0.08), 1.25, 115.0, -25.0)
"""Free camera of `render`: looks at the workspace (world frame) from 1.25 m, from the side and a
little behind the block's start, so pushes run left to right and a topple is seen edge-on."""

OBS_NAMES: tuple[str, ...] = (
    "ee_x_m", "ee_y_m", "ee_z_m",
    "ee_vx_mps", "ee_vy_mps", "ee_vz_mps",
    "setpoint_lead_x_m", "setpoint_lead_y_m", "setpoint_lead_z_m",
    "block_x_m", "block_y_m", "block_z_m",
    "block_vx_mps", "block_vy_mps", "block_vz_mps",
    "block_up_x", "block_up_y", "block_up_z",
    "block_to_goal_x_m", "block_to_goal_y_m",
    "ee_to_block_x_m", "ee_to_block_y_m", "ee_to_block_z_m",
)
ACT_NAMES: tuple[str, ...] = ("ee_vx_cmd", "ee_vy_cmd", "ee_vz_cmd")


class _PushWorld(ManipulationEnv):
    """The robosuite scene: table, Panda (gripper held closed) under OSC_POSITION, one tall block.

    Observables are switched off: robosuite would refresh ~40 sensors at every 2 ms physics substep,
    which costs more than the physics here; the csc_sim env reads the few states it needs directly.
    """

    def __init__(self) -> None:
        config = load_composite_controller_config(controller="BASIC", robot="Panda")
        arm = load_part_controller_config(default_controller="OSC_POSITION")
        arm["gripper"] = {"type": "GRIP"}
        config["body_parts"]["right"] = arm
        super().__init__(
            robots="Panda",
            controller_configs=config,
            gripper_types="default",
            initialization_noise=None,
            use_camera_obs=False,
            has_renderer=False,
            has_offscreen_renderer=False,
            control_freq=round(1.0 / CONTROL_PERIOD_S),
            lite_physics=True,
            horizon=MAX_EPISODE_STEPS,
            ignore_done=True,
            hard_reset=False,
            seed=0,
        )

    def _load_model(self) -> None:
        super()._load_model()
        table_full_size = (0.8, 0.8, 0.05)
        robot_model = self.robots[0].robot_model
        robot_model.set_base_xpos(robot_model.base_xpos_offset["table"](table_full_size[0]))
        arena = TableArena(
            table_full_size=table_full_size,
            table_friction=(TABLE_FRICTION, 0.005, 0.0001),
            table_offset=(0.0, 0.0, TABLE_TOP_Z_M),
        )
        arena.set_origin([0, 0, 0])
        self.block = BoxObject(
            name="block",
            size=list(BLOCK_HALF_SIZE_M),
            density=BLOCK_DENSITY_KG_PER_M3,
            friction=[TABLE_FRICTION, 0.005, 0.0001],
            rgba=[0.8, 0.3, 0.1, 1.0],
        )
        self.model = ManipulationTask(
            mujoco_arena=arena,
            mujoco_robots=[robot.robot_model for robot in self.robots],
            mujoco_objects=self.block,
        )

    def _setup_references(self) -> None:
        super()._setup_references()
        self.block_body_id = self.sim.model.body_name2id(self.block.root_body)

    def _setup_observables(self) -> OrderedDict:
        return OrderedDict()

    def _update_observables(self, force: bool = False) -> None:
        pass

    def reward(self, action=None) -> float:
        return 0.0

    # -- the control step, without what nothing here reads ------------------------------------------
    #
    # robosuite's `MujocoEnv.step` with lite physics runs, per 2 ms substep: mj_step1, the robot's
    # controllers (OSC_POSITION for the arm, GRIP for the gripper) writing actuator controls, mj_step2.
    # `control_step` runs exactly that, in that order, with the same controller objects and the same
    # arithmetic, but leaves out work whose results nothing reads (the golden trajectories of
    # sim/tests/test_golden.py pin that the simulation is bit for bit unchanged):
    # - `Robot.action_dim` (three times a substep: asserts in `_pre_action` and `control`), which
    #   rebuilds the composite controller's action limits by concatenating lists;
    # - the first of the two `update_state` calls per substep (`run_controller` repeats it);
    # - the proprioceptive history `control` pushes once per control step (ee force sensors, quats,
    #   a moving-average ee acceleration): it feeds robosuite observables, which are switched off;
    # - `_post_action` / `_get_observations` (our reward and observations are computed by the env);
    # - site-name lookups (f-strings + dict) at every call, and the second `mj_jacSite` of each
    #   `get_site_xvel*` (robosuite computes the same Jacobian twice per reference update).

    def streamline(self) -> None:
        """Caches ids and replaces two per-substep robosuite helpers by equivalent cached ones.

        Must follow every `reset()`: robosuite makes new controller objects there."""
        robot = self.robots[0]
        self._robot = robot
        self._cc = robot.composite_controller
        self._enabled_parts = robot._enabled_parts
        self._mjm = self.sim.model._model
        self._mjd = self.sim.data._data
        self._substeps = int(self.control_timestep / self.model_timestep)
        self._grippers = set(robot.composite_controller.grippers)
        for part in self._grippers:
            grip = robot.part_controllers[part]
            if grip.interpolator is not None or type(grip).__name__ != "SimpleGripController":
                raise RuntimeError(f"panda-push: expected robosuite's GRIP controller without interpolator for {part}")
        ctrlrange = self.sim.model.actuator_ctrlrange
        self._actuators = {
            part: (idx, ctrlrange[idx, 0], ctrlrange[idx, 1]) for part, idx in robot._ref_actuators_indexes_dict.items()
        }
        cc = self._cc
        m, d = self._mjm, self._mjd
        origin_ids = {
            arm: self.sim.model.site_name2id(f"{cc.part_controllers[arm].naming_prefix}{cc.part_controllers[arm].part_name}_center")
            for arm in cc.arms
        }

        def update_state() -> None:
            # CompositeController.update_state with the site ids looked up once
            for arm, sid in origin_ids.items():
                cc.part_controllers[arm].update_origin(np.array(d.site_xpos[sid]), np.array(d.site_xmat[sid].reshape([3, 3])))

        cc.update_state = update_state
        for arm in robot.arms:
            osc = robot.part_controllers[arm]
            if osc.num_ref_sites != 1:
                raise RuntimeError(f"panda-push: expected one OSC reference site, got {osc.num_ref_sites}")
            ref_id = self.sim.model.site_name2id(osc.ref_name)
            jacp = np.zeros((3, m.nv))
            jacr = np.zeros((3, m.nv))

            def update_reference(name: str, index: int, osc=osc, ref_id=ref_id, jacp=jacp, jacr=jacr) -> None:
                # Controller._update_single_reference for one site: the same values, one Jacobian each
                mujoco.mj_jacSite(m, d, jacp, None, ref_id)
                mujoco.mj_jacSite(m, d, None, jacr, ref_id)
                osc.ref_pos[:] = np.array(d.site_xpos[ref_id])
                osc.ref_ori_mat[:, :] = np.array(d.site_xmat[ref_id].reshape([3, 3]))
                osc.ref_pos_vel[:] = np.dot(jacp, d.qvel)
                osc.ref_ori_vel[:] = np.dot(jacr, d.qvel)
                osc.J_pos[:, :] = jacp.reshape((3, -1))[:, osc.qvel_index]
                osc.J_ori[:, :] = jacr.reshape((3, -1))[:, osc.qvel_index]
                osc.J_full[:, :] = np.vstack([osc.J_pos, osc.J_ori])

            osc._update_single_reference = update_reference

    def control_step(self, action: np.ndarray) -> None:
        """One control step (`MujocoEnv.step` with lite physics; see the comment above).

        The gripper controller (GRIP, no interpolator) outputs its goal scaled to the actuator
        range, whatever the state: its goal changes only with the action, so its output of the
        first substep is the output of all 25 and is computed once.
        """
        m, d, cc = self._mjm, self._mjd, self._cc
        self.timestep += 1
        held: dict[str, np.ndarray] = {}
        for substep in range(self._substeps):
            mujoco.mj_step1(m, d)
            if substep == 0:
                cc.update_state()
                cc.set_goal(action)
            # CompositeController.run_controller, the gripper's output held after the first substep
            cc.update_state()
            for part, controller in cc.part_controllers.items():
                if not self._enabled_parts.get(part, False):
                    continue
                if part in held:
                    torques = held[part]
                else:
                    torques = controller.run_controller()
                    if part in self._grippers:
                        held[part] = torques
                idx, low, high = self._actuators[part]
                d.ctrl[idx] = np.clip(torques, low, high)
            mujoco.mj_step2(m, d)
        self.cur_time += self.control_timestep


class PandaPushEnv(Env):
    """Shared push task; `failure_rule` picks the paper's failure ("topple" or "boundary")."""

    def __init__(self, failure_rule: str) -> None:
        if failure_rule not in ("topple", "boundary"):
            raise ValueError(f"PandaPushEnv: failure_rule must be 'topple' or 'boundary', got {failure_rule!r}")
        self._rule = failure_rule
        meaning = (
            "the block topples: its up axis tilts more than 45 degrees from vertical"
            if failure_rule == "topple"
            else "the block centre leaves the 15 x 35 cm rectangle centred on the workspace (|x| > 0.175 m or |y| > 0.075 m)"
        )
        self.spec = EnvSpec(
            id=f"panda-push-{failure_rule}",
            obs_names=OBS_NAMES,
            act_names=ACT_NAMES,
            act_low=(-1.0, -1.0, -1.0),
            act_high=(1.0, 1.0, 1.0),
            max_episode_steps=MAX_EPISODE_STEPS,
            control_period_s=CONTROL_PERIOD_S,
            failure_meaning=meaning,
            extra={
                "simulator": f"robosuite {robosuite.__version__} (MuJoCo), Panda, OSC_POSITION kp 150",
                "action_step_m": ACTION_STEP_M,
                "action_velocity_mps_per_unit": ACTION_STEP_M / CONTROL_PERIOD_S,
                "frame": "task frame: origin at the table-top centre, x away from the robot, z up",
            },
        )
        self._world = _PushWorld()
        sim = self._world.sim
        robot = self._world.robots[0]
        self._sim = sim
        self._arm = robot.arms[0]
        self._eef_site_id = robot.eef_site_id[self._arm]
        self._mj_model = sim.model._model
        self._mj_data = sim.data._data
        self._vel6 = np.zeros(6)
        self._block_body = self._world.block_body_id
        self._block_joint = self._world.block.joints[0]
        self._table_origin = np.array([0.0, 0.0, TABLE_TOP_Z_M])
        self._setpoint_lo = np.array([lo for lo, _ in SETPOINT_BOX_M])
        self._setpoint_hi = np.array([hi for _, hi in SETPOINT_BOX_M])
        self._rs_action = np.zeros(self._world.action_dim)
        # The gripper stays closed: its fingers form the pushing tool.
        self._rs_action[-1] = 1.0
        self._setpoint = np.zeros(3)
        self._goal_xy = np.zeros(2)
        self._steps = 0
        self._prev_block_goal_m = 0.0
        self._prev_ee_block_m = 0.0
        self._done = True
        self._frames = None  # MjFrames, made on the first render

    # -- state read-out ----------------------------------------------------------------------------

    def _ee_pos(self) -> np.ndarray:
        return self._mj_data.site_xpos[self._eef_site_id] - self._table_origin

    def _ee_vel(self) -> np.ndarray:
        mujoco.mj_objectVelocity(self._mj_model, self._mj_data, mujoco.mjtObj.mjOBJ_SITE, self._eef_site_id, self._vel6, 0)
        return self._vel6[3:].copy()

    def _block_pos(self) -> np.ndarray:
        return self._mj_data.xpos[self._block_body] - self._table_origin

    def _block_up(self) -> np.ndarray:
        # Third column of the body's rotation matrix: its z axis in the world frame.
        return self._mj_data.xmat[self._block_body].reshape(3, 3)[:, 2].copy()

    def _block_vel(self) -> np.ndarray:
        mujoco.mj_objectVelocity(self._mj_model, self._mj_data, mujoco.mjtObj.mjOBJ_BODY, self._block_body, self._vel6, 0)
        return self._vel6[3:].copy()

    def _obs(self) -> np.ndarray:
        ee = self._ee_pos()
        block = self._block_pos()
        return np.concatenate(
            [
                ee,
                self._ee_vel(),
                self._setpoint - ee,
                block,
                self._block_vel(),
                self._block_up(),
                self._goal_xy - block[:2],
                block - ee,
            ]
        ).astype(np.float32)

    def _distances(self) -> tuple[float, float]:
        block = self._block_pos()
        return float(np.linalg.norm(self._goal_xy - block[:2])), float(np.linalg.norm(block - self._ee_pos()))

    # -- Env ---------------------------------------------------------------------------------------

    def reset(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        self._world.reset()
        # robosuite builds new controller objects at every reset: cache and replace on those
        self._world.streamline()
        # The block starts in the half of the workspace nearer the robot and the goal lies in the far
        # half: the push runs along the workspace's long (x) side, away from the robot, so the hand
        # meets the block with its narrow face (the Panda hand is 20 cm wide across its fingers).
        block_xy = np.array([rng.uniform(-0.10, -0.06), rng.uniform(-0.03, 0.03)])
        self._goal_xy = np.array([rng.uniform(0.06, 0.13), rng.uniform(-0.03, 0.03)])
        yaw = rng.uniform(-math.pi / 4, math.pi / 4)
        quat_wxyz = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
        block_z = TABLE_TOP_Z_M + BLOCK_HALF_SIZE_M[2]
        self._sim.data.set_joint_qpos(self._block_joint, np.concatenate([[*block_xy, block_z], quat_wxyz]))
        self._sim.data.set_joint_qvel(self._block_joint, np.zeros(6))
        self._sim.forward()
        self._setpoint = self._ee_pos().copy()
        self._prev_block_goal_m, self._prev_ee_block_m = self._distances()
        self._steps = 0
        self._done = False
        return self._obs()

    def step(self, action: np.ndarray) -> Step:
        if self._done:
            raise RuntimeError(f"{self.spec.id}: step() after the episode ended; call reset(seed) first")
        velocity_cmd = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0) * ACTION_STEP_M
        ee = self._ee_pos()
        self._setpoint = np.clip(self._setpoint + velocity_cmd, self._setpoint_lo, self._setpoint_hi)
        # Anti wind-up: the setpoint may lead the hand by at most robosuite's per-step delta limit.
        self._setpoint = ee + np.clip(self._setpoint - ee, -ACTION_STEP_M, ACTION_STEP_M)
        self._rs_action[:3] = (self._setpoint - ee) / ACTION_STEP_M
        self._world.control_step(self._rs_action)
        # robosuite's lite physics leaves positions integrated but kinematics one substep stale.
        mujoco.mj_forward(self._mj_model, self._mj_data)
        self._steps += 1

        block_goal_m, ee_block_m = self._distances()
        reward = PUSH_REWARD_PER_M * (self._prev_block_goal_m - block_goal_m) + REACH_REWARD_PER_M * (
            self._prev_ee_block_m - ee_block_m
        )
        self._prev_block_goal_m, self._prev_ee_block_m = block_goal_m, ee_block_m

        failure = self._failed()
        success = not failure and block_goal_m < GOAL_RADIUS_M
        if success:
            reward += SUCCESS_BONUS
        terminated = failure or success
        truncated = not terminated and self._steps >= MAX_EPISODE_STEPS
        self._done = terminated or truncated
        return Step(self._obs(), float(reward), failure, terminated, truncated)

    def _failed(self) -> bool:
        if self._rule == "topple":
            return bool(self._block_up()[2] < TOPPLE_COS)
        x, y = self._block_pos()[:2]
        return bool(abs(x) > BOUNDARY_HALF_M[0] or abs(y) > BOUNDARY_HALF_M[1])

    def render(self, width_px: int, height_px: int) -> np.ndarray:
        """The workspace from the side (`RENDER_VIEW`): the hand, the block, the push."""
        if self._frames is None:
            from .mj_render import MjFrames, free_camera

            self._frames = MjFrames(self.spec.id, self._mj_model, self._mj_data, free_camera(*RENDER_VIEW))
        return self._frames.render(width_px, height_px)

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        self._world.close()


class PandaPushToppleEnv(PandaPushEnv):
    """`panda-push-topple`: failure when the block topples."""

    def __init__(self) -> None:
        super().__init__("topple")


class PandaPushBoundaryEnv(PandaPushEnv):
    """`panda-push-boundary`: failure when the block centre leaves the 15 x 35 cm region."""

    def __init__(self) -> None:
        super().__init__("boundary")
