/**
 * The ROS 2 safety node: state topics in, safety-filtered commands out, on any {@link RosTransport}.
 *
 * Each decision, in order (the first that applies wins):
 *   1. e-stop latched (a `true` on the e-stop topic; only an explicit `false` releases it) → hold;
 *   2. a state topic never arrived, or its last message is `stateTimeoutMs` old or older → hold;
 *   3. the profile's failure detector fires (latched until a reset message) → hold;
 *   4. the observation cannot be built (NaN, implausible, missing joint) → hold;
 *   5. the policy samples up to K candidates and the training filter picks the first with
 *      Q_C(s, a) ≤ ε — `DeployedPolicy.act`, the same code as training; a policy fault or a
 *      non-finite action → hold; when every candidate was rejected (`exhausted`), the profile's
 *      `safety.onExhausted` decides: `hold` (default) or `fallback` (execute the filter's
 *      fallback action, counted as a fallback);
 *   6. the command is clamped to the profile's hard limits and published.
 * Every decision also publishes [Q_C, ε, candidates tried, fallback used, hold] on the critic
 * topic; diagnostic_msgs/DiagnosticArray goes out at the profile's diagnostics rate.
 *
 * Decisions happen at the control rate (`trigger: timer`), or when every state topic has a new
 * message (`fresh-state`: sim in the loop, benchmarks) with a watchdog that holds when state stops.
 * Times are the scheduler's, so tests drive the node on virtual time.
 */
import { type Observable, type SchedulerLike, Subject, Subscription, asyncScheduler, filter, interval, map, merge, share, startWith, switchMap, tap, timer } from 'rxjs';
import type { DeployedPolicy } from '../algos/deploy.ts';
import type { EnvSpec } from '../envs/env.ts';
import { LaikagoAdapter } from './laikago.ts';
import { DiagnosticLevel, type KeyValue, type Time } from './messages.ts';
import { PandaAdapter } from './panda.ts';
import type { RobotProfile } from './profile.ts';
import type { LimitFlag, RobotAdapter } from './robot.ts';
import type { RosPublisher, RosTransport } from './transport.ts';

/** Why the node held instead of letting the policy act. */
export type HoldKind = 'waiting' | 'stale' | 'estop' | 'failure' | 'invalid-input' | 'policy-fault' | 'exhausted';

/** One decision of the node (emitted on {@link SafetyNode.decisions$}). */
export interface Decision {
  /** Scheduler time of the decision (ms). */
  readonly atMs: number;
  readonly hold: HoldKind | null;
  /** Why it held ('' when the policy acted). */
  readonly reason: string;
  /** The observation acted on (null on a hold before it was built). */
  readonly obs: Float32Array | null;
  /** The filter's action before the hard limits (null on a hold). */
  readonly action: Float32Array | null;
  readonly qc: number;
  readonly epsilon: number;
  readonly tried: number;
  readonly fallback: boolean;
  /** Hard limits that changed the command. */
  readonly limited: readonly LimitFlag[];
}

/** Counters since start (diagnostics, `csc node` summary). */
export interface NodeStats {
  decisions: number;
  policySteps: number;
  fallbacks: number;
  limited: number;
  holds: Record<HoldKind, number>;
}

/** The checkpoint does not fit the profile (env, observation layout, rate). */
export class NodeSetupError extends Error {
  override readonly name = 'NodeSetupError';
}

export interface SafetyNodeOptions {
  readonly transport: RosTransport;
  readonly profile: RobotProfile;
  readonly policy: DeployedPolicy;
  readonly scheduler?: SchedulerLike;
  /** Filter threshold ε (default: the checkpoint's). */
  readonly epsilon?: number;
  /** Filter through Q_C (default true when the policy has a critic). */
  readonly filter?: boolean;
  /** First candidate = the policy's mean action (default false: sample as in training). */
  readonly deterministic?: boolean;
  /** Overrides the profile's trigger (sim in the loop uses `fresh-state`). */
  readonly trigger?: 'timer' | 'fresh-state';
  /** Overrides the profile's state timeout (sim time is not wall time). */
  readonly stateTimeoutMs?: number;
}

