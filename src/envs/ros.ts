/**
 * Learning on the robot: a robot, through its ROS 2 profile (`hardware/*.yaml`), as a VecEnv of
 * one env (`csc train --env ros:panda`). The same parts as the safety node: the profile's robot
 * adapter subscribes to the state topics, builds the observation in the training sim's layout,
 * detects failures, and clamps every command to the hard limits before publishing it. The
 * learner's actor filters every action through Q_C before it reaches `step`, so exploring runs
 * with the filter on.
 *
 * One step: publish the command, wait for the next complete set of fresh state messages (every
 * state topic received after the command; with the `timer` trigger also one control period),
 * build s′, reward from the profile's `learning.reward`, failure from the detector or the
 * profile's failure topic. When an episode ends (failure, success, time limit) the env publishes
 * the hold command, waits one state set, publishes on the profile's reset topic and waits (up to
 * `learning.resetTimeoutS`) for state that builds an observation and passes the failure detector:
 * an operator (or the robot's own reset routine) restores the scene meanwhile. A state set that
 * does not arrive within the state timeout, or that cannot be read, drops the episode (`dropped`,
 * with the reason in {@link RosVecEnv.lastDrop}) instead of failing the run. docs/ros.md.
 */
import { fileURLToPath } from 'node:url';
import { Subject, type Subscription, filter, firstValueFrom, map, of, timeout } from 'rxjs';
import { LAIKAGO_OBS_NAMES } from '../ros/laikago.ts';
import { LoopbackGraph, LoopbackTransport } from '../ros/loopback.ts';
import { McapRecorder } from '../ros/mcap.ts';
import { type RobotProfile, loadProfile } from '../ros/profile.ts';
import { createRclnodejsTransport } from '../ros/rclnodejs-transport.ts';
import { recordNodeTopics } from '../ros/record.ts';
import type { RobotAdapter } from '../ros/robot.ts';
import { makeAdapter } from '../ros/safety-node.ts';
import { SimBridge } from '../ros/sim-bridge.ts';
import { type RosPublisher, type RosTransport, TransportError } from '../ros/transport.ts';
import { type EnvSpec, EnvInputError, type VecEnv, type VecStepResult, checkActions } from './env.ts';

/** The robot did not come back for a new episode in time (the run cannot go on). */
export class RobotResetError extends Error {
  override readonly name = 'RobotResetError';
}

export interface RosVecEnvOptions {
  readonly transport: RosTransport;
  readonly profile: RobotProfile;
  /** Overrides the profile's `stateTimeoutMs` (sim in the loop: sim time is not wall time). */
  readonly stateTimeoutMs?: number;
  /** Episode ends, drops and reset requests, one line each (default: stderr). */
  readonly log?: (line: string) => void;
  /** Called once by close(), after the final hold: releases what the env runs on (transport, sim). */
  readonly release?: () => Promise<void>;
}

/** The action names of the sims the profiles serve. */
function actNames(profile: RobotProfile): string[] {
  if (profile.robot === 'panda') return ['ee_vx_cmd', 'ee_vy_cmd', 'ee_vz_cmd'];
  return LAIKAGO_OBS_NAMES.slice(36).map((n) => `${n.replace('last_action_', '')}_offset`);
}

/** The spec of `ros:<profile name>`. */
export function rosEnvSpec(profile: RobotProfile, adapter: RobotAdapter): EnvSpec {
  const names = actNames(profile);
  return {
    id: `ros:${profile.name}`,
    obsSize: adapter.obsNames.length,
    actSize: names.length,
    actLow: names.map(() => -1),
    actHigh: names.map(() => 1),
    obsNames: adapter.obsNames,
    actNames: names,
    maxEpisodeSteps: profile.learning.maxEpisodeSteps,
    controlPeriodS: 1 / profile.controlRateHz,
    failureMeaning:
      profile.robot === 'panda'
        ? `the block tilts more than ${profile.failure.objectTiltMaxDeg}° from upright${profile.learning.failureTopic !== null ? ` or ${profile.learning.failureTopic} reports a failure` : ''}`
        : `the robot falls (|roll| or |pitch| above ${profile.failure.maxTiltRad} rad, or base below ${profile.failure.minBaseHeightM} m)${profile.learning.failureTopic !== null ? ` or ${profile.learning.failureTopic} reports a failure` : ''}`,
  };
}

/**
 * The profile's reward for s → s′ (`learning.reward`), from the observations. Panda: panda_push.py's
 * push and reach terms, plus the success bonus; Laikago: weight × forward velocity + alive bonus.
 */
