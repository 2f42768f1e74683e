/**
 * The safety node on virtual time (RxJS TestScheduler): control rate, watchdog, e-stop latch,
 * failure latch, bad input, the fresh-state trigger, the critic topic and diagnostics. The policy
 * is a real GaussianPolicy + CQL critic behind the training filter (random weights).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { initBackend } from '../src/nn/backend.ts';
import { LoopbackGraph, LoopbackTransport } from '../src/ros/loopback.ts';
import type { DiagnosticArray, Float64MultiArray, TwistStamped } from '../src/ros/messages.ts';
import { type PandaProfile, loadProfile } from '../src/ros/profile.ts';
import { type Decision, NodeSetupError, SafetyNode } from '../src/ros/safety-node.ts';
import type { DeployedPolicy } from '../src/algos/deploy.ts';
import type { RosPublisher } from '../src/ros/transport.ts';
import { PANDA_SPEC, type PandaWorld, freshActor, pandaRobot, pandaWorld } from './ros-helpers.ts';

let profile: PandaProfile;
let actor: DeployedPolicy;

before(async () => {
  await initBackend('auto');
  profile = (await loadProfile('hardware/panda.yaml')) as PandaProfile;
  actor = freshActor(PANDA_SPEC, 1.0);
});

interface Rig {
  sched: TestScheduler;
  node: SafetyNode;
  decisions: Decision[];
  twists: { atMs: number; msg: TwistStamped }[];
  critic: Float64MultiArray[];
  diagnostics: DiagnosticArray[];
  /** Publishes the robot state at `atMs`. */
  state(atMs: number, w?: PandaWorld): void;
  /** Publishes the robot state every `everyMs` in [fromMs, toMs]. */
  stream(fromMs: number, toMs: number, everyMs: number, w?: PandaWorld): void;
  at(atMs: number, f: () => void): void;
  run(untilMs: number): void;
  estop: RosPublisher<'std_msgs/msg/Bool'>;
  /** Publishes only the given state topics, now. */
  partial(w: PandaWorld, topics: readonly string[]): void;
  reset: RosPublisher<'std_msgs/msg/Empty'>;
}

function rig(options: { trigger?: 'timer' | 'fresh-state'; policy?: DeployedPolicy; profile?: PandaProfile } = {}): Rig {
  const sched = new TestScheduler((a, b) => {
    assert.deepEqual(a, b);
  });
  const graph = new LoopbackGraph();
  const p = options.profile ?? profile;
  const nodeT = new LoopbackTransport(graph, { scheduler: sched });
  const robotT = new LoopbackTransport(graph, { nodeName: 'robot', scheduler: sched });
  const node = new SafetyNode({ transport: nodeT, profile: p, policy: options.policy ?? actor, scheduler: sched, ...(options.trigger !== undefined ? { trigger: options.trigger } : {}) });
  const r: Rig = {
    estop: robotT.createPublisher(p.topics.estop, 'std_msgs/msg/Bool'),
    reset: robotT.createPublisher(p.topics.reset, 'std_msgs/msg/Empty'),
    sched,
    node,
    decisions: [],
    twists: [],
    critic: [],
    diagnostics: [],
    partial: (w, topics) => {
      publishState(w, topics);
    },
    state: (atMs, w = pandaWorld()) => {
      r.at(atMs, () => {
        publishState(w);
      });
    },
    stream: (fromMs, toMs, everyMs, w) => {
      for (let t = fromMs; t <= toMs; t += everyMs) r.state(t, w);
    },
    at: (atMs, f) => {
      sched.schedule(f, atMs);
    },
    run: (untilMs) => {
      sched.maxFrames = untilMs;
      sched.flush();
    },
  };
  robotT.subscribe(p.command.topic, 'geometry_msgs/msg/TwistStamped').subscribe((m) => r.twists.push({ atMs: sched.now(), msg: m }));
  robotT.subscribe(p.topics.critic, 'std_msgs/msg/Float64MultiArray').subscribe((m) => r.critic.push(m));
  robotT.subscribe(p.topics.diagnostics, 'diagnostic_msgs/msg/DiagnosticArray').subscribe((m) => r.diagnostics.push(m));
  const publishState = pandaRobot(robotT, p);
  node.decisions$.subscribe((d) => r.decisions.push(d));
  node.start();
  return r;
}