export function makeAdapter(profile: RobotProfile): RobotAdapter {
  switch (profile.robot) {
    case 'panda':
      return new PandaAdapter(profile);
    case 'laikago':
      return new LaikagoAdapter(profile);
  }
}

/** Checks that a checkpoint's env matches what the profile's observation builder produces. */
export function checkCompatible(profile: RobotProfile, adapter: RobotAdapter, spec: EnvSpec): void {
  if (!profile.envs.includes(spec.id) && spec.id !== `ros:${profile.name}`) throw new NodeSetupError(`the checkpoint was trained on ${spec.id}, but profile ${profile.name} serves ${profile.envs.join(', ')} (its field envs)`);
  const names = adapter.obsNames;
  if (spec.obsSize !== names.length || spec.obsNames.some((n, i) => n !== names[i])) {
    const i = spec.obsNames.findIndex((n, k) => n !== names[k]);
    throw new NodeSetupError(`the checkpoint's observation layout differs from profile ${profile.name}'s: index ${i} is ${spec.obsNames[i] ?? '(none)'} in the checkpoint, ${names[i] ?? '(none)'} in the node (${spec.obsSize} vs ${names.length} values)`);
  }
  const trainedHz = 1 / spec.controlPeriodS;
  if (Math.abs(trainedHz - profile.controlRateHz) > 1e-6 * trainedHz) {
    throw new NodeSetupError(`profile ${profile.name}: controlRateHz is ${profile.controlRateHz}, but ${spec.id} was trained at ${trainedHz} Hz (control period ${spec.controlPeriodS} s); the policy only knows that rate`);
  }
}

const CRITIC_LAYOUT = { dim: [{ label: 'qc,epsilon,candidates_tried,fallback_used,hold', size: 5, stride: 5 }], data_offset: 0 };

export class SafetyNode {
  readonly adapter: RobotAdapter;
  readonly stats: NodeStats = { decisions: 0, policySteps: 0, fallbacks: 0, limited: 0, holds: { waiting: 0, stale: 0, estop: 0, failure: 0, 'invalid-input': 0, 'policy-fault': 0, exhausted: 0 } };
  private readonly decisionsSubject = new Subject<Decision>();
  /** Every decision, in order; errors when a transport stream fails. */
  readonly decisions$: Observable<Decision> = this.decisionsSubject.asObservable();
  private readonly scheduler: SchedulerLike;
  private readonly receipt = new Map<string, number>();
  private readonly fresh = new Set<string>();
  private readonly obs: Float32Array;
  private readonly timeoutMs: number;
  private readonly periodMs: number;
  private readonly epsilon: number;
  private estopLatched = false;
  private waitingFor: string | null = null;
  private failure: string | null = null;
  private lastDiagnosticsMs = Number.NEGATIVE_INFINITY;
  private last: Decision | null = null;
  private sub: Subscription | null = null;
  private criticPub: RosPublisher<'std_msgs/msg/Float64MultiArray'> | null = null;
  private diagPub: RosPublisher<'diagnostic_msgs/msg/DiagnosticArray'> | null = null;

  constructor(private readonly options: SafetyNodeOptions) {
    const { profile, policy } = options;
    this.adapter = makeAdapter(profile);
    checkCompatible(profile, this.adapter, policy.spec);
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.obs = new Float32Array(policy.spec.obsSize);
    this.timeoutMs = options.stateTimeoutMs ?? profile.stateTimeoutMs;
    this.periodMs = 1000 / profile.controlRateHz;
    this.epsilon = options.epsilon ?? policy.epsilon;
  }

  /** Whether the e-stop hold is latched. */
  get estop(): boolean {
    return this.estopLatched;
  }

