/**
 * Laikago profile: joint states, IMU and odometry in; joint position targets with PD gains out
 * (std_msgs/Float64MultiArray [q* × 12, kp × 12, kd × 12]). The observation is laikago.py's
 * `_observe()` rebuilt from ROS messages in the REP-103 body frame (x forward, y left, z up).
 */
import { type Observable, map, merge, tap } from 'rxjs';
import type { Imu, JointState, Odometry, Time } from './messages.ts';
import type { LaikagoProfile } from './profile.ts';
import { type LimitFlag, type RobotAdapter, checkFinite, rotationOf } from './robot.ts';
import type { RosPublisher, RosTransport } from './transport.ts';

const LEGS = ['FR', 'FL', 'RR', 'RL'];
const PARTS = ['abduction', 'hip', 'knee'];

/** laikago.py OBS_NAMES. */
export const LAIKAGO_OBS_NAMES: readonly string[] = [
  'gravity_x', 'gravity_y', 'gravity_z',
  'heading_cos', 'heading_sin',
  'ang_vel_x_rad_per_s', 'ang_vel_y_rad_per_s', 'ang_vel_z_rad_per_s',
  'vel_forward_m_per_s', 'vel_left_m_per_s', 'vel_up_m_per_s',
  'base_height_m',
  ...LEGS.flatMap((l) => PARTS.map((p) => `${l}_${p}_rad_from_nominal`)),
  ...LEGS.flatMap((l) => PARTS.map((p) => `${l}_${p}_rad_per_s/10`)),
  ...LEGS.flatMap((l) => PARTS.map((p) => `last_action_${l}_${p}`)),
];

export interface LaikagoState {
  joints?: JointState;
  imu?: Imu;
  odometry?: Odometry;
}

/** Joint positions and velocities in the profile's order, or why they cannot be read. */
export function jointsInOrder(msg: JointState, names: readonly string[], topic: string): { q: Float64Array; dq: Float64Array } | string {
  const q = new Float64Array(names.length);
  const dq = new Float64Array(names.length);
  for (let k = 0; k < names.length; k++) {
    const i = msg.name.indexOf(names[k]!);
    if (i < 0) return `${topic}: joint ${names[k]} is missing (got ${msg.name.join(', ')})`;
    if (i >= msg.position.length || i >= msg.velocity.length) return `${topic}: joint ${names[k]} has no position or velocity`;
    q[k] = msg.position[i]!;
    dq[k] = msg.velocity[i]!;
  }
  return { q, dq };
}

/** Fills the 48-value observation; returns why it cannot, or null. */
export function laikagoObservation(s: LaikagoState, profile: LaikagoProfile, lastAction: Float64Array, out: Float32Array): string | null {
  const { joints, imu, odometry } = s;
  if (joints === undefined || imu === undefined || odometry === undefined) return 'a state topic has not arrived yet';
  const j = jointsInOrder(joints, profile.joints.names, profile.state.jointStates);
  if (typeof j === 'string') return j;
  const w = imu.angular_velocity;
  const v = odometry.twist.twist.linear;
  const bad =
    checkFinite(j.q, `${profile.state.jointStates} position`) ??
    checkFinite(j.dq, `${profile.state.jointStates} velocity`) ??
    checkFinite([w.x, w.y, w.z], `${profile.state.imu} angular_velocity`) ??
    checkFinite([v.x, v.y, v.z, odometry.pose.pose.position.z], `${profile.state.odometry} twist/height`);
  if (bad !== null) return bad;
  for (let k = 0; k < 12; k++) {
    if (Math.abs(j.dq[k]!) > profile.limits.maxPlausibleJointSpeedRadPerS) return `${profile.state.jointStates}: joint ${profile.joints.names[k]} speed ${j.dq[k]} rad/s above the plausible ${profile.limits.maxPlausibleJointSpeedRadPerS}`;
  }
  const r = rotationOf(imu.orientation);
  if (r === null) return `${profile.state.imu}: orientation is not a unit quaternion`;
  // Columns of r are the body's forward, left and up axes in the world; gravity = rᵀ (0, 0, −1).
  const heading = Math.atan2(r[3]!, r[0]!);
  const values = [
    -r[6]!, -r[7]!, -r[8]!,
    Math.cos(heading), Math.sin(heading),
    w.x, w.y, w.z,
    v.x, v.y, v.z,
    odometry.pose.pose.position.z,
  ];
  out.set(values);
  for (let k = 0; k < 12; k++) {
    out[12 + k] = j.q[k]! - profile.joints.nominalRad[k]!;
    out[24 + k] = j.dq[k]! / 10;
    out[36 + k] = lastAction[k]!;
  }
  return null;
}

/**
 * Hard limits on joint targets: non-finite → previous target, then each target moves at most
 * `maxTargetRateRadPerS · T` from the previous one and stays inside the joint range. With the
 * previous targets inside the range both invariants hold together (property-tested).
 */
export function limitTargets(desired: ArrayLike<number>, prev: Float64Array, profile: LaikagoProfile, periodS: number): { q: Float64Array; flags: LimitFlag[] } {
  const flags = new Set<LimitFlag>();
  const step = profile.limits.maxTargetRateRadPerS * periodS;
  const q = new Float64Array(12);
  for (let k = 0; k < 12; k++) {
    let x = desired[k]!;
    if (!Number.isFinite(x)) {
      flags.add('non-finite');
      x = prev[k]!;
    }
    if (x > prev[k]! + step || x < prev[k]! - step) flags.add('rate');
    x = Math.min(prev[k]! + step, Math.max(prev[k]! - step, x));
    const lo = profile.joints.lowerRad[k]!;
    const hi = profile.joints.upperRad[k]!;
    if (x < lo || x > hi) flags.add('joint-range');
    q[k] = Math.min(hi, Math.max(lo, x));
  }
  return { q, flags: [...flags] };
}