export function profileReward(profile: RobotProfile, obs: Float32Array, next: Float32Array, failure: boolean): { reward: number; success: boolean } {
  if (profile.robot === 'panda') {
    const w = profile.learning.reward;
    // block_to_goal (x, y) at 18–19, ee_to_block at 20–22 (PANDA_OBS_NAMES).
    const goal = (o: Float32Array): number => Math.hypot(o[18]!, o[19]!);
    const reach = (o: Float32Array): number => Math.hypot(o[20]!, o[21]!, o[22]!);
    const success = !failure && goal(next) < w.goalRadiusM;
    const reward = w.pushPerM * (goal(obs) - goal(next)) + w.reachPerM * (reach(obs) - reach(next)) + (success ? w.successBonus : 0);
    return { reward, success };
  }
  const w = profile.learning.reward;
  // vel_forward_m_per_s at 8 (LAIKAGO_OBS_NAMES).
  return { reward: w.forwardVelocityWeight * next[8]! + w.aliveBonus, success: false };
}

export class RosVecEnv implements VecEnv {
  readonly numEnvs = 1;
  readonly spec: EnvSpec;
  readonly adapter: RobotAdapter;
  /** Episodes dropped for stale or unreadable state. */
  droppedEpisodes = 0;
  /** Why the last episode was dropped (null: none was). */
  lastDrop: string | null = null;
  private readonly transport: RosTransport;
  private readonly profile: RobotProfile;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;
  private readonly fresh = new Set<string>();
  private readonly arrivals$ = new Subject<string>();
  private readonly subs: Subscription[] = [];
  private readonly resetPub: RosPublisher<'std_msgs/msg/Empty'>;
  private failureReported = false;
  private obs: Float32Array | null = null;
  private steps = 0;
  private closed: Promise<void> | null = null;

  constructor(private readonly options: RosVecEnvOptions) {
    const { transport, profile } = options;
    this.transport = transport;
    this.profile = profile;
    this.adapter = makeAdapter(profile);
    this.spec = rosEnvSpec(profile, this.adapter);
    this.timeoutMs = options.stateTimeoutMs ?? profile.stateTimeoutMs;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.subs.push(
      this.adapter.connect(transport).subscribe({
        next: (topic) => {
          this.fresh.add(topic);
          this.arrivals$.next(topic);
        },
        error: (e: unknown) => {
          this.arrivals$.error(e);
        },
      }),
    );
    const failureTopic = profile.learning.failureTopic;
    if (failureTopic !== null) {
      this.subs.push(transport.subscribe(failureTopic, 'std_msgs/msg/Bool').subscribe((m) => {
        if (m.data) this.failureReported = true;
      }));
    }
    this.resetPub = transport.createPublisher(profile.topics.reset, 'std_msgs/msg/Empty');
  }

  async reset(_seed: number): Promise<Float32Array> {
    this.checkOpen();
    // A robot cannot be seeded; the sim in the loop seeds its own episodes (docs/ros.md).
    this.adapter.hold(this.transport.now());
    this.obs = await this.newEpisode();
    return this.obs.slice();
  }

  async step(actions: Float32Array): Promise<VecStepResult> {
    this.checkOpen();
    checkActions(this.spec, 1, actions);
    const obs = this.obs;
    if (obs === null) throw new EnvInputError(`${this.spec.id}: step() before reset()`);
    const action = actions.map((a) => Math.max(-1, Math.min(1, a)));
    this.failureReported = false;
    const stale = await this.exchange(() => this.adapter.actuate(action, this.transport.now()), this.timeoutMs);
    if (stale !== null) return this.drop(stale);
    const next = new Float32Array(this.spec.obsSize);
    const bad = this.adapter.observe(next);
    if (bad !== null) return this.drop(`the state cannot be read: ${bad}`);
    const detected = this.adapter.detectFailure() ?? (this.failureReported ? `${this.profile.learning.failureTopic} reported a failure` : null);
    const failure = detected !== null;
    const { reward, success } = profileReward(this.profile, obs, next, failure);
    this.steps++;
    const terminated = failure || success;
    const truncated = !terminated && this.steps >= this.spec.maxEpisodeSteps;
    let nextEpisode: Float32Array = next;
    if (terminated || truncated) {
      await this.holdOneStep();
      this.log(`${this.spec.id}: episode ended after ${this.steps} steps (${detected ?? (success ? 'success' : 'time limit')})`);
      nextEpisode = await this.newEpisode();
    }
    this.obs = nextEpisode;
    return {
      obs: nextEpisode.slice(),
      nextObs: next,
      reward: Float32Array.of(reward),
      failure: Uint8Array.of(failure ? 1 : 0),
      terminated: Uint8Array.of(terminated ? 1 : 0),
      truncated: Uint8Array.of(truncated ? 1 : 0),
      dropped: Uint8Array.of(0),
    };
  }