  /**
   * Holds (kind `waiting`, with this reason) until called again with null: e.g. while the
   * command consumer (MoveIt Servo) has not been started yet.
   */
  waitFor(reason: string | null): void {
    this.waitingFor = reason;
  }

  /** Subscribes, opens publishers and starts deciding. */
  start(): void {
    if (this.sub !== null) throw new Error('SafetyNode.start: already started');
    const { transport: t, profile } = this.options;
    this.criticPub = t.createPublisher(profile.topics.critic, 'std_msgs/msg/Float64MultiArray');
    this.diagPub = t.createPublisher(profile.topics.diagnostics, 'diagnostic_msgs/msg/DiagnosticArray');
    const arrivals$ = this.adapter.connect(t).pipe(
      tap((topic) => {
        this.receipt.set(topic, this.scheduler.now());
        this.fresh.add(topic);
      }),
      share(),
    );
    const estop$ = t.subscribe(profile.topics.estop, 'std_msgs/msg/Bool').pipe(
      tap((m) => {
        // true latches; only an explicit false releases (a dead e-stop publisher keeps it latched).
        this.estopLatched = m.data;
      }),
      filter((m) => m.data),
    );
    const reset$ = t.subscribe(profile.topics.reset, 'std_msgs/msg/Empty').pipe(
      tap(() => {
        this.failure = null;
        this.adapter.reset();
      }),
    );
    const trigger = this.options.trigger ?? profile.trigger;
    let ticks$: Observable<unknown>;
    if (trigger === 'timer') {
      ticks$ = interval(this.periodMs, this.scheduler);
    } else {
      const freshSet$ = arrivals$.pipe(
        filter(() => this.adapter.stateTopics.every((s) => this.fresh.has(s))),
        share(),
      );
      // Watchdog: without a fresh set for the timeout, decide (and so hold) at the control rate.
      const watchdog$ = freshSet$.pipe(
        startWith(null),
        switchMap(() => timer(this.timeoutMs, this.periodMs, this.scheduler)),
      );
      ticks$ = merge(freshSet$, watchdog$);
    }
    this.sub = merge(arrivals$.pipe(filter(() => false)), reset$.pipe(filter(() => false)), estop$, ticks$)
      .pipe(map(() => this.decide()))
      .subscribe({
        next: (d) => {
          this.decisionsSubject.next(d);
        },
        error: (e: unknown) => {
          this.adapter.hold(t.now());
          this.decisionsSubject.error(e);
        },
      });
  }

  /** Publishes a final hold and unsubscribes (the transport stays open). */
  stop(): void {
    if (this.sub === null) return;
    this.sub.unsubscribe();
    this.sub = null;
    this.adapter.hold(this.options.transport.now());
    this.decisionsSubject.complete();
  }