const kinds = (ds: readonly Decision[]): string[] => ds.map((d) => `${d.atMs}:${d.hold ?? 'policy'}`);
const speed = (m: TwistStamped): number => Math.hypot(m.twist.linear.x, m.twist.linear.y, m.twist.linear.z);

test('timer trigger: one command per control period (20 Hz), each within the hard limits', () => {
  const r = rig();
  r.stream(0, 1000, 10);
  r.run(1000);
  assert.deepEqual(
    r.decisions.map((d) => d.atMs),
    Array.from({ length: 20 }, (_, i) => 50 * (i + 1)),
  );
  assert.ok(r.decisions.every((d) => d.hold === null), kinds(r.decisions).join(' '));
  assert.equal(r.twists.length, 20);
  for (const { msg } of r.twists) {
    assert.ok(speed(msg) <= profile.limits.maxLinearVelMPerS + 1e-12);
    assert.equal(msg.header.frame_id, 'panda_link0');
    assert.deepEqual(msg.twist.angular, { x: 0, y: 0, z: 0 });
  }
  // Rate limit: consecutive commands differ by at most a·T per axis.
  for (let i = 1; i < r.twists.length; i++) {
    const a = r.twists[i - 1]!.msg.twist.linear;
    const b = r.twists[i]!.msg.twist.linear;
    for (const k of ['x', 'y', 'z'] as const) assert.ok(Math.abs(b[k] - a[k]) <= profile.limits.maxLinearAccelMPerS2 * 0.05 + 1e-12);
  }
  // Stamps come from the node's clock (virtual time).
  assert.deepEqual(r.twists[0]!.msg.header.stamp, { sec: 0, nanosec: 50_000_000 });
});

test('watchdog: no state yet → hold "waiting"; state older than stateTimeoutMs → zero twist and the stale topic named; recovery when state returns', () => {
  const r = rig();
  r.stream(120, 300, 10);
  r.stream(600, 800, 10);
  r.run(800);
  const at = (ms: number): Decision => r.decisions.find((d) => d.atMs === ms)!;
  assert.equal(at(100).hold, 'waiting');
  assert.match(at(100).reason, /waiting for \/joint_states/);
  assert.equal(at(150).hold, null);
  // Last state at 300 ms, timeout 100 ms: at 350 it is 50 ms old, at 400 it reached the timeout.
  assert.equal(at(350).hold, null);
  assert.equal(at(400).hold, 'stale');
  assert.match(at(400).reason, /\/joint_states is stale: last message 100 ms ago, timeout 100 ms/);
  assert.equal(at(600).hold, null);
  const stale = r.twists.filter((t) => t.atMs >= 400 && t.atMs <= 550);
  assert.equal(stale.length, 4);
  assert.ok(stale.every((t) => speed(t.msg) === 0));
  assert.equal(r.node.stats.holds.stale, 4);
});

test('e-stop: true holds at once and latches; only an explicit false releases it', () => {
  const r = rig();
  r.stream(0, 1000, 10);
  r.at(20, () => {
    r.estop.publish({ data: false }); // a release without a press changes nothing
  });
  r.at(205, () => {
    r.estop.publish({ data: true });
  });
  r.at(305, () => {
    r.estop.publish({ data: true });
  });
  r.at(502, () => {
    r.estop.publish({ data: false });
  });
  r.run(700);
  const ks = kinds(r.decisions);
  assert.ok(ks.includes('50:policy') && ks.includes('200:policy'));
  // The press itself triggers an immediate hold, between control ticks.
  assert.ok(ks.includes('205:estop'), ks.join(' '));
  for (const t of [250, 300, 305, 350, 400, 450, 500]) assert.ok(ks.includes(`${t}:estop`), `${t}: ${ks.join(' ')}`);
  assert.ok(ks.includes('550:policy'));
  assert.ok(r.twists.filter((t) => t.atMs >= 205 && t.atMs <= 500).every((t) => speed(t.msg) === 0));
  assert.match(r.decisions.find((d) => d.hold === 'estop')!.reason, /e-stop latched on \/csc\/estop \(publish false to release\)/);
});

