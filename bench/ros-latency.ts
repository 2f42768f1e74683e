/**
 * ROS safety node latency: state in → command out through the loopback transport (every message
 * CDR-encoded and decoded), Panda profile, 100-candidate filter, states arriving at 1 kHz. The
 * latency of one sample is from the first of the six state messages being published to the
 * TwistStamped arriving at the robot's subscription. Reference in the same run: the bare filter
 * decision (`DeployedPolicy.act` on one state), and the node with CDR switched off.
 *
 *   node --import tsx bench/ros-latency.ts [--samples 3000] [--backend auto|wasm|cpu]
 *
 * Two filter cases: `accept` (ε = 2: the first probe pass accepts) and `exhausted` (ε = −1: all
 * 100 candidates scored, two critic passes — the worst case). The policy and critic have the
 * default sizes with random weights: the cost of a decision does not depend on the weights.
 * Goal: p99 ≤ 1 ms (the Franka control period). Writes bench/results/ros-latency.json.
 *
 * With `--graph` (a ROS 2 from scripts/setup-ros.sh or sourced, rclnodejs installed) the same run
 * also measures on a real ROS 2 graph (CycloneDDS, localhost, a private domain): an rclpy robot in
 * its own process (bench/ros_graph_robot.py) publishes the six state messages as sets at up to
 * 1 kHz, one set in flight, for `--graph-seconds` (default 60) and times each set until the
 * TwistStamped comes back, first against a bare rclpy echo (the DDS + rclpy round trip alone),
 * then against `csc node` (rclnodejs, fresh-state trigger, accept case ε = 2). Goal there: node
 * p99 ≤ 1 ms above the bare round trip's p99.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CscLearner } from '../src/algos/csc.ts';
import { resolveConfig } from '../src/algos/config.ts';
import { makeVecEnv } from '../src/envs/make.ts';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG } from '../src/algos/config.ts';
import type { DeployedPolicy } from '../src/algos/deploy.ts';
import { type BackendChoice, initBackend } from '../src/nn/backend.ts';
import { LoopbackGraph, LoopbackTransport } from '../src/ros/loopback.ts';
import { type PandaProfile, loadProfile } from '../src/ros/profile.ts';
import { SafetyNode } from '../src/ros/safety-node.ts';
import { PANDA_SPEC, freshActor } from '../test/ros-helpers.ts';
import { Proc, findRos, rosCache, sourced } from '../test/ros-graph-env.ts';
import { gitCommit, machineInfo } from './provenance.ts';

const GOAL_P99_MS = 1;
const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '3000' },
    backend: { type: 'string', default: 'auto' },
    out: { type: 'string', default: 'bench/results/ros-latency.json' },
    graph: { type: 'boolean', default: false },
    'graph-seconds': { type: 'string', default: '60' },
  },
});
const samples = Number(values.samples);
const backend = await initBackend(values.backend as BackendChoice);
const profile = (await loadProfile('hardware/panda.yaml')) as PandaProfile;

const spec = PANDA_SPEC;
// The default-size policy and critic with fresh weights: a decision costs the same whatever they are.
const actor = (epsilon: number): DeployedPolicy => freshActor(spec, epsilon, DEFAULT_CONFIG.filterCandidates);

interface Percentiles {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50Ms: q(0.5), p99Ms: q(0.99), maxMs: s[s.length - 1]!, meanMs: s.reduce((a, b) => a + b, 0) / s.length };
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** The bare filter decision on one state. */
function bareFilter(policy: DeployedPolicy): Percentiles {
  const obs = new Float32Array(spec.obsSize).map((_, i) => 0.01 * i);
  for (let i = 0; i < 200; i++) policy.act(obs, 1);
  const xs: number[] = [];
  for (let i = 0; i < samples; i++) {
    obs[0] = 0.001 * (i % 100);
    const t0 = nowMs();
    policy.act(obs, 1);
    xs.push(nowMs() - t0);
  }
  return percentiles(xs);
}

