/**
 * `point-nav`: the paper's point agent navigation with traps (Appendix A.5), embedded in
 * TypeScript so training needs no Python. A point with two actuators — turn and move
 * forward/backward — crosses a 4 m × 4 m arena to a goal. A band of three overlapping circular
 * traps lies across the straight route: driving straight through costs more than the 25 health
 * the agent has, so the quick route fails and a detour around the band's ends costs time.
 *
 * Health starts at 25 and drops by 1 for every step that ends inside a trap; reaching 0 is the
 * catastrophic failure (C(s′) = 1, episode terminated). Reaching the goal ends the episode with
 * success. Episodes are truncated at 500 steps. Everything is seeded: env i of a vector reset with
 * seed S draws its layouts from Rng(S + i).
 */
import { Rng } from '../core/rng.ts';
import { drawPointNav } from '../render/point-nav.ts';
import {
  EnvInputError,
  type EnvSpec,
  type Frame,
  type RenderableVecEnv,
  type RenderedStep,
  type RenderRequest,
  type SnapshotVecEnv,
  type VecStepResult,
  checkActions,
} from './env.ts';

/** Tunable constants of the task (defaults: the documented task). */
export interface PointNavOptions {
  readonly maxEpisodeSteps: number;
  readonly health: number;
  /** Forward speed at |forward| = 1, metres per step. */
  readonly speedMPerStep: number;
  /** Heading change at |turn| = 1, radians per step. */
  readonly turnRadPerStep: number;
  readonly trapRadiusM: number;
  readonly goalRadiusM: number;
}

export const POINT_NAV_DEFAULTS: PointNavOptions = {
  maxEpisodeSteps: 500,
  health: 25,
  speedMPerStep: 0.06,
  turnRadPerStep: 0.25,
  trapRadiusM: 0.45,
  goalRadiusM: 0.25,
};

const NUM_TRAPS = 3;
const ARENA_HALF_M = 2;
const PROGRESS_REWARD_PER_M = 10;
const STEP_PENALTY = 0.01;
const GOAL_BONUS = 5;

const OBS_NAMES = [
  'goal_forward_m/4',
  'goal_left_m/4',
  'goal_dist_m/4',
  'cos_heading',
  'sin_heading',
  'x_m/2',
  'y_m/2',
  ...Array.from({ length: NUM_TRAPS }, (_, k) => [`trap${k}_forward_m/4`, `trap${k}_left_m/4`, `trap${k}_edge_dist_m/4`]).flat(),
  'health/25',
];

/** The spec of `point-nav` with the given options. */
export function pointNavSpec(o: PointNavOptions = POINT_NAV_DEFAULTS): EnvSpec {
  return {
    id: 'point-nav',
    obsSize: OBS_NAMES.length,
    actSize: 2,
    actLow: [-1, -1],
    actHigh: [1, 1],
    obsNames: OBS_NAMES,
    actNames: ['turn', 'forward'],
    maxEpisodeSteps: o.maxEpisodeSteps,
    controlPeriodS: 0.1,
    failureMeaning: `health (starts at ${o.health}, −1 per step ending inside a trap) reached 0`,
  };
}

/** `numEnvs` point-nav envs stepped in lock-step, state in typed arrays. */
export class PointNavVecEnv implements RenderableVecEnv, SnapshotVecEnv {
  readonly spec: EnvSpec;
  private readonly o: PointNavOptions;
  private readonly rngs: Rng[] = [];
  private readonly x: Float64Array;
  private readonly y: Float64Array;
  private readonly heading: Float64Array;
  private readonly goalX: Float64Array;
  private readonly goalY: Float64Array;
  private readonly trapX: Float64Array;
  private readonly trapY: Float64Array;
  private readonly health: Int32Array;
  private readonly t: Int32Array;
  private started = false;

