/**
 * Panda profile: end-effector and block state in, Cartesian velocity (TwistStamped, MoveIt Servo)
 * out. The observation is panda_push.py's `_obs()` rebuilt from ROS messages; its setpoint lead
 * comes from a {@link VirtualSetpoint} that integrates the executed commands exactly as the env
 * integrates actions, so the policy sees what it saw in training.
 */
import { type Observable, merge, tap, map } from 'rxjs';
import type { JointState, PointStamped, PoseStamped, Time, TwistStamped } from './messages.ts';
import type { PandaProfile, Vec3 } from './profile.ts';
import { type LimitFlag, type RobotAdapter, checkFinite, rotationOf } from './robot.ts';
import type { RosPublisher, RosTransport } from './transport.ts';

/** panda_push.py OBS_NAMES. */
export const PANDA_OBS_NAMES: readonly string[] = [
  'ee_x_m', 'ee_y_m', 'ee_z_m',
  'ee_vx_mps', 'ee_vy_mps', 'ee_vz_mps',
  'setpoint_lead_x_m', 'setpoint_lead_y_m', 'setpoint_lead_z_m',
  'block_x_m', 'block_y_m', 'block_z_m',
  'block_vx_mps', 'block_vy_mps', 'block_vz_mps',
  'block_up_x', 'block_up_y', 'block_up_z',
  'block_to_goal_x_m', 'block_to_goal_y_m',
  'ee_to_block_x_m', 'ee_to_block_y_m', 'ee_to_block_z_m',
];

/** The latest state messages of a Panda. */
export interface PandaState {
  joints?: JointState;
  eePose?: PoseStamped;
  eeTwist?: TwistStamped;
  objectPose?: PoseStamped;
  objectTwist?: TwistStamped;
  goal?: PointStamped;
}

/**
 * The training env's OSC setpoint: `sp ← ee + clip(clip(sp + v·T, box) − ee, ±maxLead)` per step
 * (panda_push.py `step`), anchored at the end effector on reset.
 */
export class VirtualSetpoint {
  private sp: [number, number, number] | null = null;

  constructor(private readonly cfg: PandaProfile['virtualSetpoint']) {}

  reset(): void {
    this.sp = null;
  }

  /** Setpoint minus end effector (anchors the setpoint at `ee` first if needed). */
  lead(ee: Vec3): Vec3 {
    this.sp ??= [ee[0], ee[1], ee[2]];
    return [this.sp[0] - ee[0], this.sp[1] - ee[1], this.sp[2] - ee[2]];
  }

