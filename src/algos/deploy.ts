/**
 * What a trained checkpoint offers to the places that act with it outside training: `csc eval`,
 * the ROS 2 safety node, sim-in-the-loop runs. The same filter code as training decides each
 * action (Algorithm 1, line 6).
 */
import type { EnvSpec } from '../envs/env.ts';

/** The safety filter's decision for a batch of `n` states. */
export interface FilterResult {
  /** Executed actions, `n × actSize`, inside the env's action bounds. */
  readonly actions: Float32Array;
  /** Q_C(s, a) of each executed action (NaN when the policy has no critic or the filter is off). */
  readonly qc: Float32Array;
  /** Candidates examined per state, 1..K (the first passing one is executed). */
  readonly tried: Uint16Array;
  /** 1 when no candidate passed Q_C ≤ ε and the fallback (or the hold, `onExhausted`) was returned. */
  readonly exhausted: Uint8Array;
}

/** Options of one decision. */
export interface ActOptions {
  /** Filter through Q_C (default true when the policy has a critic). */
  readonly filter?: boolean;
  /** Threshold ε; defaults to the ε of the checkpoint's last training epoch. */
  readonly epsilon?: number;
  /** Sample from π (default) or execute the mean action as the first candidate. */
  readonly deterministic?: boolean;
  /**
   * When no candidate passes: `fallback` (default) executes the training config's fallback
   * candidate; `hold` returns the hold action (zero, clipped into the bounds). `exhausted` flags
   * the state either way.
   */
  readonly onExhausted?: 'fallback' | 'hold';
}

/** A policy (and its safety critic, when the algorithm has one) loaded for acting. */
export interface DeployedPolicy {
  /** The env the policy was trained on: observation layout, action bounds. */
  readonly spec: EnvSpec;
  /** Algorithm that trained it (`csc`, `trpo`, …). */
  readonly algo: string;
  /** Whether a safety critic Q_C is present. */
  readonly hasCritic: boolean;
  /** ε of the last training epoch: (1−γ)(χ − V̂_C^old). */
  readonly epsilon: number;
  /** Decides actions for `n` states (`obs` is `n × obsSize`). Throws on a wrong size or NaN input. */
  act(obs: Float32Array, n: number, options?: ActOptions): FilterResult;
  /** Frees the networks' tensors. */
  dispose(): void;
}
