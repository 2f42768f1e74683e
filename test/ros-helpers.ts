/**
 * Shared pieces of the ROS tests: a real (freshly initialised) policy + safety critic acting
 * through the training filter, a policy whose outputs a test scripts (NaN, ±Inf, huge), and a
 * robot that publishes Panda state on the profile's topics.
 */
import { PolicyActor, filterSettingsOf } from '../src/algos/actor.ts';
import { DEFAULT_CONFIG } from '../src/algos/config.ts';
import type { DeployedPolicy, FilterResult } from '../src/algos/deploy.ts';
import { SafetyCritic } from '../src/algos/safety-critic.ts';
import { Rng } from '../src/core/rng.ts';
import type { EnvSpec } from '../src/envs/env.ts';
import { GaussianPolicy } from '../src/nn/policy.ts';
import { LAIKAGO_OBS_NAMES } from '../src/ros/laikago.ts';
import type { Header } from '../src/ros/messages.ts';
import { PANDA_OBS_NAMES } from '../src/ros/panda.ts';
import type { PandaProfile } from '../src/ros/profile.ts';
import type { RosTransport } from '../src/ros/transport.ts';

export const PANDA_SPEC: EnvSpec = {
  id: 'panda-push-topple',
  obsSize: PANDA_OBS_NAMES.length,
  actSize: 3,
  actLow: [-1, -1, -1],
  actHigh: [1, 1, 1],
  obsNames: PANDA_OBS_NAMES,
  actNames: ['ee_vx_cmd', 'ee_vy_cmd', 'ee_vz_cmd'],
  maxEpisodeSteps: 500,
  controlPeriodS: 0.05,
  failureMeaning: 'the block topples',
};

export const LAIKAGO_SPEC: EnvSpec = {
  id: 'laikago-walk',
  obsSize: LAIKAGO_OBS_NAMES.length,
  actSize: 12,
  actLow: new Array<number>(12).fill(-1),
  actHigh: new Array<number>(12).fill(1),
  obsNames: LAIKAGO_OBS_NAMES,
  actNames: LAIKAGO_OBS_NAMES.slice(36).map((n) => n.replace('last_action_', '')),
  maxEpisodeSteps: 500,
  controlPeriodS: 0.02,
  failureMeaning: 'the robot fell',
};

/** A real policy + CQL critic (random weights, default sizes) behind the training filter. */
export function freshActor(spec: EnvSpec, epsilon: number, candidates = 100, seed = 1): DeployedPolicy {
  const rng = new Rng(seed);
  const c = DEFAULT_CONFIG;
  const policy = new GaussianPolicy({ obsSize: spec.obsSize, actSize: spec.actSize, hidden: c.policyHidden, activation: c.activation, initLogStd: c.initLogStd }, rng);
  const critic = new SafetyCritic({ obsSize: spec.obsSize, actSize: spec.actSize, hidden: c.criticHidden, activation: c.activation, lr: c.criticLr, alpha: c.cqlAlpha, gamma: c.gamma, targetTau: c.criticTargetTau }, rng);
  return new PolicyActor(spec, 'csc', policy, critic, epsilon, { ...filterSettingsOf(c), candidates, threshold: 'q' }, seed, () => {
    policy.dispose();
    critic.dispose();
  });
}

/** A policy whose next actions the test sets (any values, NaN and ±Inf included). */
export class ScriptedPolicy implements DeployedPolicy {
  readonly algo = 'scripted';
  readonly hasCritic = true;
  readonly epsilon = 0.01;
  next: Float32Array;
  qc = 0.005;
  constructor(readonly spec: EnvSpec) {
    this.next = new Float32Array(spec.actSize);
  }
  act(): FilterResult {
    return { actions: this.next.slice(), qc: Float32Array.of(this.qc), tried: Uint16Array.of(1), exhausted: Uint8Array.of(0) };
  }
  dispose(): void {}
}

export interface PandaWorld {
  ee: [number, number, number];
  eeV: [number, number, number];
  block: [number, number, number];
  blockQ: [number, number, number, number];
  blockV: [number, number, number];
  goal: [number, number];
}

/** A standing block in front of the hand, in the task frame. */
export function pandaWorld(): PandaWorld {
  return { ee: [-0.1, 0, 0.2], eeV: [0, 0, 0], block: [-0.08, 0, 0.05], blockQ: [0, 0, 0, 1], blockV: [0, 0, 0], goal: [0.1, 0] };
}

/** Publishes a Panda state on the profile's topics (positions offset by the task-frame origin). */
export function pandaRobot(t: RosTransport, profile: PandaProfile): (w: PandaWorld, only?: readonly string[]) => void {
  const s = profile.state;
  const o = profile.taskFrameOriginM;
  const js = t.createPublisher(s.jointStates, 'sensor_msgs/msg/JointState');
  const eePose = t.createPublisher(s.eePose, 'geometry_msgs/msg/PoseStamped');
  const eeTwist = t.createPublisher(s.eeTwist, 'geometry_msgs/msg/TwistStamped');
  const objPose = t.createPublisher(s.objectPose, 'geometry_msgs/msg/PoseStamped');
  const objTwist = t.createPublisher(s.objectTwist, 'geometry_msgs/msg/TwistStamped');
  const goal = t.createPublisher(s.goal, 'geometry_msgs/msg/PointStamped');
  const v3 = (a: readonly number[]): { x: number; y: number; z: number } => ({ x: a[0]!, y: a[1]!, z: a[2]! });
  const zero = { x: 0, y: 0, z: 0 };
  /** Publishes every state topic, or only the topics in `only`. */
  return (w, only) => {
    const header: Header = { stamp: t.now(), frame_id: 'panda_link0' };
    const on = (topic: string): boolean => only === undefined || only.includes(topic);
    if (on(s.jointStates)) js.publish({ header, name: ['panda_joint1'], position: [0], velocity: [0], effort: [0] });
    if (on(s.eePose)) eePose.publish({ header, pose: { position: v3(w.ee.map((x, i) => x + o[i]!)), orientation: { x: 1, y: 0, z: 0, w: 0 } } });
    if (on(s.eeTwist)) eeTwist.publish({ header, twist: { linear: v3(w.eeV), angular: zero } });
    if (on(s.objectPose)) objPose.publish({ header, pose: { position: v3(w.block.map((x, i) => x + o[i]!)), orientation: { x: w.blockQ[0], y: w.blockQ[1], z: w.blockQ[2], w: w.blockQ[3] } } });
    if (on(s.objectTwist)) objTwist.publish({ header, twist: { linear: v3(w.blockV), angular: zero } });
    if (on(s.goal)) goal.publish({ header, point: v3([w.goal[0] + o[0], w.goal[1] + o[1], o[2]]) });
  };
}