  constructor(
    readonly numEnvs: number,
    options: Partial<PointNavOptions> = {},
  ) {
    if (!Number.isInteger(numEnvs) || numEnvs < 1) throw new RangeError(`point-nav: numEnvs must be a positive integer, got ${numEnvs}`);
    this.o = { ...POINT_NAV_DEFAULTS, ...options };
    this.spec = pointNavSpec(this.o);
    this.x = new Float64Array(numEnvs);
    this.y = new Float64Array(numEnvs);
    this.heading = new Float64Array(numEnvs);
    this.goalX = new Float64Array(numEnvs);
    this.goalY = new Float64Array(numEnvs);
    this.trapX = new Float64Array(numEnvs * NUM_TRAPS);
    this.trapY = new Float64Array(numEnvs * NUM_TRAPS);
    this.health = new Int32Array(numEnvs);
    this.t = new Int32Array(numEnvs);
  }

  reset(seed: number): Promise<Float32Array> {
    this.rngs.length = 0;
    const obs = new Float32Array(this.numEnvs * this.spec.obsSize);
    for (let e = 0; e < this.numEnvs; e++) {
      this.rngs.push(new Rng(seed + e));
      this.resetOne(e);
      this.observe(e, obs);
    }
    this.started = true;
    return Promise.resolve(obs);
  }

  step(actions: Float32Array): Promise<VecStepResult> {
    return Promise.resolve(this.stepWith(actions, undefined).step);
  }

  /** A top view of env `request.env`'s current state (src/render/point-nav.ts). */
  renderFrame(request: RenderRequest): Promise<Frame> {
    if (!this.started) throw new Error('point-nav: renderFrame() before reset()');
    this.checkRender(request);
    return Promise.resolve(this.draw(request));
  }

  /** `step`, plus a top view of env `request.env`'s s′ drawn before it auto-resets. */
  stepRendered(actions: Float32Array, request: RenderRequest): Promise<RenderedStep> {
    this.checkRender(request);
    return Promise.resolve(this.stepWith(actions, request));
  }

  private checkRender(r: RenderRequest): void {
    if (!Number.isInteger(r.env) || r.env < 0 || r.env >= this.numEnvs) {
      throw new EnvInputError(`point-nav: render env ${r.env}, expected an integer in [0, ${this.numEnvs - 1}]`);
    }
    for (const [name, v] of [['widthPx', r.widthPx], ['heightPx', r.heightPx]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 4096) throw new EnvInputError(`point-nav: render ${name} ${v}, expected an integer in [1, 4096]`);
    }
  }

  private draw(r: RenderRequest): Frame {
    const e = r.env;
    return drawPointNav(
      {
        arenaHalfM: ARENA_HALF_M,
        x: this.x[e]!,
        y: this.y[e]!,
        headingRad: this.heading[e]!,
        goal: this.goal(e),
        goalRadiusM: this.o.goalRadiusM,
        traps: Array.from({ length: NUM_TRAPS }, (_, k) => this.trapCentre(e, k)),
        trapRadiusM: this.o.trapRadiusM,
        health: this.health[e]!,
        maxHealth: this.o.health,
      },
      r.widthPx,
      r.heightPx,
    );
  }

