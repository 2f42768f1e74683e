/**
 * Sim in the loop: a Python sim env plays the robot on a ROS transport. After every env step the
 * bridge publishes the new state as the profile's ROS messages (rebuilt from the observation, in
 * the frames a robot would report), and each command the node publishes becomes the sim's next
 * action. With the loopback transport the whole deploy path — messages through CDR, observation
 * builder, filter, hard limits, command mapping — runs without ROS 2.
 *
 * What the sim cannot play: Panda joint states (published as a liveness placeholder), Laikago's
 * damping command (the sim's PD gains are fixed, so a hold becomes position targets at the
 * measured joint positions).
 */
import { EMPTY, Subject, concatMap, lastValueFrom, map, merge, of, takeUntil } from 'rxjs';
import { EnvInputError, type VecEnv, type VecStepResult } from '../envs/env.ts';
import { LAIKAGO_OBS_NAMES } from './laikago.ts';
import type { TransitionRecord } from './mcap.ts';
import type { Header, Quaternion, Vector3 } from './messages.ts';
import { PANDA_OBS_NAMES } from './panda.ts';
import type { LaikagoProfile, PandaProfile, RobotProfile } from './profile.ts';
import type { RosTransport } from './transport.ts';

/** What a sim-in-the-loop run did. */
export interface SimRunSummary {
  readonly env: string;
  readonly episodes: number;
  readonly steps: number;
  readonly failures: number;
  readonly avgReward: number;
  readonly avgFailures: number;
  /** Episodes the sim dropped (a server restarted mid-episode): no transition, a reset to the node. */
  readonly droppedEpisodes: number;
}

const v3 = (x: number, y: number, z: number): Vector3 => ({ x, y, z });
const ZERO = v3(0, 0, 0);

/** The rotation taking +z to the unit vector `up` (shortest arc); yaw is not observable from it. */
export function quaternionFromUp(ux: number, uy: number, uz: number): Quaternion {
  const n = Math.hypot(ux, uy, uz);
  const [x, y, z] = [ux / n, uy / n, uz / n];
  // q = (z × u, 1 + z·u) normalised; z × u = (−y, x, 0).
  const w = 1 + z;
  if (w < 1e-9) return { x: 1, y: 0, z: 0, w: 0 };
  const m = Math.hypot(-y, x, w);
  return { x: -y / m, y: x / m, z: 0, w: w / m };
}

/** Quaternion of yaw ψ, pitch θ, roll φ (ZYX, REP-103). */
export function quaternionFromEuler(roll: number, pitch: number, yaw: number): Quaternion {
  const [cr, sr] = [Math.cos(roll / 2), Math.sin(roll / 2)];
  const [cp, sp] = [Math.cos(pitch / 2), Math.sin(pitch / 2)];
  const [cy, sy] = [Math.cos(yaw / 2), Math.sin(yaw / 2)];
  return { x: sr * cp * cy - cr * sp * sy, y: cr * sp * cy + sr * cp * sy, z: cr * cp * sy - sr * sp * cy, w: cr * cp * cy + sr * sp * sy };
}

export class SimBridge {
  /** The observation of the state published last (what the node should rebuild). */
  lastObs: Float32Array = new Float32Array(0);
  private readonly stop$ = new Subject<void>();
  private readonly publishState: (obs: Float32Array) => void;
  private readonly toAction: (cmd: ArrayLike<number>) => Float32Array;
  private readonly commands$: Subject<ArrayLike<number>> = new Subject();
  /** With {@link serve}: the sim's last step (its own reward and failure, for comparison). */
  lastStep: VecStepResult | null = null;
  /** With {@link serve}: the first error of the sim (the bridge then answers nothing). */
  serveError: unknown = null;
  private episodeOver = true;
  private stalls = 0;
  private served = 0;

  constructor(
    private readonly env: VecEnv,
    private readonly profile: RobotProfile,
    private readonly transport: RosTransport,
  ) {
    if (env.numEnvs !== 1) throw new EnvInputError(`sim in the loop drives one env, got ${env.numEnvs}`);
    const expected = profile.robot === 'panda' ? PANDA_OBS_NAMES : LAIKAGO_OBS_NAMES;
    if (env.spec.obsNames.join() !== expected.join()) throw new EnvInputError(`sim env ${env.spec.id} has an observation layout profile ${profile.name} does not build`);
    if (profile.robot === 'panda') {
      this.publishState = this.pandaPublisher(profile);
      const k = profile.command.velocityPerActionUnitMPerS;
      transport.subscribe(profile.command.topic, 'geometry_msgs/msg/TwistStamped').pipe(takeUntil(this.stop$)).subscribe((m) => {
        this.commands$.next([m.twist.linear.x, m.twist.linear.y, m.twist.linear.z]);
      });
      this.toAction = (c) => Float32Array.from([c[0]! / k, c[1]! / k, c[2]! / k]);
    } else {
      this.publishState = this.laikagoPublisher(profile);
      const { nominalRad, actionScaleRad } = profile.joints;
      transport.subscribe(profile.command.topic, 'std_msgs/msg/Float64MultiArray').pipe(takeUntil(this.stop$)).subscribe((m) => {
        this.commands$.next(Array.from(m.data).slice(0, 12));
      });
      this.toAction = (c) => Float32Array.from({ length: 12 }, (_, k) => (c[k]! - nominalRad[k]!) / actionScaleRad[k]!);
    }
  }

