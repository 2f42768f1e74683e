/**
 * Property tests of the hard limits: whatever the state and whatever the policy outputs (NaN, ±Inf,
 * 1e30, ordinary values), no published command leaves the profile's limits. Seeded, so a failure
 * reproduces.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.ts';
import { limitTargets } from '../src/ros/laikago.ts';
import { LoopbackGraph, LoopbackTransport } from '../src/ros/loopback.ts';
import type { Float64MultiArray, TwistStamped } from '../src/ros/messages.ts';
import { limitTwist } from '../src/ros/panda.ts';
import { type LaikagoProfile, type PandaProfile, type Vec3, loadProfile } from '../src/ros/profile.ts';
import { SafetyNode } from '../src/ros/safety-node.ts';
import { LAIKAGO_SPEC, PANDA_SPEC, ScriptedPolicy, pandaRobot, pandaWorld } from './ros-helpers.ts';

const N = Number(process.env.ROS_PROP_N ?? 100_000);
let panda: PandaProfile;
let laikago: LaikagoProfile;

before(async () => {
  panda = (await loadProfile('hardware/panda.yaml')) as PandaProfile;
  laikago = (await loadProfile('hardware/laikago.yaml')) as LaikagoProfile;
});

/** A nasty number: mostly ordinary, sometimes NaN, ±Inf, huge, tiny or −0. */
function nasty(rng: Rng, scale: number): number {
  const u = rng.uniform();
  if (u < 0.04) return Number.NaN;
  if (u < 0.07) return Number.POSITIVE_INFINITY;
  if (u < 0.1) return Number.NEGATIVE_INFINITY;
  if (u < 0.14) return (rng.uniform() - 0.5) * 2e30;
  if (u < 0.16) return -0;
  if (u < 0.18) return 1e-300;
  return (rng.uniform() * 2 - 1) * scale;
}

const TOL = 1e-9;

/** assert.ok with the message built only on failure (the loops run 10^5 times). */
function check(ok: boolean, where: () => string): void {
  if (!ok) assert.fail(where());
}

test(`limitTwist: ${N} random states, previous commands and policy outputs never break a hard limit`, () => {
  const rng = new Rng(42);
  const L = panda.limits;
  const T = 1 / panda.controlRateHz;
  const dv = L.maxLinearAccelMPerS2 * T;
  let prev: Vec3 = [0, 0, 0];
  let cut = 0;
  for (let n = 0; n < N; n++) {
    // End effector: mostly inside the box, sometimes outside, sometimes NaN.
    const ee = [0, 1, 2].map((i) => {
      const lo = L.workspaceMinM[i]!;
      const hi = L.workspaceMaxM[i]!;
      const u = rng.uniform();
      return u < 0.02 ? Number.NaN : lo - 0.1 + (hi - lo + 0.2) * rng.uniform();
    }) as unknown as Vec3;
    const desired = [nasty(rng, 2), nasty(rng, 2), nasty(rng, 2)] as unknown as Vec3;
    const { v, flags } = limitTwist(desired, prev, ee, L, T);
    const where = (): string => `case ${n}: desired ${desired.join(',')} prev ${prev.join(',')} ee ${ee.join(',')} → ${v.join(',')}`;
    check(v.every(Number.isFinite), where);
    check(Math.hypot(...v) <= L.maxLinearVelMPerS * (1 + TOL), () => `speed: ${where()}`);
    for (let i = 0; i < 3; i++) {
      const lo = L.workspaceMinM[i]!;
      const hi = L.workspaceMaxM[i]!;
      const e = ee[i]!;
      if (Number.isNaN(e)) check(v[i] === 0, () => `unknown position must not move: ${where()}`);
      else if (e > hi) check(v[i]! <= 0, () => `outward above the box: ${where()}`);
      else if (e < lo) check(v[i]! >= 0, () => `outward below the box: ${where()}`);
      else check(e + v[i]! * T >= lo - TOL && e + v[i]! * T <= hi + TOL, () => `leaves the box: ${where()}`);
    }
    if (flags.includes('workspace')) cut++;
    else for (let i = 0; i < 3; i++) check(Math.abs(v[i]! - prev[i]!) <= dv + TOL, () => `rate: ${where()}`);
    prev = v;
  }
  // The generator must exercise the interesting branches.
  assert.ok(cut > N / 100, `workspace cuts: ${cut}`);
});