/** The node on the loopback, states published at 1 kHz (a busy-waited schedule). */
async function node(policy: DeployedPolicy, cdr: boolean): Promise<Percentiles & { inputHz: number; commands: number }> {
  const graph = new LoopbackGraph(cdr);
  const nodeT = new LoopbackTransport(graph);
  const robotT = new LoopbackTransport(graph, { nodeName: 'robot' });
  const n = new SafetyNode({ transport: nodeT, profile, policy, trigger: 'fresh-state', stateTimeoutMs: 60_000 });
  const s = profile.state;
  const o = profile.taskFrameOriginM;
  const js = robotT.createPublisher(s.jointStates, 'sensor_msgs/msg/JointState');
  const eePose = robotT.createPublisher(s.eePose, 'geometry_msgs/msg/PoseStamped');
  const eeTwist = robotT.createPublisher(s.eeTwist, 'geometry_msgs/msg/TwistStamped');
  const objPose = robotT.createPublisher(s.objectPose, 'geometry_msgs/msg/PoseStamped');
  const objTwist = robotT.createPublisher(s.objectTwist, 'geometry_msgs/msg/TwistStamped');
  const goal = robotT.createPublisher(s.goal, 'geometry_msgs/msg/PointStamped');
  let arrived = 0;
  let lastArrivalMs = 0;
  robotT.subscribe(profile.command.topic, 'geometry_msgs/msg/TwistStamped').subscribe(() => {
    arrived++;
    lastArrivalMs = nowMs();
  });
  n.start();
  const zero = { x: 0, y: 0, z: 0 };
  const publishState = (i: number): void => {
    const header = { stamp: robotT.now(), frame_id: 'panda_link0' };
    const x = -0.1 + 0.0001 * (i % 200);
    js.publish({ header, name: ['panda_joint1', 'panda_joint2', 'panda_joint3', 'panda_joint4', 'panda_joint5', 'panda_joint6', 'panda_joint7'], position: [0, -0.78, 0, -2.36, 0, 1.57, 0.78], velocity: [0, 0, 0, 0, 0, 0, 0], effort: [0, 0, 0, 0, 0, 0, 0] });
    eePose.publish({ header, pose: { position: { x: x + o[0], y: o[1], z: 0.2 + o[2] }, orientation: { x: 1, y: 0, z: 0, w: 0 } } });
    eeTwist.publish({ header, twist: { linear: { x: 0.01, y: 0, z: 0 }, angular: zero } });
    objPose.publish({ header, pose: { position: { x: -0.08 + o[0], y: o[1], z: 0.05 + o[2] }, orientation: { x: 0, y: 0, z: 0, w: 1 } } });
    objTwist.publish({ header, twist: { linear: zero, angular: zero } });
    goal.publish({ header, point: { x: 0.1 + o[0], y: o[1], z: o[2] } });
  };
  for (let i = 0; i < 200; i++) publishState(i);
  const xs: number[] = [];
  const periodMs = 1;
  const start = nowMs();
  let next = start;
  for (let i = 0; i < samples; i++) {
    while (nowMs() < next) {
      // busy-wait to the next 1 ms slot (timers are too coarse for 1 kHz)
    }
    next += periodMs;
    const before = arrived;
    const t0 = nowMs();
    publishState(i);
    if (arrived !== before + 1) throw new Error(`sample ${i}: ${arrived - before} commands for one state`);
    xs.push(lastArrivalMs - t0);
    // Yield now and then so the event loop (and GC) run as they would in a live node.
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  const inputHz = samples / ((nowMs() - start) / 1000);
  n.stop();
  await nodeT.shutdown();
  await robotT.shutdown();
  return { ...percentiles(xs), inputHz, commands: arrived };
}

const cases: Record<string, unknown> = {};
for (const [name, epsilon] of [
  ['accept', 2],
  ['exhausted', -1],
] as const) {
  const policy = actor(epsilon);
  const bare = bareFilter(policy);
  const withCdr = await node(policy, true);
  const noCdr = await node(policy, false);
  const tried = policy.act(new Float32Array(spec.obsSize), 1).tried[0];
  policy.dispose();
  cases[name] = { epsilon, candidatesTried: tried, bareFilter: bare, nodeLoopbackCdr: withCdr, nodeLoopbackNoCdr: noCdr, nodeOverheadP50Ms: withCdr.p50Ms - bare.p50Ms, goalMet: withCdr.p99Ms <= GOAL_P99_MS };
  console.log(name, JSON.stringify({ bare: bare.p50Ms.toFixed(3) + '/' + bare.p99Ms.toFixed(3), node: withCdr.p50Ms.toFixed(3) + '/' + withCdr.p99Ms.toFixed(3), noCdr: noCdr.p50Ms.toFixed(3) + '/' + noCdr.p99Ms.toFixed(3), inputHz: Math.round(withCdr.inputHz) }));
}

/** One `ros_graph_robot.py measure` run against whatever answers on the command topic. */
async function measureOnGraph(env: NodeJS.ProcessEnv, python: string, seconds: number): Promise<Record<string, number>> {
  const m = new Proc('ros_graph_robot measure', python, ['bench/ros_graph_robot.py', 'measure', '--seconds', String(seconds)], env, process.cwd());
  const r = await m.exited;
  const line = m.json().at(-1);
  if (r.code !== 0 || line === undefined) throw new Error(`ros_graph_robot.py measure failed (${r.code}):\n${m.tail()}`);
  return line as Record<string, number>;
}

async function realGraph(seconds: number): Promise<Record<string, unknown>> {
  const found = findRos(process.env, rosCache(), process.cwd());
  if (!found.ok) throw new Error(`--graph: ${found.reason}`);
  const env = sourced({ ...process.env, ROS_DOMAIN_ID: String(100 + (process.pid % 100)), ROS_AUTOMATIC_DISCOVERY_RANGE: 'LOCALHOST', PYTHONUNBUFFERED: '1' }, found.setupBash === null ? [] : [found.setupBash]);
  const python = found.setupBash === null ? 'python3' : '/usr/bin/python3';
  const dir = await mkdtemp(join(tmpdir(), 'csc-ros-latency-'));
  try {
    // A checkpoint in the real format (fresh weights) and the Panda profile on the fresh-state trigger.
    const vec = await makeVecEnv('panda-push-topple', 1);
    const ckpt = join(dir, 'ckpt');
    try {
      const learner = new CscLearner(resolveConfig({ env: 'panda-push-topple', numEnvs: 1 }), vec);
      await learner.save(ckpt);
      learner.dispose();
    } finally {
      await vec.close();
    }
    const profileFile = join(dir, 'panda.yaml');
    writeFileSync(profileFile, readFileSync('hardware/panda.yaml', 'utf8').replace(/^trigger: timer/m, 'trigger: fresh-state').replace(/^ {2}start: true/m, '  start: false'));
    const echo = new Proc('echo', python, ['bench/ros_graph_robot.py', 'echo'], env, process.cwd());
    await echo.until('ready', () => echo.json().find((j) => j.ready === true));
    const bare = await measureOnGraph(env, python, seconds);
    await echo.stop();
    console.log('graph bare rclpy echo', JSON.stringify(bare));
    const node = new Proc('csc node', process.execPath, ['bin/csc.mjs', 'node', '--checkpoint', ckpt, '--profile', profileFile, '--epsilon', '2'], env, process.cwd());
    let viaNode: Record<string, number>;
    try {
      await node.until('its start line', () => node.lines.find((l) => l.startsWith('csc node: panda')));
      viaNode = await measureOnGraph(env, python, seconds);
    } finally {
      await node.stop();
    }
    console.log('graph csc node', JSON.stringify(viaNode));
    const overP99 = (viaNode.p99Ms ?? Number.NaN) - (bare.p99Ms ?? Number.NaN);
    return {
      transport: 'rclnodejs ↔ rclpy over rmw_cyclonedds_cpp, localhost',
      rosDistro: env.ROS_DISTRO ?? null,
      seconds,
      bareRclpyEcho: bare,
      node: viaNode,
      nodeOverP50Ms: (viaNode.p50Ms ?? Number.NaN) - (bare.p50Ms ?? Number.NaN),
      nodeOverP99Ms: overP99,
      goal: 'node p99 ≤ 1 ms above the bare round trip p99',
      goalMet: overP99 <= 1,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const graph = values.graph ? await realGraph(Number(values['graph-seconds'])) : null;

const result = {
  bench: 'ros-latency',
  commit: gitCommit(),
  date: new Date().toISOString(),
  machine: machineInfo(),
  backend,
  setup: { profile: 'hardware/panda.yaml', transport: 'loopback', trigger: 'fresh-state', inputHzTarget: 1000, samples, filterCandidates: DEFAULT_CONFIG.filterCandidates, filterProbe: DEFAULT_CONFIG.filterProbe, policyHidden: DEFAULT_CONFIG.policyHidden, criticHidden: DEFAULT_CONFIG.criticHidden, statesPerSample: 6 },
  goalP99Ms: GOAL_P99_MS,
  cases,
  ...(graph !== null ? { graph } : {}),
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
