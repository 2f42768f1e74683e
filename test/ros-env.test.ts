/**
 * Learning on the robot (`ros:` envs, src/envs/ros.ts) without ROS 2, on the loopback transport
 * (every message CDR-encoded): a scripted Panda checks the reward formula, the failure detector,
 * the failure topic, truncation, stale state and the reset wait; then the Python panda sim plays
 * the robot (SimBridge.serve) and the env's observations and rewards must be the sim's; finally
 * `train()` on `ros:panda` with `--env-arg sim=panda-push-topple` records an MCAP file, and
 * `ros:laikago` runs against laikago-walk.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../src/algos/config.ts';
import { makeVecEnv } from '../src/envs/make.ts';
import { RobotResetError, RosVecEnv, profileReward } from '../src/envs/ros.ts';
import { type BackendInfo, initBackend } from '../src/nn/backend.ts';
import { LoopbackGraph, LoopbackTransport } from '../src/ros/loopback.ts';
import { readMcapMessages, readMcapTransitions } from '../src/ros/mcap.ts';
import { type PandaProfile, loadProfile } from '../src/ros/profile.ts';
import { SimBridge } from '../src/ros/sim-bridge.ts';
import { train } from '../src/runs/train.ts';
import { type PandaWorld, pandaRobot, pandaWorld } from './ros-helpers.ts';

let backend: BackendInfo;
let panda: PandaProfile;
before(async () => {
  backend = await initBackend('auto');
  const p = await loadProfile('hardware/panda.yaml');
  assert.equal(p.robot, 'panda');
  if (p.robot === 'panda') panda = p;
});

/** A Panda on the loopback: answers each command (and each reset request) with its world's state. */
function scriptedPanda(graph: LoopbackGraph, profile: PandaProfile) {
  const t = new LoopbackTransport(graph, { nodeName: 'robot' });
  const publish = pandaRobot(t, profile);
  const failurePub = t.createPublisher('/csc/failure', 'std_msgs/msg/Bool');
  const robot = {
    world: pandaWorld(),
    /** Applied to the world on the next command only. */
    next: null as ((w: PandaWorld) => void) | null,
    /** The next command reports a failure on /csc/failure. */
    reportFailure: false,
    /** Commands to leave unanswered (stale state). */
    silent: 0,
    /** A reset request restores the scene (else the block stays as it is). */
    restore: true,
    commands: [] as number[][],
    resets: 0,
  };
  t.subscribe(profile.command.topic, 'geometry_msgs/msg/TwistStamped').subscribe((m) => {
    robot.commands.push([m.twist.linear.x, m.twist.linear.y, m.twist.linear.z]);
    if (robot.silent > 0) {
      robot.silent--;
      return;
    }
    robot.next?.(robot.world);
    robot.next = null;
    if (robot.reportFailure) failurePub.publish({ data: true });
    robot.reportFailure = false;
    publish(robot.world);
  });
  t.subscribe(profile.topics.reset, 'std_msgs/msg/Empty').subscribe(() => {
    robot.resets++;
    if (robot.restore) robot.world = pandaWorld();
    publish(robot.world);
  });
  return robot;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number): boolean => a.length === b.length && Array.from(a).every((x, i) => Math.abs(x - b[i]!) <= tol);

