/**
 * Safe exploration by rejection sampling (Algorithm 1, line 6, and Appendix A.4): for each state,
 * draw up to K candidates a ∼ π_old(·|s) and execute the first with Q_C(s, a) ≤ ε; when none
 * passes, execute the candidate with the lowest Q_C and count the exhaustion.
 *
 * All K candidates of all states are drawn up front in a fixed order (state, then candidate), so
 * the decision does not depend on how the critic is batched. The critic is asked about the first
 * `probe` candidates of every state in one forward pass and about the rest only for states where
 * none of those passed — one more pass. Late in training most states pass on the first candidate.
 */
import type { Rng } from '../core/rng.ts';
import type { FilterResult } from './deploy.ts';

/** ε of Algorithm 1, line 5: (1 − γ)(χ − V̂_C^old). Negative when failures exceed χ. */
export function paperEpsilon(gamma: number, chi: number, avgFailuresOld: number): number {
  return (1 - gamma) * (chi - avgFailuresOld);
}

/** Q_C for `n` states × `k` candidates each (`actions` is `n × k × actSize`). */
export type CandidateCritic = (obs: Float32Array, n: number, actions: Float32Array, k: number) => Float32Array;

/** Inputs of one filtered decision for a batch of states. */
export interface FilterInput {
  readonly n: number;
  readonly obs: Float32Array;
  /** π_old's means `n × actSize` and standard deviations `actSize`. */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly actLow: readonly number[];
  readonly actHigh: readonly number[];
  /** K, the most candidates per state (100). */
  readonly candidates: number;
  readonly epsilon: number;
  /** Candidates examined in the first critic pass (the rest only where none passed). */
  readonly probe: number;
  /** The first candidate is the mean action instead of a sample (deployment without noise). */
  readonly deterministicFirst?: boolean;
  /**
   * `q` (the paper's rule): accept when Q_C(s,a) ≤ ε. `advantage` (a documented variant): accept
   * when Â_C(s,a) = Q_C(s,a) − V_C(s) ≤ ε, with V_C(s) the mean Q_C of the K candidates (samples of
   * π_old). ε = (1−γ)(χ − V̂_C^old) is exactly the bound that eq. 4's constraint puts on E[Â_C], so
   * this variant applies the paper's threshold to the advantage it bounds; it evaluates all K.
   */
  readonly threshold?: 'q' | 'advantage';
  readonly critic: CandidateCritic;
  readonly rng: Rng;
}

/** The decision plus the unclipped sampled actions (their log-probabilities drive eq. 8). */
export interface FilterOutput extends FilterResult {
  readonly rawActions: Float32Array;
}