  close(): Promise<void> {
    if (this.closed === null) {
      this.adapter.hold(this.transport.now());
      for (const s of this.subs) s.unsubscribe();
      this.arrivals$.complete();
      this.closed = this.options.release?.() ?? Promise.resolve();
    }
    return this.closed;
  }

  /** The transition is invalid: hold, count it, start a new episode. */
  private async drop(reason: string): Promise<VecStepResult> {
    this.droppedEpisodes++;
    this.lastDrop = `${this.spec.id}: episode dropped after ${this.steps} steps: ${reason}`;
    this.log(`${this.lastDrop}; holding`);
    await this.holdOneStep();
    this.obs = await this.newEpisode();
    // As RemoteVecEnv: a dropped transition has no true s′; nextObs = the fresh episode's obs.
    return {
      obs: this.obs.slice(),
      nextObs: this.obs.slice(),
      reward: new Float32Array(1),
      failure: new Uint8Array(1),
      terminated: new Uint8Array(1),
      truncated: new Uint8Array(1),
      dropped: Uint8Array.of(1),
    };
  }

  /** Publishes the hold and waits (at most the state timeout) for the state that answers it. */
  private async holdOneStep(): Promise<void> {
    await this.exchange(() => {
      this.adapter.hold(this.transport.now());
    }, this.timeoutMs);
  }

  /**
   * Requests a new episode on the reset topic and waits for a state set that builds an observation
   * and passes the failure detector (the scene restored), up to `learning.resetTimeoutS`.
   */
  private async newEpisode(): Promise<Float32Array> {
    const { topics, learning } = this.profile;
    this.log(`${this.spec.id}: requesting a new episode on ${topics.reset}; the robot holds until the scene is restored (waiting up to ${learning.resetTimeoutS} s)`);
    const deadline = Date.now() + learning.resetTimeoutS * 1000;
    const obs = new Float32Array(this.spec.obsSize);
    let why = 'no state set arrived';
    let send: () => void = () => {
      this.adapter.reset();
      this.failureReported = false;
      this.resetPub.publish({});
    };
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new RobotResetError(`${this.spec.id}: no new episode within learning.resetTimeoutS = ${learning.resetTimeoutS} s after the request on ${topics.reset} (last: ${why}); restore the scene and publish std_msgs/Empty on ${topics.reset}, or raise resetTimeoutS in ${this.profile.name}'s profile`);
      const stale = await this.exchange(send, left);
      send = () => undefined;
      if (stale !== null) continue;
      const bad = this.adapter.observe(obs);
      const failure = bad === null ? this.adapter.detectFailure() : null;
      if (bad === null && failure === null && !this.failureReported) break;
      why = bad ?? failure ?? `${learning.failureTopic} reported a failure`;
      this.failureReported = false;
    }
    this.steps = 0;
    return obs;
  }

  /**
   * Runs `send`, then waits for every state topic to have a message received after it (and, with
   * the `timer` trigger, for one control period). Returns null, or why not within `timeoutMs`.
   */
  private async exchange(send: () => void, timeoutMs: number): Promise<string | null> {
    const topics = this.adapter.stateTopics;
    this.fresh.clear();
    const sentAt = Date.now();
    const complete = firstValueFrom(
      this.arrivals$.pipe(
        filter(() => topics.every((t) => this.fresh.has(t))),
        map(() => null),
        timeout({ first: timeoutMs, with: () => of(`no complete state within the state timeout of ${timeoutMs} ms (missing ${topics.filter((t) => !this.fresh.has(t)).join(', ')})`) }),
      ),
    );
    send();
    const result = await complete;
    if (result === null && this.profile.trigger === 'timer') {
      const wait = 1000 / this.profile.controlRateHz - (Date.now() - sentAt);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return result;
  }

  private checkOpen(): void {
    if (this.closed !== null) throw new EnvInputError(`${this.spec.id}: env used after close()`);
  }
}

/** Options of `ros:` envs given as `--env-arg KEY=VALUE`. */
export interface RosEnvArgs {
  /** Sim in the loop: this Python sim env plays the robot on a loopback transport (no ROS 2). */
  readonly sim?: string;
  /** Overrides the profile's stateTimeoutMs (default with `sim`: 60000, since sim time is not wall time). */
  readonly state_timeout_ms?: number;
  /** With `sim`: the seed of its first episode (default 0; episode k is seeded sim_seed + k). */
  readonly sim_seed?: number;
  /** An MCAP file for the commands as published (after the hard limits), beside --record-transitions. */
  readonly record_commands?: string;
}

const ROS_ENV_ARGS = ['sim', 'state_timeout_ms', 'sim_seed', 'record_commands'];

/** Resolves `ros:<name>`: a shipped profile name (hardware/<name>.yaml) or a path to a profile file. */
export function rosProfilePath(name: string): string {
  if (name === '') throw new EnvInputError("env 'ros:': expected ros:<profile>, e.g. ros:panda, ros:laikago or ros:path/to/profile.yaml");
  if (name.endsWith('.yaml') || name.endsWith('.yml') || name.includes('/')) return name;
  return fileURLToPath(new URL(`../../hardware/${name}.yaml`, import.meta.url));
}