test('ros:panda on a scripted robot: reward, detector and topic failures, time limit, stale state, reset wait', async () => {
  const profile: PandaProfile = { ...panda, trigger: 'fresh-state', learning: { ...panda.learning, maxEpisodeSteps: 3, resetTimeoutS: 0.5, failureTopic: '/csc/failure' } };
  const graph = new LoopbackGraph();
  const robot = scriptedPanda(graph, profile);
  const lines: string[] = [];
  const env = new RosVecEnv({ transport: new LoopbackTransport(graph), profile, stateTimeoutMs: 200, log: (l) => lines.push(l) });
  assert.equal(env.spec.id, 'ros:panda');
  assert.equal(env.spec.obsSize, 23);
  assert.deepEqual(env.spec.actNames, ['ee_vx_cmd', 'ee_vy_cmd', 'ee_vz_cmd']);
  assert.equal(env.spec.maxEpisodeSteps, 3);
  assert.equal(env.spec.controlPeriodS, 0.05);
  assert.match(env.spec.failureMeaning, /block tilts more than 45° .* or \/csc\/failure reports a failure/);

  const obs0 = await env.reset(0);
  assert.equal(robot.resets, 1);
  // ee (−0.1, 0, 0.2), lead 0, block (−0.08, 0, 0.05) upright, goal (0.1, 0) (ros-helpers pandaWorld).
  assert.ok(close(obs0.subarray(0, 12), [-0.1, 0, 0.2, 0, 0, 0, 0, 0, 0, -0.08, 0, 0.05], 1e-6), String(obs0));

  // The block moves 1 cm toward the goal, the hand stays: push 50 × 0.01, reach 10 × (|(0.02, 0, −0.15)| − |(0.03, 0, −0.15)|).
  robot.next = (w) => {
    w.block[0] = -0.07;
  };
  const r1 = await env.step(Float32Array.of(0.05, 0, 0));
  const expected = 0.5 + 10 * (Math.sqrt(0.0229) - Math.sqrt(0.0234));
  assert.ok(Math.abs(r1.reward[0]! - expected) < 1e-5, `reward ${r1.reward[0]} vs ${expected}`);
  assert.deepEqual([r1.failure[0], r1.terminated[0], r1.truncated[0], r1.dropped[0]], [0, 0, 0, 0]);
  // The command went through the profile's hard limits: 0.05 m/s asked, rate-limited to a·T = 0.05 m/s.
  assert.ok(close(robot.commands.at(-1)!, [0.05, 0, 0], 1e-9));
  // The policy's next observation: block at −0.07, and the virtual setpoint leads by v·T = 2.5 mm.
  assert.ok(Math.abs(r1.obs[9]! + 0.07) < 1e-6 && Math.abs(r1.obs[6]! - 0.0025) < 1e-6);

  // A huge action is clamped by the hard limits, never published as asked.
  await env.step(Float32Array.of(1, 1, 1));
  const cmd = robot.commands.at(-1)!;
  assert.ok(Math.hypot(cmd[0]!, cmd[1]!, cmd[2]!) <= profile.limits.maxLinearVelMPerS + 1e-12);

  // Third step: the time limit (maxEpisodeSteps 3) truncates; the obs is a new episode's.
  const r3 = await env.step(Float32Array.of(0, 0, 0));
  assert.deepEqual([r3.failure[0], r3.terminated[0], r3.truncated[0]], [0, 0, 1]);
  assert.equal(robot.resets, 2);
  assert.ok(Math.abs(r3.obs[9]! + 0.08) < 1e-6 && r3.obs[6] === 0);

  // The failure detector: the block tilts 60° → failure, terminated; hold (zero twist), new episode.
  robot.next = (w) => {
    w.blockQ = [Math.sin(Math.PI / 6), 0, 0, Math.cos(Math.PI / 6)];
  };
  const r4 = await env.step(Float32Array.of(0.1, 0, 0));
  assert.deepEqual([r4.failure[0], r4.terminated[0], r4.truncated[0], r4.dropped[0]], [1, 1, 0, 0]);
  assert.ok(Math.abs(r4.nextObs[17]! - 0.5) < 1e-6, 'nextObs is the toppled state (up_z = cos 60°)');
  assert.ok(Math.abs(r4.obs[17]! - 1) < 1e-6, 'obs is the restored scene');
  assert.deepEqual(robot.commands.at(-1), [0, 0, 0]);
  assert.equal(robot.resets, 3);
  assert.ok(lines.some((l) => /episode ended after 1 steps \(the block toppled: its up axis tilts 60\.0° > 45°\)/.test(l)), lines.join('\n'));

  // The profile's failure topic: a true on /csc/failure marks the step a failure.
  robot.reportFailure = true;
  const r5 = await env.step(Float32Array.of(0, 0, 0));
  assert.deepEqual([r5.failure[0], r5.terminated[0]], [1, 1]);

  // Stale state: the robot does not answer → the episode is dropped with a reason, not a crash.
  robot.silent = 1;
  const r6 = await env.step(Float32Array.of(0, 0, 0));
  assert.deepEqual([r6.dropped[0], r6.failure[0]], [1, 0]);
  assert.equal(env.droppedEpisodes, 1);
  assert.match(env.lastDrop!, /ros:panda: episode dropped after 0 steps: no complete state within the state timeout of 200 ms \(missing \/joint_states, \/csc\/ee_pose/);
  assert.ok(close(r6.obs, r6.nextObs, 0) && Math.abs(r6.obs[17]! - 1) < 1e-6);
  const r7 = await env.step(Float32Array.of(0, 0, 0));
  assert.equal(r7.dropped[0], 0);

  // A scene that is not restored: the reset wait ends with a clear error after resetTimeoutS.
  robot.restore = false;
  robot.next = (w) => {
    w.blockQ = [1, 0, 0, 0];
  };
  await assert.rejects(env.step(Float32Array.of(0, 0, 0)), (e: unknown) => e instanceof RobotResetError && /no new episode within learning\.resetTimeoutS = 0\.5 s .*the block toppled: its up axis tilts 180\.0°/.test(e.message));
  await env.close();
  await assert.rejects(env.step(Float32Array.of(0, 0, 0)), /env used after close/);
  // The reward is the profile's formula of (s, s′): no motion, no reward.
  assert.equal(profileReward(profile, obs0, obs0, false).reward, 0);
});

test('ros:panda with the Python panda sim playing the robot: observations and rewards are the sim’s; a stalled sim drops the episode', async () => {
  const profile: PandaProfile = { ...panda, trigger: 'fresh-state' };
  const graph = new LoopbackGraph();
  const sim = await makeVecEnv('panda-push-topple', 1);
  const bridge = new SimBridge(sim, profile, new LoopbackTransport(graph, { nodeName: 'sim_bridge' }));
  bridge.serve(7);
  const env = new RosVecEnv({ transport: new LoopbackTransport(graph), profile, stateTimeoutMs: 5000, log: () => undefined });
  try {
    const obs = await env.reset(0);
    assert.ok(close(obs, bridge.lastObs, 1e-5));
    let a = Float32Array.of(0.5, 0, -0.3);
    let maxDiff = 0;
    for (let i = 0; i < 25; i++) {
      if (i === 20) bridge.stall(1);
      const r = await env.step(a);
      if (i === 20) {
        assert.equal(r.dropped[0], 1);
        assert.match(env.lastDrop!, /no complete state within the state timeout of 5000 ms/);
      } else {
        assert.equal(r.dropped[0], 0);
        // The env's s′ and reward are the sim's (the observation rebuilt from CDR messages).
        maxDiff = Math.max(maxDiff, ...Array.from(r.obs, (x, k) => Math.abs(x - bridge.lastObs[k]!)));
        assert.ok(Math.abs(r.reward[0]! - bridge.lastStep!.reward[0]!) < 1e-3, `step ${i}: reward ${r.reward[0]} vs the sim's ${bridge.lastStep!.reward[0]}`);
        assert.equal(r.failure[0], bridge.lastStep!.failure[0]);
      }
      a = Float32Array.of(Math.sin(i), Math.cos(i), -0.2);
    }
    assert.ok(maxDiff < 1e-5, `obs differs from the sim's by ${maxDiff}`);
    assert.equal(bridge.serveError, null);
  } finally {
    await env.close();
    bridge.close();
    await sim.close();
  }
});

test('train() on ros:panda with --env-arg sim=panda-push-topple records the transitions as MCAP', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-ros-env-'));
  const bag = join(dir, 'robot.mcap');
  const cmds = join(dir, 'commands.mcap');
  const config = resolveConfig({ env: 'ros:panda', numEnvs: 1, stepsPerEpoch: 30, epochs: 1, criticUpdatesPerEpoch: 2, criticBatch: 16, filterCandidates: 10, filterProbe: 2, valueEpochs: 1, policyHidden: [16], valueHidden: [16], criticHidden: [16] });
  const r = await train({ config, backend, out: join(dir, 'run'), resume: false, checkpointEvery: 1, progress: 'quiet', sim: { envArgs: { sim: 'panda-push-topple', record_commands: cmds } }, recordTransitions: bag });
  assert.equal(r.epochs, 1);
  assert.equal(r.recordedTransitions, 30);
  const tr = await readMcapTransitions(bag);
  assert.equal(tr.length, 30);
  assert.equal(tr[0]!.obs.length, 23);
  assert.equal(tr[0]!.action.length, 3);
  // The commands as published, within the hard limits: one per step, the first hold, the final hold.
  const twists = await readMcapMessages(cmds, ['/servo_node/delta_twist_cmds']);
  assert.ok(twists.length >= 32, `${twists.length} commands recorded`);
  for (const m of twists) {
    const v = (m.message as { twist: { linear: { x: number; y: number; z: number } } }).twist.linear;
    assert.ok(Math.hypot(v.x, v.y, v.z) <= panda.limits.maxLinearVelMPerS + 1e-12);
  }
  // Consecutive transitions chain: s′ of one is s of the next within an episode.
  assert.ok(tr[0]!.terminated || tr[0]!.truncated || close(tr[0]!.next_obs, tr[1]!.obs, 0));
  await assert.rejects(makeVecEnv('ros:panda', 2, { envArgs: { sim: 'panda-push-topple' } }), /env ros:panda is one robot: --num-envs must be 1, got 2/);
  await assert.rejects(makeVecEnv('ros:panda', 1, { envArgs: { simm: 'x' } }), /--env-arg simm: ros: envs take sim, state_timeout_ms, sim_seed, record_commands/);
  await assert.rejects(makeVecEnv('ros:nope', 1), /hardware\/nope\.yaml: cannot read the profile/);
  // Without --env-arg sim the env needs ROS 2, and says how to learn without it.
  const saved = process.env.AMENT_PREFIX_PATH;
  process.env.AMENT_PREFIX_PATH = '';
  try {
    await assert.rejects(makeVecEnv('ros:panda', 1), /env ros:panda: ROS 2 is not sourced .*Without ROS 2, learn against a Python sim playing the robot: --env-arg sim=panda-push-topple/);
  } finally {
    if (saved === undefined) delete process.env.AMENT_PREFIX_PATH;
    else process.env.AMENT_PREFIX_PATH = saved;
  }
});