  private stepWith(actions: Float32Array, render: RenderRequest | undefined): RenderedStep {
    if (!this.started) throw new Error('point-nav: step() before reset()');
    checkActions(this.spec, this.numEnvs, actions);
    const n = this.numEnvs;
    const d = this.spec.obsSize;
    const obs = new Float32Array(n * d);
    const nextObs = new Float32Array(n * d);
    const reward = new Float32Array(n);
    const failure = new Uint8Array(n);
    const terminated = new Uint8Array(n);
    const truncated = new Uint8Array(n);
    const { speedMPerStep, turnRadPerStep, trapRadiusM, goalRadiusM, maxEpisodeSteps } = this.o;
    let frame: Frame | undefined;
    for (let e = 0; e < n; e++) {
      const turn = clip(actions[2 * e]!);
      const fwd = clip(actions[2 * e + 1]!);
      const d0 = Math.hypot(this.goalX[e]! - this.x[e]!, this.goalY[e]! - this.y[e]!);
      this.heading[e] = wrapAngle(this.heading[e]! + turnRadPerStep * turn);
      this.x[e] = clamp(this.x[e]! + speedMPerStep * fwd * Math.cos(this.heading[e]!), ARENA_HALF_M);
      this.y[e] = clamp(this.y[e]! + speedMPerStep * fwd * Math.sin(this.heading[e]!), ARENA_HALF_M);
      this.t[e]!++;
      for (let k = 0; k < NUM_TRAPS; k++) {
        const i = e * NUM_TRAPS + k;
        if (Math.hypot(this.trapX[i]! - this.x[e]!, this.trapY[i]! - this.y[e]!) < trapRadiusM) {
          this.health[e]!--;
          break; // overlapping traps cost one health per step, not one per trap
        }
      }
      const d1 = Math.hypot(this.goalX[e]! - this.x[e]!, this.goalY[e]! - this.y[e]!);
      const failed = this.health[e]! <= 0;
      const reached = !failed && d1 < goalRadiusM;
      reward[e] = PROGRESS_REWARD_PER_M * (d0 - d1) - STEP_PENALTY + (reached ? GOAL_BONUS : 0);
      failure[e] = failed ? 1 : 0;
      terminated[e] = failed || reached ? 1 : 0;
      truncated[e] = !terminated[e] && this.t[e]! >= maxEpisodeSteps ? 1 : 0;
      this.observe(e, nextObs);
      if (render?.env === e) frame = this.draw(render);
      if (terminated[e] || truncated[e]) {
        this.resetOne(e);
        this.observe(e, obs);
      } else {
        obs.set(nextObs.subarray(e * d, (e + 1) * d), e * d);
      }
    }
    return { step: { obs, nextObs, reward, failure, terminated, truncated, dropped: new Uint8Array(n) }, frame };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Current health of env `e` (for tests and diagnostics). */
  healthOf(e: number): number {
    return this.health[e]!;
  }

  /** Places env `e` at a pose (for scripted tests: park the agent in a trap). */
  setPose(e: number, x: number, y: number, headingRad: number): void {
    this.x[e] = x;
    this.y[e] = y;
    this.heading[e] = headingRad;
  }

  /** Centre of trap `k` of env `e`. */
  trapCentre(e: number, k: number): { x: number; y: number } {
    return { x: this.trapX[e * NUM_TRAPS + k]!, y: this.trapY[e * NUM_TRAPS + k]! };
  }

  /** Every env's state and random stream (the episodes in flight), for a checkpoint. */
  snapshot(): Record<string, unknown> {
    if (!this.started) throw new Error('point-nav: snapshot() before reset()');
    const arr = (a: Float64Array | Int32Array): number[] => Array.from(a);
    return {
      env: 'point-nav',
      numEnvs: this.numEnvs,
      options: { ...this.o },
      rngs: this.rngs.map((r) => r.state()),
      x: arr(this.x),
      y: arr(this.y),
      heading: arr(this.heading),
      goalX: arr(this.goalX),
      goalY: arr(this.goalY),
      trapX: arr(this.trapX),
      trapY: arr(this.trapY),
      health: arr(this.health),
      t: arr(this.t),
    };
  }

  /** Restores a {@link snapshot} of a point-nav vector of the same size and options. */
  restoreSnapshot(state: unknown): void {
    const where = 'point-nav snapshot';
    if (typeof state !== 'object' || state === null) throw new Error(`${where}: expected an object, got ${JSON.stringify(state)}`);
    const s = state as Record<string, unknown>;
    if (s.env !== 'point-nav') throw new Error(`${where}: env is ${JSON.stringify(s.env)}, expected "point-nav"`);
    if (s.numEnvs !== this.numEnvs) throw new Error(`${where}: holds ${JSON.stringify(s.numEnvs)} envs, this vector has ${this.numEnvs}`);
    if (JSON.stringify(s.options) !== JSON.stringify(this.o)) throw new Error(`${where}: options ${JSON.stringify(s.options)} differ from this env's ${JSON.stringify(this.o)}`);
    const nums = (key: string, length: number, integer: boolean, lo = -Infinity, hi = Infinity): number[] => {
      const v = s[key];
      if (!Array.isArray(v) || v.length !== length || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || (integer && !Number.isInteger(x)) || x < lo || x > hi)) {
        const range = Number.isFinite(lo) ? ` in [${lo}, ${hi}]` : '';
        throw new Error(`${where}: ${key} must be ${length} finite ${integer ? 'integers' : 'numbers'}${range}`);
      }
      return v as number[];
    };
    const n = this.numEnvs;
    const rngs = s.rngs;
    if (!Array.isArray(rngs) || rngs.length !== n) throw new Error(`${where}: rngs must hold ${n} generator states`);
    const restored = rngs.map((r: unknown, e) => {
      const g = new Rng(0);
      try {
        g.setState(r as number[]);
      } catch (err) {
        throw new Error(`${where}: rngs[${e}]: ${err instanceof Error ? err.message : String(err)}`);
      }
      return g;
    });
    const fields: [Float64Array | Int32Array, string, number, boolean][] = [
      [this.x, 'x', n, false],
      [this.y, 'y', n, false],
      [this.heading, 'heading', n, false],
      [this.goalX, 'goalX', n, false],
      [this.goalY, 'goalY', n, false],
      [this.trapX, 'trapX', n * NUM_TRAPS, false],
      [this.trapY, 'trapY', n * NUM_TRAPS, false],
      [this.health, 'health', n, true],
      [this.t, 't', n, true],
    ];
    // Between steps every episode is alive (a finished one was reset): health ≥ 1, t below the limit.
    const bounds: Record<string, [number, number]> = { health: [1, this.o.health], t: [0, this.o.maxEpisodeSteps - 1] };
    const values = fields.map(([, key, length, integer]) => nums(key, length, integer, ...(bounds[key] ?? [-Infinity, Infinity])));
    fields.forEach(([target], i) => {
      target.set(values[i]!);
    });
    this.rngs.length = 0;
    this.rngs.push(...restored);
    this.started = true;
  }

