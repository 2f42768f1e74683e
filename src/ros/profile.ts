/**
 * Robot profiles (`hardware/*.yaml`): topics, how observations are built, how actions become
 * commands, hard limits, control rate, state timeout, failure detection, e-stop. Loaded once at
 * start and validated field by field; every error names the file, the field path, what was found
 * and what was expected. Field reference: docs/ros.md.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';

export type Vec3 = readonly [number, number, number];

/** Topics every profile has. */
export interface CommonTopics {
  /** std_msgs/Bool: true latches the hold, an explicit false afterwards releases it. */
  readonly estop: string;
  /** std_msgs/Empty: a new episode (clears a latched failure, re-anchors the virtual setpoint). */
  readonly reset: string;
  /** std_msgs/Float64MultiArray: [Q_C, ε, candidates tried, fallback used, hold] per decision. */
  readonly critic: string;
  /** diagnostic_msgs/DiagnosticArray for operators (rqt_robot_monitor). */
  readonly diagnostics: string;
}

/**
 * Learning on the robot (`csc train --env ros:<profile>`, src/envs/ros.ts). Optional in a profile;
 * without it the defaults below apply (the training sims' values).
 */
export interface LearningSettings<R> {
  /** Episodes are truncated after this many steps (default 500, the sims'). */
  readonly maxEpisodeSteps: number;
  /** How long to wait, after requesting a new episode, for state that passes the failure detector. */
  readonly resetTimeoutS: number;
  /** Optional std_msgs/Bool: a `true` since the last step marks the step a failure (besides the detector). */
  readonly failureTopic: string | null;
  readonly reward: R;
}

/** panda_push.py's reward, computed from the observation (docs/ros.md "Learning on the robot"). */
export interface PandaReward {
  /** Per metre the block moves toward the goal (x, y). */
  readonly pushPerM: number;
  /** Per metre the hand moves toward the block. */
  readonly reachPerM: number;
  /** Added on success, which ends the episode. */
  readonly successBonus: number;
  /** Success: block centre within this distance (x, y) of the goal. */
  readonly goalRadiusM: number;
}

/** Laikago walking reward from the observation: weight × forward velocity + alive bonus. */
export interface LaikagoReward {
  readonly forwardVelocityWeight: number;
  readonly aliveBonus: number;
}

export const DEFAULT_PANDA_LEARNING: LearningSettings<PandaReward> = { maxEpisodeSteps: 500, resetTimeoutS: 300, failureTopic: null, reward: { pushPerM: 50, reachPerM: 10, successBonus: 10, goalRadiusM: 0.03 } };
export const DEFAULT_LAIKAGO_LEARNING: LearningSettings<LaikagoReward> = { maxEpisodeSteps: 500, resetTimeoutS: 300, failureTopic: null, reward: { forwardVelocityWeight: 1, aliveBonus: 0.02 } };

interface ProfileBase {
  /** Profile name (diagnostics' hardware_id). */
  readonly name: string;
  /** Sim env ids whose policies this profile can run (the checkpoint's env must be one). */
  readonly envs: readonly string[];
  /** Command rate; must equal the training env's control rate. */
  readonly controlRateHz: number;
  /** A state topic older than this (receipt time) makes the node hold. */
  readonly stateTimeoutMs: number;
  /** `timer`: decide at the control rate; `fresh-state`: decide when every state topic has a new message (sim in the loop, benchmarks). */
  readonly trigger: 'timer' | 'fresh-state';
  readonly diagnosticsRateHz: number;
  readonly topics: CommonTopics;
  readonly safety: SafetySettings;
}

/**
 * What the node does when the filter rejects every candidate (`FilterResult.exhausted`): `hold`
 * (default) sends the profile's hold command; `fallback` executes the action the filter returns
 * for an exhausted search (today the candidate with the lowest Q_C), through the hard limits.
 */
export type OnExhausted = 'hold' | 'fallback';

/** The optional `safety` section of a profile. */
export interface SafetySettings {
  readonly onExhausted: OnExhausted;
}

export const DEFAULT_SAFETY: SafetySettings = { onExhausted: 'hold' };

/**
 * Which MoveIt Servo start call the node makes: `auto` picks by ROS_DISTRO (foxy … iron:
 * `start_servo`, std_srvs/Trigger; jazzy and later: `switch_command_type`,
 * moveit_msgs/srv/ServoCommandType with TWIST).
 */