test('ros:laikago with the Python laikago-walk sim playing the robot: observations are the sim’s', async () => {
  const p = await loadProfile('hardware/laikago.yaml');
  assert.equal(p.robot, 'laikago');
  const profile = { ...p, trigger: 'fresh-state' as const };
  const graph = new LoopbackGraph();
  const sim = await makeVecEnv('laikago-walk', 1);
  const bridge = new SimBridge(sim, profile, new LoopbackTransport(graph, { nodeName: 'sim_bridge' }));
  bridge.serve(3);
  const env = new RosVecEnv({ transport: new LoopbackTransport(graph), profile, stateTimeoutMs: 5000, log: () => undefined });
  try {
    assert.equal(env.spec.id, 'ros:laikago');
    assert.deepEqual([env.spec.obsSize, env.spec.actSize, env.spec.controlPeriodS], [48, 12, 0.02]);
    assert.ok(close(await env.reset(0), bridge.lastObs, 1e-5));
    let maxDiff = 0;
    for (let i = 0; i < 40; i++) {
      const r = await env.step(Float32Array.from({ length: 12 }, (_, k) => 0.3 * Math.sin(i / 5 + k)));
      assert.equal(r.dropped[0], 0);
      maxDiff = Math.max(maxDiff, ...Array.from(r.obs, (x, k) => Math.abs(x - bridge.lastObs[k]!)));
      // learning.reward: forwardVelocityWeight × vel_forward_m_per_s (s′) + aliveBonus.
      assert.ok(Math.abs(r.reward[0]! - (r.nextObs[8]! + 0.02)) < 1e-6);
    }
    // Rebuilt from JointState, Imu and Odometry: float32 rounding only (0 in practice).
    assert.ok(maxDiff < 1e-5, `obs differs from the sim's by ${maxDiff}`);
    assert.equal(bridge.serveError, null);
  } finally {
    await env.close();
    bridge.close();
    await sim.close();
  }
});
