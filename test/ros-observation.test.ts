/**
 * The profiles' observation builders against the real Python sims: test/fixtures/ros/*.json hold
 * what a robot's topics would carry (read from MuJoCo / PyBullet state) next to the observation
 * the env computed (make_fixtures.py). The builders must reproduce the env's vector.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { LAIKAGO_OBS_NAMES, laikagoObservation } from '../src/ros/laikago.ts';
import type { Header } from '../src/ros/messages.ts';
import { PANDA_OBS_NAMES, VirtualSetpoint, pandaObservation } from '../src/ros/panda.ts';
import { type LaikagoProfile, type PandaProfile, loadProfile } from '../src/ros/profile.ts';

const header: Header = { stamp: { sec: 0, nanosec: 0 }, frame_id: 'world' };
const vec = (a: readonly number[]): { x: number; y: number; z: number } => ({ x: a[0]!, y: a[1]!, z: a[2]! });
const quat = (a: readonly number[]): { x: number; y: number; z: number; w: number } => ({ x: a[0]!, y: a[1]!, z: a[2]!, w: a[3]! });

async function fixture<T>(name: string): Promise<T> {
  return JSON.parse(await readFile(new URL(`fixtures/ros/${name}.json`, import.meta.url), 'utf8')) as T;
}

function assertClose(actual: Float32Array, expected: readonly number[], names: readonly string[], step: number, tol = 2e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `step ${step}: ${names[i]} = ${actual[i]}, the sim says ${expected[i]}`);
  }
}

interface PandaRow {
  ee_position_m: number[];
  ee_velocity_mps: number[];
  block_position_m: number[];
  block_orientation_xyzw: number[];
  block_velocity_mps: number[];
  goal_xy_m: number[];
  obs: number[];
  action: number[];
}

test('panda: the observation built from ROS messages equals panda-push-topple’s, step by step', async () => {
  const fx = await fixture<{ task_frame_origin_m: number[]; rows: PandaRow[] }>('panda-push-topple');
  const base = (await loadProfile('hardware/panda.yaml')) as PandaProfile;
  // The sim's poses are in robosuite's world frame, where the task frame's origin is the table top.
  const profile: PandaProfile = { ...base, taskFrameOriginM: [fx.task_frame_origin_m[0]!, fx.task_frame_origin_m[1]!, fx.task_frame_origin_m[2]!] };
  const setpoint = new VirtualSetpoint(profile.virtualSetpoint);
  const obs = new Float32Array(PANDA_OBS_NAMES.length);
  assert.ok(fx.rows.length >= 20);
  fx.rows.forEach((r, step) => {
    const reason = pandaObservation(
      {
        joints: { header, name: ['j1'], position: [0], velocity: [0], effort: [] },
        eePose: { header, pose: { position: vec(r.ee_position_m), orientation: { x: 0, y: 0, z: 0, w: 1 } } },
        eeTwist: { header, twist: { linear: vec(r.ee_velocity_mps), angular: vec([0, 0, 0]) } },
        objectPose: { header, pose: { position: vec(r.block_position_m), orientation: quat(r.block_orientation_xyzw) } },
        objectTwist: { header, twist: { linear: vec(r.block_velocity_mps), angular: vec([0, 0, 0]) } },
        goal: { header, point: vec([r.goal_xy_m[0]!, r.goal_xy_m[1]!, 0.8]) },
      },
      profile,
      setpoint,
      obs,
    );
    assert.equal(reason, null);
    assertClose(obs, r.obs, PANDA_OBS_NAMES, step);
    // The env integrated this action (clipped to ±1, 1 m/s per unit) over one 0.05 s period.
    const v = r.action.map((a) => Math.max(-1, Math.min(1, a)) * profile.command.velocityPerActionUnitMPerS / profile.controlRateHz);
    setpoint.advance([obs[0]!, obs[1]!, obs[2]!], [v[0]!, v[1]!, v[2]!]);
  });
});

test('panda: the virtual setpoint matters — without integrating the actions the lead differs from the sim', async () => {
  const fx = await fixture<{ rows: PandaRow[] }>('panda-push-topple');
  const leadNorm = Math.max(...fx.rows.map((r) => Math.hypot(r.obs[6]!, r.obs[7]!, r.obs[8]!)));
  assert.ok(leadNorm > 0.01, `the fixture's setpoint lead must be non-trivial, max ${leadNorm}`);
});

interface LaikagoRow {
  joint_names: string[];
  joint_position_rad: number[];
  joint_velocity_rad_per_s: number[];
  imu_orientation_xyzw: number[];
  imu_angular_velocity_rad_per_s: number[];
  odom_position_m: number[];
  odom_linear_velocity_body_mps: number[];
  obs: number[];
  action: number[];
}

test('laikago: the observation built from JointState (any order), Imu and Odometry equals laikago-walk’s', async () => {
  const fx = await fixture<{ joint_names_obs_order: string[]; rows: LaikagoRow[] }>('laikago-walk');
  const base = (await loadProfile('hardware/laikago.yaml')) as LaikagoProfile;
  // The simulated robot names its joints after the URDF.
  const profile: LaikagoProfile = { ...base, joints: { ...base.joints, names: fx.joint_names_obs_order } };
  const lastAction = new Float64Array(12);
  const obs = new Float32Array(LAIKAGO_OBS_NAMES.length);
  assert.ok(fx.rows.length >= 20);
  fx.rows.forEach((r, step) => {
    const reason = laikagoObservation(
      {
        joints: { header, name: r.joint_names, position: r.joint_position_rad, velocity: r.joint_velocity_rad_per_s, effort: [] },
        imu: {
          header,
          orientation: quat(r.imu_orientation_xyzw),
          orientation_covariance: new Array<number>(9).fill(0),
          angular_velocity: vec(r.imu_angular_velocity_rad_per_s),
          angular_velocity_covariance: new Array<number>(9).fill(0),
          linear_acceleration: vec([0, 0, 9.81]),
          linear_acceleration_covariance: new Array<number>(9).fill(0),
        },
        odometry: {
          header,
          child_frame_id: 'base',
          pose: { pose: { position: vec(r.odom_position_m), orientation: { x: 0, y: 0, z: 0, w: 1 } }, covariance: [] },
          twist: { twist: { linear: vec(r.odom_linear_velocity_body_mps), angular: vec([0, 0, 0]) }, covariance: [] },
        },
      },
      profile,
      lastAction,
      obs,
    );
    assert.equal(reason, null);
    assertClose(obs, r.obs, LAIKAGO_OBS_NAMES, step);
    lastAction.set(r.action.map((a) => Math.max(-1, Math.min(1, a))));
  });
});

test('observation names equal the sims’ OBS_NAMES (as stored in checkpoints)', async () => {
  assert.deepEqual(PANDA_OBS_NAMES, (await fixture<{ obs_names: string[] }>('panda-push-topple')).obs_names);
  assert.deepEqual(LAIKAGO_OBS_NAMES, (await fixture<{ obs_names: string[] }>('laikago-walk')).obs_names);
});