export type ServoInterface = 'auto' | 'start_servo' | 'switch_command_type';

/** MoveIt Servo, the consumer of the Panda's twist commands (optional `servo` section). */
export interface ServoSettings {
  /** Start Servo before commanding (false: the commands go to something else). */
  readonly start: boolean;
  /** Servo's node name; its services are `<node>/start_servo` or `<node>/switch_command_type`. */
  readonly node: string;
  readonly interface: ServoInterface;
  /** Time between start attempts until Servo answers. */
  readonly retryPeriodS: number;
}

export const DEFAULT_SERVO: ServoSettings = { start: true, node: '/servo_node', interface: 'auto', retryPeriodS: 1 };

export interface PandaProfile extends ProfileBase {
  readonly robot: 'panda';
  readonly state: {
    /** sensor_msgs/JointState: robot liveness (must stay fresh); finite positions checked. */
    readonly jointStates: string;
    /** geometry_msgs/PoseStamped of the end effector, in the frame of `taskFrameOriginM`. */
    readonly eePose: string;
    /** geometry_msgs/TwistStamped: end-effector linear velocity. */
    readonly eeTwist: string;
    /** geometry_msgs/PoseStamped of the block (object tracker). */
    readonly objectPose: string;
    /** geometry_msgs/TwistStamped of the block. */
    readonly objectTwist: string;
    /** geometry_msgs/PointStamped: the push goal (x, y used). */
    readonly goal: string;
  };
  /** Origin of the training env's task frame (table-top centre) in the pose messages' frame; axes aligned. */
  readonly taskFrameOriginM: Vec3;
  readonly command: {
    /** geometry_msgs/TwistStamped (MoveIt Servo's twist input by default). */
    readonly topic: string;
    readonly frameId: string;
    /** m/s per unit of action: robosuite OSC moves 0.05 m per 0.05 s step for an action of 1. */
    readonly velocityPerActionUnitMPerS: number;
  };
  readonly limits: {
    /** Norm of the commanded linear velocity. */
    readonly maxLinearVelMPerS: number;
    /** Per-axis change of the command per second (rate limit). */
    readonly maxLinearAccelMPerS2: number;
    /** Workspace box of the end effector in the task frame: no command moves it out. */
    readonly workspaceMinM: Vec3;
    readonly workspaceMaxM: Vec3;
    /** Input plausibility: speeds above this are treated as a sensor fault. */
    readonly maxPlausibleSpeedMPerS: number;
  };
  /** The training env's OSC setpoint, reproduced by the node for the observation (docs/ros.md). */
  readonly virtualSetpoint: {
    readonly minM: Vec3;
    readonly maxM: Vec3;
    readonly maxLeadM: number;
  };
  readonly failure: {
    /** The block counts as toppled beyond this tilt of its up axis from vertical. */
    readonly objectTiltMaxDeg: number;
  };
  readonly servo: ServoSettings;
  readonly learning: LearningSettings<PandaReward>;
}

export interface LaikagoProfile extends ProfileBase {
  readonly robot: 'laikago';
  readonly state: {
    /** sensor_msgs/JointState with the 12 joints (matched by name). */
    readonly jointStates: string;
    /** sensor_msgs/Imu: orientation and angular velocity of the REP-103 body frame. */
    readonly imu: string;
    /** nav_msgs/Odometry: base height (pose z) and body-frame linear velocity (twist). */
    readonly odometry: string;
  };
  readonly joints: {
    /** ROS joint names in the observation's order (FR, FL, RR, RL × abduction, hip, knee). */
    readonly names: readonly string[];
    readonly nominalRad: readonly number[];
    readonly actionScaleRad: readonly number[];
    readonly lowerRad: readonly number[];
    readonly upperRad: readonly number[];
  };
  readonly command: {
    /** std_msgs/Float64MultiArray: [q* × 12, kp × 12, kd × 12] (docs/ros.md). */
    readonly topic: string;
    /** Hardware PD gains, never the simulator's. */
    readonly kpNmPerRad: number;
    readonly kdNmSPerRad: number;
  };
  readonly limits: {
    /** How fast a joint target may move (rad/s). */
    readonly maxTargetRateRadPerS: number;
    /** Input plausibility for joint speeds. */
    readonly maxPlausibleJointSpeedRadPerS: number;
  };
  readonly failure: {
    readonly maxTiltRad: number;
    readonly minBaseHeightM: number;
  };
  /** Damping command on a hold or fall: kp = 0, this kd, targets at the measured positions. */
  readonly hold: { readonly dampingKdNmSPerRad: number };
  readonly learning: LearningSettings<LaikagoReward>;
}