test('failure detector: a toppled block latches a hold until a reset message, even if the block stands again', () => {
  const r = rig();
  const tilted = pandaWorld();
  const a = (60 * Math.PI) / 180; // 60° about x
  tilted.blockQ = [Math.sin(a / 2), 0, 0, Math.cos(a / 2)];
  r.stream(0, 190, 10);
  r.stream(200, 290, 10, tilted);
  r.stream(300, 600, 10);
  r.at(452, () => {
    r.reset.publish({});
  });
  r.run(600);
  const ks = kinds(r.decisions);
  assert.ok(ks.includes('150:policy'));
  assert.ok(ks.includes('200:failure') && ks.includes('400:failure') && ks.includes('450:failure'), ks.join(' '));
  assert.ok(ks.includes('500:policy'));
  assert.match(r.decisions.find((d) => d.hold === 'failure')!.reason, /the block toppled: its up axis tilts 60\.0° > 45° \(latched until a message on \/csc\/reset\)/);
});

test('bad input: NaN or implausible state holds with the topic named; the policy never sees it', () => {
  const r = rig();
  const nan = pandaWorld();
  nan.eeV = [0, Number.NaN, 0];
  const fast = pandaWorld();
  fast.blockV = [5, 0, 0];
  r.stream(0, 90, 10);
  r.stream(100, 140, 10, nan);
  r.stream(150, 190, 10, fast);
  r.stream(200, 300, 10);
  r.run(300);
  const at = (ms: number): Decision => r.decisions.find((d) => d.atMs === ms)!;
  assert.equal(at(100).hold, 'invalid-input');
  assert.match(at(100).reason, /\/csc\/ee_twist linear\[1\] is NaN/);
  assert.equal(at(150).hold, 'invalid-input');
  assert.match(at(150).reason, /\/csc\/block_twist: speed 5\.000 m\/s above the plausible 2 m\/s/);
  assert.equal(at(200).hold, null);
});

test('fresh-state trigger: one decision per complete set of new state messages, watchdog holds when state stops', () => {
  const r = rig({ trigger: 'fresh-state' });
  for (const t of [10, 30, 35, 70]) r.state(t);
  r.run(400);
  const ks = kinds(r.decisions);
  // A decision at each complete set; then, 100 ms after the last, holds at the control rate.
  assert.deepEqual(ks.slice(0, 4), ['10:policy', '30:policy', '35:policy', '70:policy']);
  assert.deepEqual(ks.slice(4), ['170:stale', '220:stale', '270:stale', '320:stale', '370:stale']);
  // Five of the six topics anew do not make a complete set; the sixth does.
  const p = rig({ trigger: 'fresh-state' });
  p.state(10);
  const allButGoal = [profile.state.jointStates, profile.state.eePose, profile.state.eeTwist, profile.state.objectPose, profile.state.objectTwist];
  p.at(20, () => {
    p.partial(pandaWorld(), allButGoal);
  });
  p.at(40, () => {
    p.partial(pandaWorld(), [profile.state.goal]);
  });
  p.run(60);
  assert.deepEqual(kinds(p.decisions), ['10:policy', '40:policy']);
});

test('critic topic: [Q_C, ε, tried, fallback, hold] per decision; diagnostics at 1 Hz with level and reason', () => {
  const r = rig({ policy: freshActor(PANDA_SPEC, -1, 100, 3), profile: { ...profile, safety: { onExhausted: 'fallback' } } });
  r.stream(100, 2100, 10);
  r.run(2100);
  assert.equal(r.critic.length, r.decisions.length);
  const first = Array.from(r.critic[0]!.data);
  assert.deepEqual(first.slice(1), [-1, 0, 0, 1]); // waiting hold at 50 ms: no policy step
  const acting = Array.from(r.critic[2]!.data);
  // ε = −1: no candidate can pass (Q_C ∈ [0,1]), all 100 are tried and the lowest is used.
  assert.ok(acting[0]! > 0 && acting[0]! < 1);
  assert.deepEqual(acting.slice(1), [-1, 100, 1, 0]);
  assert.equal(r.critic[0]!.layout.dim[0]!.label, 'qc,epsilon,candidates_tried,fallback_used,hold');
  // Diagnostics: the first decision and then once per second.
  assert.deepEqual(r.diagnostics.map((d) => d.header.stamp.sec + d.header.stamp.nanosec / 1e9), [0.05, 1.05, 2.05]);
  const st = r.diagnostics[1]!.status[0]!;
  assert.equal(st.level, 1); // WARN: fallback used
  assert.equal(st.hardware_id, 'panda');
  assert.match(st.message, /no candidate passed Q_C ≤ ε/);
  const v = Object.fromEntries(st.values.map((kv) => [kv.key, kv.value]));
  assert.equal(v.candidates_tried, '100');
  assert.equal(v.fallback_used, 'true');
  assert.equal(v.holds_waiting, '1');
  assert.equal(r.diagnostics[0]!.status[0]!.level, 1); // waiting
});