  /** Goal of env `e`. */
  goal(e: number): { x: number; y: number } {
    return { x: this.goalX[e]!, y: this.goalY[e]! };
  }

  private resetOne(e: number): void {
    const r = this.rngs[e]!;
    this.x[e] = -1.5 + r.range(-0.1, 0.1);
    this.y[e] = r.range(-0.3, 0.3);
    this.heading[e] = r.range(-Math.PI, Math.PI);
    this.goalX[e] = 1.5 + r.range(-0.1, 0.1);
    this.goalY[e] = r.range(-0.3, 0.3);
    for (let k = 0; k < NUM_TRAPS; k++) {
      this.trapX[e * NUM_TRAPS + k] = -0.6 + 0.6 * k + r.range(-0.05, 0.05);
      this.trapY[e * NUM_TRAPS + k] = r.range(-0.15, 0.15);
    }
    this.health[e] = this.o.health;
    this.t[e] = 0;
  }

  private observe(e: number, out: Float32Array): void {
    const o = e * this.spec.obsSize;
    const c = Math.cos(this.heading[e]!);
    const s = Math.sin(this.heading[e]!);
    const px = this.x[e]!;
    const py = this.y[e]!;
    const gx = this.goalX[e]! - px;
    const gy = this.goalY[e]! - py;
    out[o] = (c * gx + s * gy) / 4;
    out[o + 1] = (-s * gx + c * gy) / 4;
    out[o + 2] = Math.hypot(gx, gy) / 4;
    out[o + 3] = c;
    out[o + 4] = s;
    out[o + 5] = px / ARENA_HALF_M;
    out[o + 6] = py / ARENA_HALF_M;
    for (let k = 0; k < NUM_TRAPS; k++) {
      const tx = this.trapX[e * NUM_TRAPS + k]! - px;
      const ty = this.trapY[e * NUM_TRAPS + k]! - py;
      out[o + 7 + 3 * k] = (c * tx + s * ty) / 4;
      out[o + 8 + 3 * k] = (-s * tx + c * ty) / 4;
      out[o + 9 + 3 * k] = (Math.hypot(tx, ty) - this.o.trapRadiusM) / 4;
    }
    out[o + 7 + 3 * NUM_TRAPS] = this.health[e]! / this.o.health;
  }
}

function clip(v: number): number {
  return v < -1 ? -1 : v > 1 ? 1 : v;
}

function clamp(v: number, half: number): number {
  return v < -half ? -half : v > half ? half : v;
}

function wrapAngle(a: number): number {
  return a > Math.PI ? a - 2 * Math.PI : a < -Math.PI ? a + 2 * Math.PI : a;
}
