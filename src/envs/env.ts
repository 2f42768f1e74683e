/**
 * The Env contract (DESIGN.md "Contracts"): every environment — embedded, remote over ZeroMQ, or a
 * real robot through ROS 2 — is seen by learners as one vectorised env stepped in lock-step.
 *
 * Cost is first-class: `failure` is C(s′) ∈ {0,1} of the paper, and a failure always terminates the
 * episode. Envs reset themselves when an episode ends (auto-reset): `obs` is what the policy acts on
 * next, `nextObs` is the true s′ of the transition just taken (needed to bootstrap on truncation).
 */

/** Static description of an environment, identical for every copy in a vector. */
export interface EnvSpec {
  /** Registered id, e.g. `point-nav`, `panda-push-topple`, `gym:CartPole-v1`. */
  readonly id: string;
  /** Length of one observation vector. */
  readonly obsSize: number;
  /** Length of one action vector. */
  readonly actSize: number;
  /** Per-dimension action bounds; the learner's actions are clipped to them by the env. */
  readonly actLow: readonly number[];
  readonly actHigh: readonly number[];
  /** One name per observation index, documenting the layout (e.g. `goal_dx`, `health`). */
  readonly obsNames: readonly string[];
  /** One name per action index (e.g. `turn`, `forward`). */
  readonly actNames: readonly string[];
  /** Episodes are truncated after this many steps (500 in the paper). */
  readonly maxEpisodeSteps: number;
  /** Simulated (or real) time of one step, in seconds. */
  readonly controlPeriodS: number;
  /** One sentence saying what a catastrophic failure is in this env. */
  readonly failureMeaning: string;
}

/** Result of stepping every env of a vector once. Arrays are owned by the caller after return. */
export interface VecStepResult {
  /** Observations to act on next, `numEnvs × obsSize` (a fresh reset where an episode ended). */
  readonly obs: Float32Array;
  /** The true next state s′ of each transition, `numEnvs × obsSize`. */
  readonly nextObs: Float32Array;
  /** Task reward r(s, a). */
  readonly reward: Float32Array;
  /** C(s′): 1 when the transition ended in a catastrophic failure. Implies `terminated`. */
  readonly failure: Uint8Array;
  /** The episode ended in a terminal state (failure or success): do not bootstrap. */
  readonly terminated: Uint8Array;
  /** The episode was cut by the time limit: bootstrap from `nextObs`. */
  readonly truncated: Uint8Array;
  /**
   * The transition is not valid (e.g. a sim server died and the episode was dropped): the learner
   * must discard it. `obs` holds a fresh reset for that env. All zeros for envs that cannot fault.
   */
  readonly dropped: Uint8Array;
}

/** A vector of `numEnvs` copies of one environment stepped in lock-step. */
export interface VecEnv {
  readonly spec: EnvSpec;
  readonly numEnvs: number;
  /** Resets every env; env i is seeded with `seed + i`. Returns `numEnvs × obsSize` observations. */
  reset(seed: number): Promise<Float32Array>;
  /** Steps every env with `actions` (`numEnvs × actSize`). */
  step(actions: Float32Array): Promise<VecStepResult>;
  /** Releases processes, sockets and handles. Idempotent. */
  close(): Promise<void>;
}

/**
 * A vector env whose whole state, the episodes in flight included, can go into a checkpoint and
 * come back, so `--resume` continues those episodes instead of resetting every env. The embedded
 * envs are such; sim servers are not (their physics state stays in their process).
 */
export interface SnapshotVecEnv extends VecEnv {
  /** The state as plain JSON (numbers, arrays, strings); restoring it and stepping continues exactly. */
  snapshot(): Record<string, unknown>;
  /** Restores a {@link snapshot}; throws an Error naming the field when it does not fit this env. */
  restoreSnapshot(state: unknown): void;
}

/** Whether `env` can save and restore its episodes in flight. */
export function canSnapshot(env: VecEnv): env is SnapshotVecEnv {
  const e = env as Partial<SnapshotVecEnv>;
  return typeof e.snapshot === 'function' && typeof e.restoreSnapshot === 'function';
}

/** An RGB picture of one env's state: `heightPx × widthPx × 3` bytes, row-major, top row first. */
export interface Frame {
  readonly widthPx: number;
  readonly heightPx: number;
  readonly rgb: Uint8Array;
}

/** Which env of a vector to picture, and how large. */
export interface RenderRequest {
  readonly env: number;
  readonly widthPx: number;
  readonly heightPx: number;
}

/** A step that also pictures one env (see {@link RenderableVecEnv.stepRendered}). */
export interface RenderedStep {
  readonly step: VecStepResult;
  /** The rendered env's s′, before any auto-reset; undefined when its transition was dropped. */
  readonly frame: Frame | undefined;
}

/**
 * A vector env that can picture its envs (`csc eval --render`). Rendering never changes the
 * simulation: a rendered run replays an unrendered one with the same seed and actions.
 */
export interface RenderableVecEnv extends VecEnv {
  /** The current state of one env (after `reset`: its first state). */
  renderFrame(request: RenderRequest): Promise<Frame>;
  /** `step`, plus a picture of env `request.env`'s s′ taken before that env auto-resets. */
  stepRendered(actions: Float32Array, request: RenderRequest): Promise<RenderedStep>;
}

/** Whether `env` can render (point-nav, and remote envs whose servers speak the `render` op). */
export function isRenderable(env: VecEnv): env is RenderableVecEnv {
  const e = env as Partial<RenderableVecEnv>;
  return typeof e.renderFrame === 'function' && typeof e.stepRendered === 'function';
}

/** A bad argument to an env (wrong action size, NaN action, unknown id): names what and where. */
export class EnvInputError extends Error {
  override readonly name = 'EnvInputError';
}

/** Checks an action batch before it reaches a simulator. Throws {@link EnvInputError}. */
export function checkActions(spec: EnvSpec, numEnvs: number, actions: Float32Array): void {
  const expected = numEnvs * spec.actSize;
  if (actions.length !== expected) {
    throw new EnvInputError(
      `${spec.id}: action batch has ${actions.length} values, expected ${expected} (${numEnvs} envs × ${spec.actSize})`,
    );
  }
  for (let i = 0; i < actions.length; i++) {
    if (!Number.isFinite(actions[i])) {
      const env = Math.floor(i / spec.actSize);
      throw new EnvInputError(
        `${spec.id}: action ${spec.actNames[i % spec.actSize] ?? i % spec.actSize} of env ${env} is ${actions[i]}, expected a finite number`,
      );
    }
  }
}