function checkArgs(args: Readonly<Record<string, string | number | boolean>>): RosEnvArgs {
  for (const k of Object.keys(args)) if (!ROS_ENV_ARGS.includes(k)) throw new EnvInputError(`--env-arg ${k}: ros: envs take ${ROS_ENV_ARGS.join(', ')}`);
  const { sim, state_timeout_ms: timeoutMs, sim_seed: seed, record_commands: record } = args;
  if (record !== undefined && (typeof record !== 'string' || !record.endsWith('.mcap'))) throw new EnvInputError(`--env-arg record_commands=${String(record)}: expected a file name ending in .mcap`);
  if (sim !== undefined && typeof sim !== 'string') throw new EnvInputError(`--env-arg sim=${String(sim)}: expected a sim env id such as panda-push-topple`);
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0)) throw new EnvInputError(`--env-arg state_timeout_ms=${String(timeoutMs)}: expected a number of milliseconds > 0`);
  if (seed !== undefined && !(typeof seed === 'number' && Number.isInteger(seed))) throw new EnvInputError(`--env-arg sim_seed=${String(seed)}: expected an integer`);
  return { ...(sim !== undefined ? { sim } : {}), ...(timeoutMs !== undefined ? { state_timeout_ms: timeoutMs } : {}), ...(seed !== undefined ? { sim_seed: seed } : {}), ...(record !== undefined ? { record_commands: record } : {}) };
}

/**
 * `ros:<profile>` → a {@link RosVecEnv} on rclnodejs (ROS 2 sourced), or with `sim` on a loopback
 * transport where the Python sim plays the robot through a {@link SimBridge}.
 * `makeSim(id)` makes the sim's one-env VecEnv (from makeVecEnv, which registers this).
 */
export async function makeRosVecEnv(name: string, numEnvs: number, rawArgs: Readonly<Record<string, string | number | boolean>>, makeSim: (id: string) => Promise<VecEnv>): Promise<VecEnv> {
  if (numEnvs !== 1) throw new EnvInputError(`env ros:${name} is one robot: --num-envs must be 1, got ${numEnvs}`);
  const args = checkArgs(rawArgs);
  const profile = await loadProfile(rosProfilePath(name));
  if (args.sim === undefined) {
    let transport: RosTransport;
    try {
      // Ctrl-C is csc train's: it stops after the epoch in flight, then close() holds and shuts down.
      transport = await createRclnodejsTransport({ nodeName: 'csc_train', rosArgs: [], onSignal: () => undefined });
    } catch (e) {
      if (!(e instanceof TransportError)) throw e;
      throw new TransportError(`env ros:${name}: ${e.message.replace(/ Without ROS 2.*$/, '').replace(/\.$/, '')}. Without ROS 2, learn against a Python sim playing the robot: --env-arg sim=${profile.envs[0] ?? '<sim env>'}`);
    }
    try {
      const recording = await recordCommands(transport, profile, args.record_commands);
      return new RosVecEnv({
        transport,
        profile,
        ...(args.state_timeout_ms !== undefined ? { stateTimeoutMs: args.state_timeout_ms } : {}),
        release: async () => {
          await recording();
          await transport.shutdown();
        },
      });
    } catch (e) {
      await transport.shutdown();
      throw e;
    }
  }
  const graph = new LoopbackGraph();
  const envT = new LoopbackTransport(graph, { nodeName: 'csc_train' });
  const simT = new LoopbackTransport(graph, { nodeName: 'sim_bridge' });
  const sim = await makeSim(args.sim);
  try {
    const bridge = new SimBridge(sim, profile, simT);
    bridge.serve(args.sim_seed ?? 0);
    const recording = await recordCommands(envT, profile, args.record_commands);
    return new RosVecEnv({
      transport: envT,
      profile,
      stateTimeoutMs: args.state_timeout_ms ?? 60_000,
      release: async () => {
        await recording();
        bridge.close();
        await envT.shutdown();
        await simT.shutdown();
        await sim.close();
      },
    });
  } catch (e) {
    await sim.close();
    throw e;
  }
}

/** Starts recording the command topic (`--env-arg record_commands`); returns what stops and closes it. */
async function recordCommands(transport: RosTransport, profile: RobotProfile, path: string | undefined): Promise<() => Promise<void>> {
  if (path === undefined) return () => Promise.resolve();
  const recorder = await McapRecorder.open(path);
  const sub = recordNodeTopics(transport, profile, recorder);
  return async () => {
    sub.unsubscribe();
    await recorder.close();
  };
}