  /** One control step that moved the setpoint by `displacementM` from end-effector position `ee`. */
  advance(ee: Vec3, displacementM: Vec3): void {
    const sp = this.sp ?? [ee[0], ee[1], ee[2]];
    const L = this.cfg.maxLeadM;
    for (let i = 0; i < 3; i++) {
      const boxed = clamp(sp[i]! + displacementM[i]!, this.cfg.minM[i]!, this.cfg.maxM[i]!);
      sp[i] = ee[i]! + clamp(boxed - ee[i]!, -L, L);
    }
    this.sp = sp;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Fills the 23-value observation from the messages; returns why it cannot, or null. `origin` is
 * the task frame's origin in the messages' frame, `lead` the virtual setpoint's lead.
 */
export function pandaObservation(s: PandaState, profile: PandaProfile, setpoint: VirtualSetpoint, out: Float32Array): string | null {
  const { eePose, eeTwist, objectPose, objectTwist, goal, joints } = s;
  if (joints === undefined || eePose === undefined || eeTwist === undefined || objectPose === undefined || objectTwist === undefined || goal === undefined) return 'a state topic has not arrived yet';
  const o = profile.taskFrameOriginM;
  const ee: Vec3 = [eePose.pose.position.x - o[0], eePose.pose.position.y - o[1], eePose.pose.position.z - o[2]];
  const eeV = eeTwist.twist.linear;
  const b: Vec3 = [objectPose.pose.position.x - o[0], objectPose.pose.position.y - o[1], objectPose.pose.position.z - o[2]];
  const bV = objectTwist.twist.linear;
  const bad =
    checkFinite(joints.position, `${profile.state.jointStates} position`) ??
    checkFinite(ee, `${profile.state.eePose} position`) ??
    checkFinite([eeV.x, eeV.y, eeV.z], `${profile.state.eeTwist} linear`) ??
    checkFinite(b, `${profile.state.objectPose} position`) ??
    checkFinite([bV.x, bV.y, bV.z], `${profile.state.objectTwist} linear`) ??
    checkFinite([goal.point.x, goal.point.y], `${profile.state.goal} point`);
  if (bad !== null) return bad;
  const vmax = profile.limits.maxPlausibleSpeedMPerS;
  if (Math.hypot(eeV.x, eeV.y, eeV.z) > vmax) return `${profile.state.eeTwist}: speed ${Math.hypot(eeV.x, eeV.y, eeV.z).toFixed(3)} m/s above the plausible ${vmax} m/s`;
  if (Math.hypot(bV.x, bV.y, bV.z) > vmax) return `${profile.state.objectTwist}: speed ${Math.hypot(bV.x, bV.y, bV.z).toFixed(3)} m/s above the plausible ${vmax} m/s`;
  const r = rotationOf(objectPose.pose.orientation);
  if (r === null) return `${profile.state.objectPose}: orientation is not a unit quaternion`;
  const lead = setpoint.lead(ee);
  const values = [
    ...ee,
    eeV.x, eeV.y, eeV.z,
    ...lead,
    ...b,
    bV.x, bV.y, bV.z,
    // The block's up axis: third column of its rotation matrix.
    r[2]!, r[5]!, r[8]!,
    goal.point.x - objectPose.pose.position.x, goal.point.y - objectPose.pose.position.y,
    b[0] - ee[0], b[1] - ee[1], b[2] - ee[2],
  ];
  out.set(values);
  return null;
}

/**
 * The hard limits on a Cartesian velocity command, in order: non-finite components → 0; the norm
 * capped at the max velocity; the rate limit, by moving from the previous command toward that
 * target only as far as every axis may change in one period (a straight segment between two
 * points of the velocity ball stays in it); then the workspace box: each axis may move toward a
 * face only as fast as it can still stop there, min(d / T, √(2·a·d)), and never outward from
 * outside. Invariants (property-tested): |v| ≤ vmax; from inside the box ee + v·T stays inside;
 * |v − prev| ≤ a·T on every axis the workspace did not cut.
 */
export function limitTwist(desired: Vec3, prev: Vec3, ee: Vec3, limits: PandaProfile['limits'], periodS: number): { v: Vec3; flags: LimitFlag[] } {
  const flags = new Set<LimitFlag>();
  const d = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const x = desired[i]!;
    if (Number.isFinite(x)) d[i] = x;
    else flags.add('non-finite');
  }
  const norm = Math.hypot(d[0]!, d[1]!, d[2]!);
  if (norm > limits.maxLinearVelMPerS) {
    flags.add('velocity');
    const s = limits.maxLinearVelMPerS / norm;
    for (let i = 0; i < 3; i++) d[i]! *= s;
  }
  const dv = limits.maxLinearAccelMPerS2 * periodS;
  let t = 1;
  for (let i = 0; i < 3; i++) {
    const change = Math.abs(d[i]! - prev[i]!);
    if (change > dv) t = Math.min(t, dv / change);
  }
  if (t < 1) flags.add('rate');
  const v = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const a = limits.maxLinearAccelMPerS2;
    const dHi = limits.workspaceMaxM[i]! - ee[i]!;
    const dLo = ee[i]! - limits.workspaceMinM[i]!;
    const up = dHi > 0 ? Math.min(dHi / periodS, Math.sqrt(2 * a * dHi)) : 0;
    const down = dLo > 0 ? -Math.min(dLo / periodS, Math.sqrt(2 * a * dLo)) : 0;
    const x = prev[i]! + t * (d[i]! - prev[i]!);
    if (x > up || x < down) flags.add('workspace');
    // A NaN end-effector position makes both bounds 0: no motion.
    v[i] = x > up ? up : x < down ? down : x;
  }
  return { v: [v[0]!, v[1]!, v[2]!], flags: [...flags] };
}