test(`limitTargets: ${N} random targets never leave the joint range nor move faster than the rate limit`, () => {
  const rng = new Rng(7);
  const { lowerRad, upperRad, nominalRad } = laikago.joints;
  const T = 1 / laikago.controlRateHz;
  const step = laikago.limits.maxTargetRateRadPerS * T;
  let prev: Float64Array = Float64Array.from(nominalRad);
  for (let n = 0; n < N; n++) {
    const desired = Array.from({ length: 12 }, (_, k) => nominalRad[k]! + nasty(rng, 3));
    const { q } = limitTargets(desired, prev, laikago, T);
    for (let k = 0; k < 12; k++) {
      const where = (): string => `case ${n} joint ${k}: desired ${desired[k]} prev ${prev[k]} → ${q[k]}`;
      check(Number.isFinite(q[k]) && q[k]! >= lowerRad[k]! && q[k]! <= upperRad[k]!, where);
      check(Math.abs(q[k]! - prev[k]!) <= step + TOL, where);
    }
    prev = q;
  }
});

test(`the whole node, Panda: ${N} random states and policy outputs through the loopback, every twist within the limits`, () => {
  const rng = new Rng(3);
  const graph = new LoopbackGraph(false);
  const nodeT = new LoopbackTransport(graph);
  const robotT = new LoopbackTransport(graph, { nodeName: 'robot' });
  const policy = new ScriptedPolicy(PANDA_SPEC);
  const node = new SafetyNode({ transport: nodeT, profile: panda, policy, trigger: 'fresh-state', stateTimeoutMs: 1e9 });
  const twists: TwistStamped[] = [];
  robotT.subscribe(panda.command.topic, 'geometry_msgs/msg/TwistStamped').subscribe((m) => twists.push(m));
  const publish = pandaRobot(robotT, panda);
  const reset = robotT.createPublisher(panda.topics.reset, 'std_msgs/msg/Empty');
  node.start();
  const L = panda.limits;
  const T = 1 / panda.controlRateHz;
  let holds = 0;
  for (let n = 0; n < N; n++) {
    const w = pandaWorld();
    w.ee = [0, 1, 2].map((i) => (rng.uniform() < 0.01 ? nasty(rng, 1) : L.workspaceMinM[i]! - 0.05 + (L.workspaceMaxM[i]! - L.workspaceMinM[i]! + 0.1) * rng.uniform())) as typeof w.ee;
    w.eeV = [nasty(rng, 0.5), 0, 0];
    if (rng.uniform() < 0.01) w.blockQ = [rng.uniform(), rng.uniform(), rng.uniform(), rng.uniform()];
    // A new episode now and then: clears a latched failure (a toppled block) through the reset topic.
    if (rng.uniform() < 0.02) reset.publish({});
    policy.next = Float32Array.from([nasty(rng, 3), nasty(rng, 3), nasty(rng, 3)]);
    const before = twists.length;
    publish(w);
    assert.equal(twists.length, before + 1, `case ${n}: one command per state`);
    const v = twists[twists.length - 1]!.twist.linear;
    const where = (): string => `case ${n}: ee ${w.ee.join(',')} action ${policy.next.join(',')} → ${v.x},${v.y},${v.z}`;
    check(Number.isFinite(v.x) && Number.isFinite(v.y) && Number.isFinite(v.z), where);
    check(Math.hypot(v.x, v.y, v.z) <= L.maxLinearVelMPerS * (1 + TOL), where);
    [v.x, v.y, v.z].forEach((vi, i) => {
      const e = w.ee[i]!;
      if (e >= L.workspaceMinM[i]! && e <= L.workspaceMaxM[i]!) check(e + vi * T >= L.workspaceMinM[i]! - TOL && e + vi * T <= L.workspaceMaxM[i]! + TOL, where);
      else if (e > L.workspaceMaxM[i]!) check(vi <= 0, where);
      else if (e < L.workspaceMinM[i]!) check(vi >= 0, where);
    });
    if (node.stats.decisions !== n + 1) assert.fail(`case ${n}: ${node.stats.decisions} decisions`);
    holds = node.stats.holds['invalid-input'] + node.stats.holds.failure + node.stats.holds['policy-fault'];
  }
  // NaN states and tilted blocks held, NaN actions held as policy faults; most steps acted.
  assert.ok(holds > 0 && node.stats.policySteps > N / 2, `holds ${holds}, policy steps ${node.stats.policySteps}`);
  assert.ok(node.stats.holds['policy-fault'] > 0);
  node.stop();
});