  /** Resets the sim, then answers every command with one env step until `episodes` have ended (or `maxSteps` steps). */
  async run(episodes: number, seed: number, maxSteps = Number.POSITIVE_INFINITY, onTransition?: (t: TransitionRecord) => void): Promise<SimRunSummary> {
    const reset = this.transport.createPublisher(this.profile.topics.reset, 'std_msgs/msg/Empty');
    let done = 0;
    let steps = 0;
    let failures = 0;
    let rewardSum = 0;
    let dropped = 0;
    const finished = new Subject<void>();
    const result = lastValueFrom(
      this.commands$.pipe(
        concatMap(async (cmd) => {
          const action = this.toAction(cmd).map((a) => Math.max(-1, Math.min(1, a)));
          return { action, obs: this.lastObs, r: await this.env.step(action) };
        }),
        concatMap(async ({ action, obs, r }) => {
          if (r.dropped[0] === 1) {
            // The sim lost the episode (its server restarted): r.obs starts a new one, so the node
            // must restart too (its virtual setpoint, its latches), and nothing is recorded.
            dropped++;
            reset.publish({});
            await Promise.resolve();
            this.publish(r.obs);
            return;
          }
          onTransition?.({ obs, action, reward: r.reward[0]!, failure: r.failure[0] === 1 ? 1 : 0, terminated: r.terminated[0] === 1, truncated: r.truncated[0] === 1, next_obs: r.nextObs });
          steps++;
          rewardSum += r.reward[0]!;
          if (r.terminated[0] === 1 || r.truncated[0] === 1) {
            done++;
            failures += r.failure[0]!;
            if (done >= episodes) {
              finished.next();
              return;
            }
            // The env auto-reset: a new episode starts from r.obs.
            reset.publish({});
          }
          if (steps >= maxSteps) {
            finished.next();
            return;
          }
          // Let the step settle before the node's synchronous reply asks for the next one.
          await Promise.resolve();
          this.publish(r.obs);
        }),
        takeUntil(finished),
      ),
      { defaultValue: undefined },
    );
    reset.publish({});
    this.publish(await this.env.reset(seed));
    await result;
    return { env: this.env.spec.id, episodes: done, steps, failures, avgReward: rewardSum / Math.max(1, done), avgFailures: failures / Math.max(1, done), droppedEpisodes: dropped };
  }

  /**
   * Plays the robot for learning on it (`ros:` envs, src/envs/ros.ts), as a robot would behave:
   * every command steps the sim and publishes the new state (s′, also on the step that ended the
   * sim's episode); after the episode ended the robot stands held, answering commands with its
   * last state; a message on the profile's reset topic starts a new episode (seeds `seed`,
   * `seed + 1`, …) and publishes its first state. With `startNow` the first episode starts at
   * once, without waiting for a reset message (`csc sim robot`).
   */
  serve(seed: number, options: { readonly startNow?: boolean } = {}): void {
    const resets$ = this.transport.subscribe(this.profile.topics.reset, 'std_msgs/msg/Empty').pipe(map(() => null));
    merge(options.startNow === true ? of(null) : EMPTY, this.commands$, resets$)
      .pipe(
        concatMap(async (cmd) => {
          if (this.serveError !== null) return;
          try {
            if (cmd === null) {
              this.episodeOver = false;
              this.answer(await this.env.reset(seed + this.served++));
            } else if (this.episodeOver) {
              if (this.lastObs.length > 0) this.answer(this.lastObs);
            } else {
              const r = await this.env.step(this.toAction(cmd).map((a) => Math.max(-1, Math.min(1, a))));
              this.lastStep = r;
              if (r.dropped[0] === 1) {
                // The sim dropped the episode (server restart): no s′ exists, so no state is
                // published; the env's state timeout drops the episode and requests a reset.
                this.episodeOver = true;
                this.lastObs = r.obs.slice();
                return;
              }
              if (r.terminated[0] === 1 || r.truncated[0] === 1) this.episodeOver = true;
              this.answer(r.nextObs);
            }
          } catch (e) {
            this.serveError = e;
          }
        }),
        takeUntil(this.stop$),
      )
      .subscribe();
  }