  private decide(): Decision {
    const now = this.scheduler.now();
    const stamp = this.options.transport.now();
    this.fresh.clear();
    let hold: HoldKind | null = null;
    let reason = '';
    let obs: Float32Array | null = null;
    let action: Float32Array | null = null;
    let qc = Number.NaN;
    let tried = 0;
    let fallback = false;
    let limited: readonly LimitFlag[] = [];
    const stale = this.staleness(now);
    if (this.estopLatched) [hold, reason] = ['estop', `e-stop latched on ${this.options.profile.topics.estop} (publish false to release)`];
    else if (this.waitingFor !== null) [hold, reason] = ['waiting', this.waitingFor];
    else if (stale !== null) [hold, reason] = stale;
    else {
      this.failure ??= this.adapter.detectFailure();
      if (this.failure !== null) [hold, reason] = ['failure', `${this.failure} (latched until a message on ${this.options.profile.topics.reset})`];
    }
    if (hold === null) {
      const bad = this.adapter.observe(this.obs);
      if (bad !== null) [hold, reason] = ['invalid-input', bad];
      else obs = this.obs.slice();
    }
    if (hold === null && obs !== null) {
      try {
        const r = this.options.policy.act(obs, 1, { epsilon: this.epsilon, filter: this.options.filter ?? true, deterministic: this.options.deterministic ?? false });
        action = r.actions;
        qc = r.qc[0]!;
        tried = r.tried[0]!;
        fallback = r.exhausted[0] === 1;
        const i = action.findIndex((v) => !Number.isFinite(v));
        if (i >= 0) [hold, reason] = ['policy-fault', `the policy's action ${this.options.policy.spec.actNames[i] ?? i} is ${action[i]}`];
        else if (fallback && this.options.profile.safety.onExhausted === 'hold') {
          [hold, reason] = ['exhausted', `no candidate passed Q_C ≤ ε = ${this.epsilon} (${tried} tried); safety.onExhausted is hold`];
        }
      } catch (e) {
        [hold, reason] = ['policy-fault', `the policy failed: ${e instanceof Error ? e.message : String(e)}`];
      }
    }
    if (hold !== null) {
      this.adapter.hold(stamp);
      this.stats.holds[hold]++;
    } else if (action !== null) {
      limited = this.adapter.actuate(action, stamp);
      this.stats.policySteps++;
      if (fallback) this.stats.fallbacks++;
      if (limited.length > 0) this.stats.limited++;
    }
    this.stats.decisions++;
    const d: Decision = { atMs: now, hold, reason, obs, action: hold === null ? action : null, qc, epsilon: this.epsilon, tried, fallback, limited };
    this.last = d;
    this.criticPub?.publish({ layout: CRITIC_LAYOUT, data: [qc, this.epsilon, tried, fallback ? 1 : 0, hold === null ? 0 : 1] });
    if (now - this.lastDiagnosticsMs >= 1000 / this.options.profile.diagnosticsRateHz) {
      this.lastDiagnosticsMs = now;
      this.publishDiagnostics(stamp);
    }
    return d;
  }

  private staleness(now: number): [HoldKind, string] | null {
    for (const topic of this.adapter.stateTopics) {
      const r = this.receipt.get(topic);
      if (r === undefined) return ['waiting', `waiting for ${topic}`];
      if (now - r >= this.timeoutMs) return ['stale', `${topic} is stale: last message ${(now - r).toFixed(0)} ms ago, timeout ${this.timeoutMs} ms`];
    }
    return null;
  }

  private publishDiagnostics(stamp: Time): void {
    const d = this.last;
    const s = this.stats;
    const level = d === null || d.hold === 'waiting' || d.hold === 'exhausted' ? DiagnosticLevel.WARN : d.hold !== null ? DiagnosticLevel.ERROR : d.fallback || d.limited.length > 0 ? DiagnosticLevel.WARN : DiagnosticLevel.OK;
    const kv = (key: string, value: string | number): KeyValue => ({ key, value: String(value) });
    const message = d === null ? 'starting' : d.hold !== null ? `hold (${d.hold}): ${d.reason}` : d.fallback ? "policy acting; no candidate passed Q_C ≤ ε, the filter's fallback used (safety.onExhausted: fallback)" : d.limited.length > 0 ? `policy acting; limited by ${d.limited.join(', ')}` : 'policy acting';
    this.diagPub?.publish({
      header: { stamp, frame_id: '' },
      status: [
        {
          level,
          name: `${this.options.transport.nodeName}: safety filter`,
          message,
          hardware_id: this.options.profile.name,
          values: [
            kv('qc', d?.qc ?? Number.NaN),
            kv('epsilon', this.epsilon),
            kv('candidates_tried', d?.tried ?? 0),
            kv('fallback_used', String(d?.fallback ?? false)),
            kv('estop_latched', String(this.estopLatched)),
            kv('decisions', s.decisions),
            kv('policy_steps', s.policySteps),
            kv('fallbacks', s.fallbacks),
            kv('limited', s.limited),
            ...Object.entries(s.holds).map(([k, v]) => kv(`holds_${k}`, v)),
          ],
        },
      ],
    });
  }
}