export class PandaAdapter implements RobotAdapter {
  readonly obsNames = PANDA_OBS_NAMES;
  readonly stateTopics: readonly string[];
  readonly state: PandaState = {};
  readonly setpoint: VirtualSetpoint;
  private prev: Vec3 = [0, 0, 0];
  private pub: RosPublisher<'geometry_msgs/msg/TwistStamped'> | null = null;
  private readonly periodS: number;

  constructor(readonly profile: PandaProfile) {
    const s = profile.state;
    this.stateTopics = [s.jointStates, s.eePose, s.eeTwist, s.objectPose, s.objectTwist, s.goal];
    this.setpoint = new VirtualSetpoint(profile.virtualSetpoint);
    this.periodS = 1 / profile.controlRateHz;
  }

  connect(t: RosTransport): Observable<string> {
    const s = this.profile.state;
    const sensor = { reliability: 'best_effort' } as const;
    this.pub = t.createPublisher(this.profile.command.topic, 'geometry_msgs/msg/TwistStamped');
    const st = this.state;
    return merge(
      t.subscribe(s.jointStates, 'sensor_msgs/msg/JointState', sensor).pipe(tap((m) => (st.joints = m)), map(() => s.jointStates)),
      t.subscribe(s.eePose, 'geometry_msgs/msg/PoseStamped', sensor).pipe(tap((m) => (st.eePose = m)), map(() => s.eePose)),
      t.subscribe(s.eeTwist, 'geometry_msgs/msg/TwistStamped', sensor).pipe(tap((m) => (st.eeTwist = m)), map(() => s.eeTwist)),
      t.subscribe(s.objectPose, 'geometry_msgs/msg/PoseStamped', sensor).pipe(tap((m) => (st.objectPose = m)), map(() => s.objectPose)),
      t.subscribe(s.objectTwist, 'geometry_msgs/msg/TwistStamped', sensor).pipe(tap((m) => (st.objectTwist = m)), map(() => s.objectTwist)),
      t.subscribe(s.goal, 'geometry_msgs/msg/PointStamped').pipe(tap((m) => (st.goal = m)), map(() => s.goal)),
    );
  }

  observe(obs: Float32Array): string | null {
    return pandaObservation(this.state, this.profile, this.setpoint, obs);
  }

  detectFailure(): string | null {
    const pose = this.state.objectPose;
    if (pose === undefined) return null;
    const r = rotationOf(pose.pose.orientation);
    if (r === null) return null;
    const tiltDeg = (Math.acos(clamp(r[8]!, -1, 1)) * 180) / Math.PI;
    return tiltDeg > this.profile.failure.objectTiltMaxDeg ? `the block toppled: its up axis tilts ${tiltDeg.toFixed(1)}° > ${this.profile.failure.objectTiltMaxDeg}°` : null;
  }

  private ee(): Vec3 {
    const p = this.state.eePose?.pose.position;
    const o = this.profile.taskFrameOriginM;
    return p === undefined ? [Number.NaN, Number.NaN, Number.NaN] : [p.x - o[0], p.y - o[1], p.z - o[2]];
  }

  actuate(action: Float32Array, stamp: Time): readonly LimitFlag[] {
    const k = this.profile.command.velocityPerActionUnitMPerS;
    const ee = this.ee();
    const { v, flags } = limitTwist([action[0]! * k, action[1]! * k, action[2]! * k], this.prev, ee, this.profile.limits, this.periodS);
    this.publish(v, stamp);
    this.prev = v;
    // The env moves its setpoint by the executed velocity × one control period.
    this.setpoint.advance(ee, [v[0] * this.periodS, v[1] * this.periodS, v[2] * this.periodS]);
    return flags;
  }

  hold(stamp: Time): void {
    this.publish([0, 0, 0], stamp);
    this.prev = [0, 0, 0];
    this.setpoint.reset();
  }

  reset(): void {
    this.prev = [0, 0, 0];
    this.setpoint.reset();
  }

  private publish(v: Vec3, stamp: Time): void {
    if (this.pub === null) throw new Error('PandaAdapter: connect() before publishing');
    this.pub.publish({ header: { stamp, frame_id: this.profile.command.frameId }, twist: { linear: { x: v[0], y: v[1], z: v[2] }, angular: { x: 0, y: 0, z: 0 } } });
  }
}