export type RobotProfile = PandaProfile | LaikagoProfile;

/** A profile field is missing or wrong: names file, field path, value and what was expected. */
export class ProfileError extends Error {
  override readonly name = 'ProfileError';
}

type Json = unknown;

/** Reads one YAML mapping with field paths for errors; rejects unknown keys (typos). */
class Fields {
  private readonly used = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly path: string,
    private readonly raw: Record<string, Json>,
  ) {}

  static root(file: string, raw: Json): Fields {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ProfileError(`${file}: expected a YAML mapping at the top level, got ${describe(raw)}`);
    return new Fields(file, '', raw as Record<string, Json>);
  }

  fail(key: string, value: Json, expected: string): never {
    throw new ProfileError(`${this.file}: ${this.at(key)}: got ${describe(value)}, expected ${expected}`);
  }

  at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  /** Whether an optional field is present (marks it as known). */
  has(key: string): boolean {
    this.used.add(key);
    return this.raw[key] !== undefined;
  }

  private get(key: string): Json {
    this.used.add(key);
    const v = this.raw[key];
    if (v === undefined) throw new ProfileError(`${this.file}: ${this.at(key)} is missing`);
    return v;
  }

  obj(key: string): Fields {
    const v = this.get(key);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, v, 'a mapping');
    return new Fields(this.file, this.at(key), v as Record<string, Json>);
  }

  str(key: string): string {
    const v = this.get(key);
    return typeof v === 'string' && v !== '' ? v : this.fail(key, v, 'a non-empty string');
  }

  topic(key: string): string {
    const v = this.str(key);
    return /^\/[A-Za-z0-9_/~{}]*$/.test(v) && !v.endsWith('/') ? v : this.fail(key, v, "an absolute ROS topic name such as '/robot/joint_states'");
  }

  bool(key: string): boolean {
    const v = this.get(key);
    return typeof v === 'boolean' ? v : this.fail(key, v, 'true or false');
  }

  oneOf<T extends string>(key: string, options: readonly T[]): T {
    const v = this.get(key);
    return typeof v === 'string' && (options as readonly string[]).includes(v) ? (v as T) : this.fail(key, v, `one of ${options.map((o) => `'${o}'`).join(', ')}`);
  }

  num(key: string, check: { gt?: number; ge?: number; le?: number } = {}): number {
    const v = this.get(key);
    const ok = typeof v === 'number' && Number.isFinite(v) && (check.gt === undefined || v > check.gt) && (check.ge === undefined || v >= check.ge) && (check.le === undefined || v <= check.le);
    if (ok) return v;
    const parts = [check.gt !== undefined ? `> ${check.gt}` : '', check.ge !== undefined ? `≥ ${check.ge}` : '', check.le !== undefined ? `≤ ${check.le}` : ''].filter((s) => s !== '');
    return this.fail(key, v, `a finite number${parts.length > 0 ? ` ${parts.join(' and ')}` : ''}`);
  }

  nums(key: string, length: number): number[] {
    const v = this.get(key);
    if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) this.fail(key, v, `a list of ${length} finite numbers`);
    return v as number[];
  }

  vec3(key: string): Vec3 {
    const [x, y, z] = this.nums(key, 3);
    return [x!, y!, z!];
  }

  strs(key: string, length?: number): string[] {
    const v = this.get(key);
    if (!Array.isArray(v) || (length !== undefined && v.length !== length) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== '')) {
      this.fail(key, v, length !== undefined ? `a list of ${length} names` : 'a non-empty list of names');
    }
    return v as string[];
  }

  /** Throws on keys that no reader asked for. */
  done(): void {
    const extra = Object.keys(this.raw).filter((k) => !this.used.has(k));
    if (extra.length > 0) throw new ProfileError(`${this.file}: unknown field ${extra.map((k) => this.at(k)).join(', ')} (a typo? see docs/ros.md for the fields)`);
  }
}