test(`the whole node, Laikago: ${N} random joint states and policy outputs, every target within range and rate, gains as configured`, () => {
  const rng = new Rng(5);
  const graph = new LoopbackGraph(false);
  const nodeT = new LoopbackTransport(graph);
  const robotT = new LoopbackTransport(graph, { nodeName: 'robot' });
  const policy = new ScriptedPolicy(LAIKAGO_SPEC);
  const node = new SafetyNode({ transport: nodeT, profile: laikago, policy, trigger: 'fresh-state', stateTimeoutMs: 1e9 });
  const cmds: Float64MultiArray[] = [];
  robotT.subscribe(laikago.command.topic, 'std_msgs/msg/Float64MultiArray').subscribe((m) => cmds.push(m));
  const s = laikago.state;
  const js = robotT.createPublisher(s.jointStates, 'sensor_msgs/msg/JointState');
  const imu = robotT.createPublisher(s.imu, 'sensor_msgs/msg/Imu');
  const odom = robotT.createPublisher(s.odometry, 'nav_msgs/msg/Odometry');
  const reset = robotT.createPublisher(laikago.topics.reset, 'std_msgs/msg/Empty');
  node.start();
  const { lowerRad, upperRad, names, nominalRad } = laikago.joints;
  const step = laikago.limits.maxTargetRateRadPerS / laikago.controlRateHz;
  const header = { stamp: { sec: 0, nanosec: 0 }, frame_id: 'base' };
  const zero = { x: 0, y: 0, z: 0 };
  let prev: Float64Array | null = null;
  for (let n = 0; n < N; n++) {
    const tilt = rng.uniform() < 0.01 ? 1.0 : 0.1 * rng.uniform();
    const q = nominalRad.map((x) => (rng.uniform() < 0.005 ? nasty(rng, 1) : x + (rng.uniform() - 0.5)));
    let fresh = false;
    if (rng.uniform() < 0.02) {
      reset.publish({});
      fresh = true;
    }
    js.publish({ header, name: names, position: q, velocity: q.map(() => (rng.uniform() < 0.005 ? nasty(rng, 5) : 5 * (rng.uniform() - 0.5))), effort: [] });
    imu.publish({ header, orientation: { x: Math.sin(tilt / 2), y: 0, z: 0, w: Math.cos(tilt / 2) }, orientation_covariance: [], angular_velocity: zero, angular_velocity_covariance: [], linear_acceleration: zero, linear_acceleration_covariance: [] });
    // One step in five gets nasty outputs (NaN, ±Inf, 1e30 among ordinary values).
    const wild = rng.uniform() < 0.2;
    policy.next = Float32Array.from({ length: 12 }, () => (wild ? nasty(rng, 2) : 2 * (rng.uniform() - 0.5)));
    const before = cmds.length;
    odom.publish({ header, child_frame_id: 'base', pose: { pose: { position: { x: 0, y: 0, z: 0.45 }, orientation: { x: 0, y: 0, z: 0, w: 1 } }, covariance: [] }, twist: { twist: { linear: zero, angular: zero }, covariance: [] } });
    assert.equal(cmds.length, before + 1);
    const d = Array.from(cmds[cmds.length - 1]!.data);
    const hold = d[12] === 0;
    for (let k = 0; k < 12; k++) {
      const where = (): string => `case ${n} joint ${k}: ${d[k]} (hold ${hold})`;
      check(Number.isFinite(d[k]) && d[k]! >= lowerRad[k]! && d[k]! <= upperRad[k]!, where);
      if (!hold && !fresh && prev !== null) check(Math.abs(d[k]! - prev[k]!) <= step + TOL, where);
      check(d[12 + k] === (hold ? 0 : laikago.command.kpNmPerRad), where);
      check(d[24 + k] === (hold ? laikago.hold.dampingKdNmSPerRad : laikago.command.kdNmSPerRad), where);
    }
    // After a hold or a reset the targets restart from the measured positions (no rate reference).
    prev = hold ? null : Float64Array.from(d.slice(0, 12));
  }
  assert.ok(node.stats.holds.failure > 0 && node.stats.holds['invalid-input'] > 0 && node.stats.policySteps > N / 2, JSON.stringify(node.stats));
  node.stop();
});