/** Decides one action per state; see the module comment. */
export function filterActions(input: FilterInput): FilterOutput {
  const { n, obs, mean, std, actLow, actHigh, candidates: K, epsilon, critic, rng } = input;
  const A = std.length;
  if (mean.length !== n * A) throw new RangeError(`filterActions: mean has ${mean.length} values, expected ${n}×${A}`);
  if (!(K >= 1)) throw new RangeError(`filterActions: candidates must be ≥ 1, got ${K}`);
  const probe = Math.max(1, Math.min(K, Math.floor(input.probe)));
  // Draw every candidate in a fixed order: raw (for log π) and clipped (what the robot executes).
  const raw = new Float32Array(n * K * A);
  const clipped = new Float32Array(n * K * A);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < K; k++) {
      const o = (i * K + k) * A;
      const useMean = k === 0 && input.deterministicFirst === true;
      for (let j = 0; j < A; j++) {
        const v = mean[i * A + j]! + (useMean ? 0 : std[j]! * rng.normal());
        raw[o + j] = v;
        clipped[o + j] = v < actLow[j]! ? actLow[j]! : v > actHigh[j]! ? actHigh[j]! : v;
      }
    }
  }
  const q = new Float32Array(n * K).fill(Number.POSITIVE_INFINITY);
  const tried = new Uint16Array(n);
  const chosen = new Int32Array(n).fill(-1);
  const relative = input.threshold === 'advantage';
  // Per-state threshold: ε, or ε + V_C(s) for the advantage variant (needs every candidate).
  const limit = new Float64Array(n).fill(epsilon);
  if (relative) {
    evaluate(critic, obs, n, clipped, K, A, 0, K, null, q);
    for (let i = 0; i < n; i++) {
      let s = 0;
      let m = 0;
      for (let k = 0; k < K; k++) {
        const v = q[i * K + k]!;
        if (Number.isFinite(v)) {
          s += v;
          m++;
        }
      }
      limit[i] = epsilon + (m > 0 ? s / m : 0);
    }
  } else {
    // Pass 1: the first `probe` candidates of every state.
    evaluate(critic, obs, n, clipped, K, A, 0, probe, null, q);
  }
  const pending: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = firstPassing(q, i, K, 0, relative ? K : probe, limit[i]!);
    if (k >= 0) {
      chosen[i] = k;
      tried[i] = k + 1;
    } else pending.push(i);
  }
  // Pass 2: the remaining candidates of states where none passed yet.
  if (pending.length > 0 && probe < K && !relative) {
    evaluate(critic, obs, n, clipped, K, A, probe, K, pending, q);
    for (const i of pending) {
      const k = firstPassing(q, i, K, probe, K, limit[i]!);
      if (k >= 0) {
        chosen[i] = k;
        tried[i] = k + 1;
      }
    }
  }
  const actions = new Float32Array(n * A);
  const rawActions = new Float32Array(n * A);
  const qc = new Float32Array(n);
  const exhausted = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let k = chosen[i]!;
    if (k < 0) {
      // No candidate passed: the lowest Q_C (the first of equals, in sampling order).
      k = 0;
      for (let c = 1; c < K; c++) if (q[i * K + c]! < q[i * K + k]!) k = c;
      exhausted[i] = 1;
      tried[i] = K;
    }
    const o = (i * K + k) * A;
    actions.set(clipped.subarray(o, o + A), i * A);
    rawActions.set(raw.subarray(o, o + A), i * A);
    qc[i] = q[i * K + k]!;
  }
  return { actions, rawActions, qc, tried, exhausted };
}

function firstPassing(q: Float32Array, i: number, K: number, from: number, to: number, epsilon: number): number {
  for (let k = from; k < to; k++) if (q[i * K + k]! <= epsilon) return k;
  return -1;
}

/** Fills q for candidates [from, to) of the given states (all when `states` is null), one pass. */
function evaluate(
  critic: CandidateCritic,
  obs: Float32Array,
  n: number,
  clipped: Float32Array,
  K: number,
  A: number,
  from: number,
  to: number,
  states: readonly number[] | null,
  q: Float32Array,
): void {
  const idx = states ?? Array.from({ length: n }, (_, i) => i);
  const m = idx.length;
  const k = to - from;
  const d = obs.length / n;
  const subObs = states === null ? obs : new Float32Array(m * d);
  const subAct = new Float32Array(m * k * A);
  idx.forEach((i, r) => {
    if (states !== null) subObs.set(obs.subarray(i * d, (i + 1) * d), r * d);
    subAct.set(clipped.subarray((i * K + from) * A, (i * K + to) * A), r * k * A);
  });
  const out = critic(subObs, m, subAct, k);
  if (out.length !== m * k) throw new RangeError(`filterActions: critic returned ${out.length} values, expected ${m * k}`);
  idx.forEach((i, r) => {
    for (let c = 0; c < k; c++) {
      const v = out[r * k + c]!;
      // A NaN Q_C can never pass, and never wins the lowest-Q_C fallback.
      q[i * K + from + c] = Number.isNaN(v) ? Number.POSITIVE_INFINITY : v;
    }
  });
}