function describe(v: Json): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Validates a parsed profile. `file` names it in errors. */
export function parseProfile(raw: Json, file: string): RobotProfile {
  const f = Fields.root(file, raw);
  const robot = f.oneOf('robot', ['panda', 'laikago'] as const);
  const t = f.obj('topics');
  const base: ProfileBase = {
    name: f.str('name'),
    envs: f.strs('envs'),
    controlRateHz: f.num('controlRateHz', { gt: 0, le: 10_000 }),
    stateTimeoutMs: f.num('stateTimeoutMs', { gt: 0 }),
    trigger: f.oneOf('trigger', ['timer', 'fresh-state'] as const),
    diagnosticsRateHz: f.num('diagnosticsRateHz', { gt: 0 }),
    topics: { estop: t.topic('estop'), reset: t.topic('reset'), critic: t.topic('critic'), diagnostics: t.topic('diagnostics') },
    safety: parseSafety(f),
  };
  t.done();
  if (base.stateTimeoutMs < 1000 / base.controlRateHz) {
    f.fail('stateTimeoutMs', base.stateTimeoutMs, `at least one control period (${1000 / base.controlRateHz} ms at controlRateHz ${base.controlRateHz})`);
  }
  const profile = robot === 'panda' ? parsePanda(f, base) : parseLaikago(f, base);
  f.done();
  return profile;
}

function parsePanda(f: Fields, base: ProfileBase): PandaProfile {
  const s = f.obj('state');
  const state = { jointStates: s.topic('jointStates'), eePose: s.topic('eePose'), eeTwist: s.topic('eeTwist'), objectPose: s.topic('objectPose'), objectTwist: s.topic('objectTwist'), goal: s.topic('goal') };
  s.done();
  const c = f.obj('command');
  const command = { topic: c.topic('topic'), frameId: c.str('frameId'), velocityPerActionUnitMPerS: c.num('velocityPerActionUnitMPerS', { gt: 0 }) };
  c.done();
  const l = f.obj('limits');
  const limits = {
    maxLinearVelMPerS: l.num('maxLinearVelMPerS', { gt: 0, le: 1.7 }),
    maxLinearAccelMPerS2: l.num('maxLinearAccelMPerS2', { gt: 0, le: 13 }),
    workspaceMinM: l.vec3('workspaceMinM'),
    workspaceMaxM: l.vec3('workspaceMaxM'),
    maxPlausibleSpeedMPerS: l.num('maxPlausibleSpeedMPerS', { gt: 0 }),
  };
  for (let i = 0; i < 3; i++) {
    if (!(limits.workspaceMinM[i]! < limits.workspaceMaxM[i]!)) l.fail('workspaceMaxM', limits.workspaceMaxM, `each component above workspaceMinM's (${JSON.stringify(limits.workspaceMinM)})`);
  }
  l.done();
  const v = f.obj('virtualSetpoint');
  const virtualSetpoint = { minM: v.vec3('minM'), maxM: v.vec3('maxM'), maxLeadM: v.num('maxLeadM', { gt: 0 }) };
  v.done();
  const fl = f.obj('failure');
  const failure = { objectTiltMaxDeg: fl.num('objectTiltMaxDeg', { gt: 0, le: 180 }) };
  fl.done();
  const learning = parseLearning(f, DEFAULT_PANDA_LEARNING, (r) => ({ pushPerM: r.num('pushPerM'), reachPerM: r.num('reachPerM'), successBonus: r.num('successBonus'), goalRadiusM: r.num('goalRadiusM', { ge: 0 }) }));
  return { ...base, robot: 'panda', state, taskFrameOriginM: f.vec3('taskFrameOriginM'), command, limits, virtualSetpoint, failure, servo: parseServo(f), learning };
}