  /** With {@link serve}: the next `steps` answers are not published (a sensor dropout). */
  stall(steps: number): void {
    this.stalls += steps;
  }

  private answer(obs: Float32Array): void {
    if (this.stalls > 0) {
      this.stalls--;
      this.lastObs = obs.slice();
      return;
    }
    this.publish(obs);
  }

  close(): void {
    this.stop$.next();
    this.stop$.complete();
    this.commands$.complete();
  }

  private publish(obs: Float32Array): void {
    this.lastObs = obs.slice();
    this.publishState(obs);
  }

  private header(frameId: string): Header {
    return { stamp: this.transport.now(), frame_id: frameId };
  }

  private pandaPublisher(p: PandaProfile): (obs: Float32Array) => void {
    const t = this.transport;
    const s = p.state;
    const js = t.createPublisher(s.jointStates, 'sensor_msgs/msg/JointState');
    const eePose = t.createPublisher(s.eePose, 'geometry_msgs/msg/PoseStamped');
    const eeTwist = t.createPublisher(s.eeTwist, 'geometry_msgs/msg/TwistStamped');
    const objPose = t.createPublisher(s.objectPose, 'geometry_msgs/msg/PoseStamped');
    const objTwist = t.createPublisher(s.objectTwist, 'geometry_msgs/msg/TwistStamped');
    const goal = t.createPublisher(s.goal, 'geometry_msgs/msg/PointStamped');
    const [ox, oy, oz] = p.taskFrameOriginM;
    const names = Array.from({ length: 7 }, (_, i) => `panda_joint${i + 1}`);
    return (o) => {
      const h = this.header(p.command.frameId);
      js.publish({ header: h, name: names, position: new Array<number>(7).fill(0), velocity: new Array<number>(7).fill(0), effort: [] });
      eePose.publish({ header: h, pose: { position: v3(o[0]! + ox, o[1]! + oy, o[2]! + oz), orientation: { x: 1, y: 0, z: 0, w: 0 } } });
      eeTwist.publish({ header: h, twist: { linear: v3(o[3]!, o[4]!, o[5]!), angular: ZERO } });
      objPose.publish({ header: h, pose: { position: v3(o[9]! + ox, o[10]! + oy, o[11]! + oz), orientation: quaternionFromUp(o[15]!, o[16]!, o[17]!) } });
      objTwist.publish({ header: h, twist: { linear: v3(o[12]!, o[13]!, o[14]!), angular: ZERO } });
      goal.publish({ header: h, point: v3(o[9]! + o[18]! + ox, o[10]! + o[19]! + oy, oz) });
    };
  }

  private laikagoPublisher(p: LaikagoProfile): (obs: Float32Array) => void {
    const t = this.transport;
    const s = p.state;
    const js = t.createPublisher(s.jointStates, 'sensor_msgs/msg/JointState');
    const imu = t.createPublisher(s.imu, 'sensor_msgs/msg/Imu');
    const odom = t.createPublisher(s.odometry, 'nav_msgs/msg/Odometry');
    const cov9 = new Array<number>(9).fill(0);
    const cov36 = new Array<number>(36).fill(0);
    return (o) => {
      // gravity = −(third row of R): pitch = asin(g_x), roll = atan2(−g_y, −g_z); heading = yaw.
      const roll = Math.atan2(-o[1]!, -o[2]!);
      const pitch = Math.asin(Math.max(-1, Math.min(1, o[0]!)));
      const yaw = Math.atan2(o[4]!, o[3]!);
      const q = quaternionFromEuler(roll, pitch, yaw);
      const h = this.header('base');
      js.publish({ header: h, name: p.joints.names, position: p.joints.nominalRad.map((n, k) => n + o[12 + k]!), velocity: p.joints.nominalRad.map((_, k) => o[24 + k]! * 10), effort: [] });
      imu.publish({ header: h, orientation: q, orientation_covariance: cov9, angular_velocity: v3(o[5]!, o[6]!, o[7]!), angular_velocity_covariance: cov9, linear_acceleration: v3(0, 0, 9.81), linear_acceleration_covariance: cov9 });
      odom.publish({
        header: { ...h, frame_id: 'odom' },
        child_frame_id: 'base',
        pose: { pose: { position: v3(0, 0, o[11]!), orientation: q }, covariance: cov36 },
        twist: { twist: { linear: v3(o[8]!, o[9]!, o[10]!), angular: v3(o[5]!, o[6]!, o[7]!) }, covariance: cov36 },
      });
    };
  }
}