export class LaikagoAdapter implements RobotAdapter {
  readonly obsNames = LAIKAGO_OBS_NAMES;
  readonly stateTopics: readonly string[];
  readonly state: LaikagoState = {};
  /** The last action as the env saw it: (q* − nominal) / scale, clipped to [−1, 1]. */
  readonly lastAction = new Float64Array(12);
  private prevTargets: Float64Array | null = null;
  private pub: RosPublisher<'std_msgs/msg/Float64MultiArray'> | null = null;
  private readonly periodS: number;

  constructor(readonly profile: LaikagoProfile) {
    this.stateTopics = [profile.state.jointStates, profile.state.imu, profile.state.odometry];
    this.periodS = 1 / profile.controlRateHz;
  }

  connect(t: RosTransport): Observable<string> {
    const s = this.profile.state;
    const sensor = { reliability: 'best_effort' } as const;
    this.pub = t.createPublisher(this.profile.command.topic, 'std_msgs/msg/Float64MultiArray');
    const st = this.state;
    return merge(
      t.subscribe(s.jointStates, 'sensor_msgs/msg/JointState', sensor).pipe(tap((m) => (st.joints = m)), map(() => s.jointStates)),
      t.subscribe(s.imu, 'sensor_msgs/msg/Imu', sensor).pipe(tap((m) => (st.imu = m)), map(() => s.imu)),
      t.subscribe(s.odometry, 'nav_msgs/msg/Odometry', sensor).pipe(tap((m) => (st.odometry = m)), map(() => s.odometry)),
    );
  }

  observe(obs: Float32Array): string | null {
    return laikagoObservation(this.state, this.profile, this.lastAction, obs);
  }

  detectFailure(): string | null {
    const { imu, odometry } = this.state;
    const f = this.profile.failure;
    if (imu !== undefined) {
      const r = rotationOf(imu.orientation);
      if (r !== null) {
        // laikago.py: roll = atan2(left_z, up_z), pitch = −asin(forward_z).
        const roll = Math.atan2(r[7]!, r[8]!);
        const pitch = -Math.asin(Math.max(-1, Math.min(1, r[6]!)));
        if (Math.abs(roll) > f.maxTiltRad) return `fallen: roll ${roll.toFixed(3)} rad beyond ±${f.maxTiltRad}`;
        if (Math.abs(pitch) > f.maxTiltRad) return `fallen: pitch ${pitch.toFixed(3)} rad beyond ±${f.maxTiltRad}`;
      }
    }
    const h = odometry?.pose.pose.position.z;
    if (h !== undefined && h < f.minBaseHeightM) return `fallen: base height ${h.toFixed(3)} m below ${f.minBaseHeightM}`;
    return null;
  }

  private measured(): Float64Array | null {
    const j = this.state.joints === undefined ? 'missing' : jointsInOrder(this.state.joints, this.profile.joints.names, this.profile.state.jointStates);
    if (typeof j === 'string' || checkFinite(j.q, 'q') !== null) return null;
    const { lowerRad, upperRad } = this.profile.joints;
    return j.q.map((x, k) => Math.min(upperRad[k]!, Math.max(lowerRad[k]!, x)));
  }

  /** Float64MultiArray has no header: the stamp is not sent. */
  actuate(action: Float32Array, _stamp: Time): readonly LimitFlag[] {
    const { nominalRad, actionScaleRad } = this.profile.joints;
    const prev = this.prevTargets ?? this.measured() ?? Float64Array.from(nominalRad);
    const desired = Array.from({ length: 12 }, (_, k) => nominalRad[k]! + actionScaleRad[k]! * action[k]!);
    const { q, flags } = limitTargets(desired, prev, this.profile, this.periodS);
    this.publish(q, this.profile.command.kpNmPerRad, this.profile.command.kdNmSPerRad);
    this.prevTargets = q;
    return flags;
  }

  hold(_stamp: Time): void {
    const q = this.measured() ?? this.prevTargets ?? Float64Array.from(this.profile.joints.nominalRad);
    this.publish(q, 0, this.profile.hold.dampingKdNmSPerRad);
    this.prevTargets = null;
  }

  reset(): void {
    this.prevTargets = null;
    this.lastAction.fill(0);
  }

  private publish(q: Float64Array, kp: number, kd: number): void {
    if (this.pub === null) throw new Error('LaikagoAdapter: connect() before publishing');
    const { nominalRad, actionScaleRad } = this.profile.joints;
    for (let k = 0; k < 12; k++) this.lastAction[k] = Math.max(-1, Math.min(1, (q[k]! - nominalRad[k]!) / actionScaleRad[k]!));
    const data = new Float64Array(36);
    data.set(q, 0);
    data.fill(kp, 12, 24);
    data.fill(kd, 24, 36);
    this.pub.publish({
      layout: {
        dim: [
          { label: 'q_kp_kd', size: 3, stride: 36 },
          { label: 'joint', size: 12, stride: 12 },
        ],
        data_offset: 0,
      },
      data,
    });
  }
}