function parseLaikago(f: Fields, base: ProfileBase): LaikagoProfile {
  const s = f.obj('state');
  const state = { jointStates: s.topic('jointStates'), imu: s.topic('imu'), odometry: s.topic('odometry') };
  s.done();
  const j = f.obj('joints');
  const joints = { names: j.strs('names', 12), nominalRad: j.nums('nominalRad', 12), actionScaleRad: j.nums('actionScaleRad', 12), lowerRad: j.nums('lowerRad', 12), upperRad: j.nums('upperRad', 12) };
  for (let i = 0; i < 12; i++) {
    if (!(joints.lowerRad[i]! < joints.upperRad[i]!)) j.fail(`upperRad[${i}]`, joints.upperRad[i], `above lowerRad[${i}] = ${joints.lowerRad[i]}`);
    if (!(joints.nominalRad[i]! >= joints.lowerRad[i]! && joints.nominalRad[i]! <= joints.upperRad[i]!)) j.fail(`nominalRad[${i}]`, joints.nominalRad[i], `within [${joints.lowerRad[i]}, ${joints.upperRad[i]}]`);
    if (!(joints.actionScaleRad[i]! > 0)) j.fail(`actionScaleRad[${i}]`, joints.actionScaleRad[i], 'a number > 0');
  }
  if (new Set(joints.names).size !== 12) j.fail('names', joints.names, '12 distinct joint names');
  j.done();
  const c = f.obj('command');
  const command = { topic: c.topic('topic'), kpNmPerRad: c.num('kpNmPerRad', { ge: 0 }), kdNmSPerRad: c.num('kdNmSPerRad', { ge: 0 }) };
  c.done();
  const l = f.obj('limits');
  const limits = { maxTargetRateRadPerS: l.num('maxTargetRateRadPerS', { gt: 0 }), maxPlausibleJointSpeedRadPerS: l.num('maxPlausibleJointSpeedRadPerS', { gt: 0 }) };
  l.done();
  const fl = f.obj('failure');
  const failure = { maxTiltRad: fl.num('maxTiltRad', { gt: 0, le: Math.PI }), minBaseHeightM: fl.num('minBaseHeightM', { ge: 0 }) };
  fl.done();
  const h = f.obj('hold');
  const hold = { dampingKdNmSPerRad: h.num('dampingKdNmSPerRad', { ge: 0 }) };
  h.done();
  const learning = parseLearning(f, DEFAULT_LAIKAGO_LEARNING, (r) => ({ forwardVelocityWeight: r.num('forwardVelocityWeight'), aliveBonus: r.num('aliveBonus') }));
  return { ...base, robot: 'laikago', state, joints, command, limits, failure, hold, learning };
}

/** The optional `safety` section (defaults when absent, each field optional). */
function parseSafety(f: Fields): SafetySettings {
  if (!f.has('safety')) return DEFAULT_SAFETY;
  const s = f.obj('safety');
  const settings = { onExhausted: s.has('onExhausted') ? s.oneOf('onExhausted', ['hold', 'fallback'] as const) : DEFAULT_SAFETY.onExhausted };
  s.done();
  return settings;
}

/** The Panda's optional `servo` section (defaults when absent, each field optional). */
function parseServo(f: Fields): ServoSettings {
  if (!f.has('servo')) return DEFAULT_SERVO;
  const s = f.obj('servo');
  const node = s.has('node') ? s.topic('node') : DEFAULT_SERVO.node;
  const settings = {
    start: s.has('start') ? s.bool('start') : DEFAULT_SERVO.start,
    node,
    interface: s.has('interface') ? s.oneOf('interface', ['auto', 'start_servo', 'switch_command_type'] as const) : DEFAULT_SERVO.interface,
    retryPeriodS: s.has('retryPeriodS') ? s.num('retryPeriodS', { gt: 0 }) : DEFAULT_SERVO.retryPeriodS,
  };
  s.done();
  return settings;
}

/** The optional `learning` section (defaults when absent; every field required when present but failureTopic). */
function parseLearning<R>(f: Fields, defaults: LearningSettings<R>, reward: (r: Fields) => R): LearningSettings<R> {
  if (!f.has('learning')) return defaults;
  const l = f.obj('learning');
  const r = l.obj('reward');
  const settings = {
    maxEpisodeSteps: l.num('maxEpisodeSteps', { ge: 1 }),
    resetTimeoutS: l.num('resetTimeoutS', { gt: 0 }),
    failureTopic: l.has('failureTopic') ? l.topic('failureTopic') : null,
    reward: reward(r),
  };
  if (!Number.isInteger(settings.maxEpisodeSteps)) l.fail('maxEpisodeSteps', settings.maxEpisodeSteps, 'an integer ≥ 1');
  r.done();
  l.done();
  return settings;
}

/** Reads and validates a profile file. */
export async function loadProfile(file: string): Promise<RobotProfile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ProfileError(`${file}: cannot read the profile (${e instanceof Error ? e.message : String(e)})`);
  }
  let raw: Json;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ProfileError(`${file}: not valid YAML (${e instanceof Error ? e.message : String(e)})`);
  }
  return parseProfile(raw, file);
}