test('an exhausted filter: safety.onExhausted hold (default) holds, fallback executes the filter\'s fallback', () => {
  const world: PandaWorld = { ...pandaWorld(), ee: [-0.1, 0, 0.2] };
  const run = (onExhausted: 'hold' | 'fallback'): Rig => {
    // ε = −1: Q_C ∈ [0, 1], so every candidate is rejected and act() reports exhausted.
    const r = rig({ policy: freshActor(PANDA_SPEC, -1, 100, 3), profile: { ...profile, safety: { onExhausted } } });
    r.stream(10, 300, 10, world);
    r.run(300);
    return r;
  };
  assert.equal(profile.safety.onExhausted, 'hold'); // hardware/panda.yaml states the default
  const held = run('hold');
  const heldActing = held.decisions.filter((d) => d.hold !== 'waiting');
  assert.ok(heldActing.length >= 4);
  for (const d of heldActing) {
    assert.equal(d.hold, 'exhausted');
    assert.match(d.reason, /no candidate passed Q_C ≤ ε = -1 \(100 tried\); safety\.onExhausted is hold/);
    assert.equal(d.fallback, true);
  }
  assert.equal(held.node.stats.holds.exhausted, heldActing.length);
  assert.equal(held.node.stats.policySteps, 0);
  // Every command the robot saw is the hold: a zero twist.
  for (const t of held.twists) assert.deepEqual(t.msg.twist.linear, { x: 0, y: 0, z: 0 });
  // The critic topic says both: the search was exhausted (fallback_used 1) and the node held.
  const last = Array.from(held.critic.at(-1)!.data);
  assert.deepEqual(last.slice(1), [-1, 100, 1, 1]);
  const diag = held.diagnostics.at(-1)!.status[0]!;
  assert.equal(diag.level, 1); // WARN, not ERROR: the filter worked, it found nothing safe enough
  assert.match(diag.message, /^hold \(exhausted\)/);

  const fell = run('fallback');
  const acting = fell.decisions.filter((d) => d.hold !== 'waiting');
  assert.ok(acting.length >= 4);
  for (const d of acting) assert.equal(d.hold, null);
  assert.equal(fell.node.stats.fallbacks, acting.length);
  assert.ok(fell.twists.some((t) => Math.hypot(t.msg.twist.linear.x, t.msg.twist.linear.y, t.msg.twist.linear.z) > 0));
});

test('a checkpoint that does not fit the profile is refused with the reason', async () => {
  assert.throws(() => new SafetyNode({ transport: new LoopbackTransport(new LoopbackGraph()), profile, policy: freshActor({ ...PANDA_SPEC, id: 'point-nav' }, 0) }), (e: unknown) => e instanceof NodeSetupError && /trained on point-nav, but profile panda serves panda-push-topple, panda-push-boundary \(its field envs\)/.test(e.message));
  const names = [...PANDA_SPEC.obsNames];
  names[6] = 'something_else';
  assert.throws(() => new SafetyNode({ transport: new LoopbackTransport(new LoopbackGraph()), profile, policy: freshActor({ ...PANDA_SPEC, obsNames: names }, 0) }), /index 6 is something_else in the checkpoint, setpoint_lead_x_m in the node/);
  const laikago = await loadProfile('hardware/laikago.yaml');
  assert.throws(() => new SafetyNode({ transport: new LoopbackTransport(new LoopbackGraph()), profile: { ...profile, controlRateHz: 50 }, policy: actor }), /controlRateHz is 50, but panda-push-topple was trained at 20 Hz/);
  assert.throws(() => new SafetyNode({ transport: new LoopbackTransport(new LoopbackGraph()), profile: laikago, policy: actor }), NodeSetupError);
});
