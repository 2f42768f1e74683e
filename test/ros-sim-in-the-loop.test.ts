/**
 * End to end without ROS 2: a CSC learner on panda-push-topple saves its (untrained) checkpoint in
 * the real format — faster and steadier on a loaded machine than a `csc train` run, and the node
 * cannot tell the difference — then
 * `csc node --sim panda-push-topple` runs the safety node against the Python sim through the
 * loopback transport (every message CDR-encoded). The node's observation, rebuilt from ROS
 * messages and its own virtual setpoint, must equal the sim's at every step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CscLearner } from '../src/algos/csc.ts';
import { resolveConfig } from '../src/algos/config.ts';
import { makeVecEnv } from '../src/envs/make.ts';
import { initBackend } from '../src/nn/backend.ts';
import { readMcapMessages, readMcapTransitions } from '../src/ros/mcap.ts';

const csc = (...args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, ['bin/csc.mjs', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, AMENT_PREFIX_PATH: '', ROS_DISTRO: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('csc node --sim panda-push-topple: the deploy path end to end against the Python sim', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'csc-ros-')), 'checkpoint');
  await initBackend('auto');
  const env = await makeVecEnv('panda-push-topple', 1);
  try {
    const learner = new CscLearner(resolveConfig({ env: 'panda-push-topple', numEnvs: 1 }), env);
    await learner.save(out);
    learner.dispose();
  } finally {
    await env.close();
  }
  const steps = 120;
  // ε = 0.5: Q_C of random critic weights sits near 0.5, so some candidates pass and some do not.
  const bag = join(out, '..', 'node.mcap');
  const r = csc('node', '--sim', 'panda-push-topple', '--checkpoint', out, '--episodes', '5', '--max-steps', String(steps), '--seed', '3', '--epsilon', '0.5', '--record', bag);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as {
    env: string;
    steps: number;
    trainedOn: string;
    filter: boolean;
    node: { decisions: number; policySteps: number; holds: Record<string, number> };
    messages: Record<string, number>;
    obsMaxAbsDiff: number;
    meanQc: number | null;
    droppedEpisodes: number;
  };
  assert.equal(s.env, 'panda-push-topple');
  assert.equal(s.trainedOn, 'panda-push-topple');
  assert.equal(s.steps, steps);
  assert.equal(s.filter, true);
  // One decision per state the sim published: each step, plus a fresh start after an episode the
  // sim dropped (a server restart on an overloaded machine; none in a normal run). The policy
  // acted on every one (no stale or bad state in the loop).
  const states = steps + s.droppedEpisodes;
  assert.equal(s.node.decisions, states);
  assert.equal(s.node.policySteps, states);
  // Six state topics per state, one command per decision plus the final hold when the node stops.
  for (const topic of ['/joint_states', '/csc/ee_pose', '/csc/ee_twist', '/csc/block_pose', '/csc/block_twist', '/csc/goal']) assert.equal(s.messages[topic], states, topic);
  assert.equal(s.messages['/servo_node/delta_twist_cmds'], states + 1);
  assert.equal(s.messages['/csc/critic'], states);
  assert.ok((s.messages['/diagnostics'] ?? 0) >= 1);
  // The observation the node built from ROS messages is the sim's (float32 rounding only).
  assert.ok(s.obsMaxAbsDiff < 1e-5, `obs differs from the sim's by ${s.obsMaxAbsDiff} (sim episodes dropped: ${s.droppedEpisodes})`);
  assert.ok(s.meanQc !== null && s.meanQc > 0 && s.meanQc < 1);
  // The MCAP file the node wrote reads back: every command, the critic's numbers, the transitions.
  const twists = await readMcapMessages(bag, ['/servo_node/delta_twist_cmds']);
  assert.equal(twists.length, states + 1);
  assert.equal(twists[0]!.type, 'geometry_msgs/msg/TwistStamped');
  const critic = await readMcapMessages(bag, ['/csc/critic']);
  assert.equal(critic.length, states);
  assert.equal((critic[0]!.message as { data: Float64Array }).data[1], 0.5);
  const transitions = await readMcapTransitions(bag);
  assert.equal(transitions.length, steps);
  assert.equal(transitions[0]!.obs.length, 23);
  // Each transition's action is the executed twist in action units (1 m/s per unit).
  const tw = twists[0]!.message as { twist: { linear: { x: number } } };
  assert.ok(Math.abs(transitions[0]!.action[0]! - tw.twist.linear.x) < 1e-6);
});

test('csc node without a sourced ROS 2 says how to get it; bad flags exit 2', () => {
  const r = csc('node', '--checkpoint', 'x', '--profile', 'hardware/panda.yaml', '--ros-args', '--params-file', 'p.yaml');
  assert.equal(r.code, 1);
  assert.match(r.err, /ROS 2 is not sourced .*source \/opt\/ros\/jazzy\/setup\.bash.*scripts\/setup-ros\.sh/);
  assert.match(r.err, /csc node --sim <env>/);
  const sim = csc('node', '--sim', 'point-nav', '--checkpoint', 'x');
  assert.equal(sim.code, 2);
  assert.match(sim.err, /--sim point-nav: no profile ships for it; pass --profile FILE/);
  assert.equal(csc('node', '--episodes', '2', '--checkpoint', 'x').code, 2);
  assert.match(csc('--help').out, /node {6}the ROS 2 safety node/);
});
