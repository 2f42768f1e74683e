/**
 * Safe exploration by rejection sampling (Algorithm 1, line 6, and Appendix A.4): for each state,
 * draw up to K candidates a ∼ π_old(·|s) and execute the first with Q_C(s, a) ≤ ε; when none
 * passes, count the exhaustion and execute the fallback (`FilterFallback`: the lowest-Q_C
 * candidate, the last resample, or one drawn among the least risky candidates).
 *
 * All K candidates of all states are drawn up front in a fixed order (state, then candidate), so
 * the decision does not depend on how the critic is batched. The critic is asked about the first
 * `probe` candidates of every state in one forward pass and about the rest only for states where
 * none of those passed — one more pass. Late in training most states pass on the first candidate.
 */
import type { Rng } from '../core/rng.ts';
import type { FilterFallback } from './config.ts';
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
  /** What runs when no candidate passes (default `lowest`), and the pool of `sample-lowest` (10). */
  readonly fallback?: FilterFallback;
  readonly fallbackPool?: number;
  readonly critic: CandidateCritic;
  readonly rng: Rng;
}

/** The decision plus the unclipped sampled actions (their log-probabilities drive eq. 8). */
export interface FilterOutput extends FilterResult {
  readonly rawActions: Float32Array;
  /**
   * Q_C of each state's first candidate, a plain sample of π_old (the mean with
   * `deterministicFirst`): Q_C(s, a₀) − Q_C(s, a_exec) is 0 where it was accepted, and its mean
   * over states estimates how much riskier π is than the filtered behaviour.
   */
  readonly firstQc: Float32Array;
  /** The first candidate a₀ of each state, clipped as executed (`n × A`). */
  readonly firstAction: Float32Array;
  /** The same a₀ unclipped, as sampled from π_old (its log-probability for eq. 8), `n × A`. */
  readonly firstRawAction: Float32Array;
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
  const firstQc = new Float32Array(n);
  const firstAction = new Float32Array(n * A);
  const firstRawAction = new Float32Array(n * A);
  const exhausted = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let k = chosen[i]!;
    if (k < 0) {
      k = fallbackCandidate(q.subarray(i * K, (i + 1) * K), input.fallback ?? 'lowest', input.fallbackPool ?? 10, rng);
      exhausted[i] = 1;
      tried[i] = K;
    }
    const o = (i * K + k) * A;
    actions.set(clipped.subarray(o, o + A), i * A);
    rawActions.set(raw.subarray(o, o + A), i * A);
    qc[i] = q[i * K + k]!;
    firstQc[i] = q[i * K]!;
    firstAction.set(clipped.subarray(i * K * A, (i * K + 1) * A), i * A);
    firstRawAction.set(raw.subarray(i * K * A, (i * K + 1) * A), i * A);
  }
  return { actions, rawActions, qc, tried, exhausted, firstQc, firstAction, firstRawAction };
}

/**
 * The candidate executed when none of `q` (one state's K values, in sampling order) passed:
 * `lowest` the lowest Q_C (the first of equals); `last` the last resample; `sample-lowest` one
 * drawn uniformly among the `pool` lowest (ties in sampling order).
 */
export function fallbackCandidate(q: Float32Array, rule: FilterFallback, pool: number, rng: Rng): number {
  const K = q.length;
  if (rule === 'last') return K - 1;
  if (rule === 'lowest') {
    let k = 0;
    for (let c = 1; c < K; c++) if (q[c]! < q[k]!) k = c;
    return k;
  }
  const order = Array.from({ length: K }, (_, c) => c).sort((a, b) => q[a]! - q[b]! || a - b);
  return order[rng.int(Math.max(1, Math.min(K, Math.floor(pool))))]!;
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

/** The filter's rule, as the critic's Bellman target needs it to bootstrap through the filter. */
export interface FilterRule {
  readonly epsilon: number;
  readonly threshold: 'q' | 'advantage';
  readonly fallback: FilterFallback;
  /** Pool of `sample-lowest` out of `candidates` (K). */
  readonly fallbackPool: number;
  readonly candidates: number;
}

/**
 * E[Q̂_C(s′, a′)] when a′ is what the filter executes at s′, from m samples of π in each row of
 * `q` (`n × m`). The filter executes the first passing sample of π, i.e. a sample of π conditioned
 * on passing, so the expectation is the mean of the passing samples; when none of the m passes,
 * it is the fallback's: the lowest value (`lowest`; the lowest of m ≥ the lowest of K, so this
 * errs high), the mean of all m (`last`: the last resample is a plain sample of π), or the mean
 * of the lowest ⌈m·pool/K⌉ (`sample-lowest`).
 */
export function filteredValue(q: Float32Array, n: number, m: number, rule: FilterRule): Float32Array {
  const out = new Float32Array(n);
  const row = new Float32Array(m);
  for (let i = 0; i < n; i++) {
    let all = 0;
    for (let j = 0; j < m; j++) all += q[i * m + j]!;
    const limit = rule.epsilon + (rule.threshold === 'advantage' ? all / m : 0);
    let s = 0;
    let passed = 0;
    for (let j = 0; j < m; j++) {
      const v = q[i * m + j]!;
      if (v <= limit) {
        s += v;
        passed++;
      }
    }
    if (passed > 0) {
      out[i] = s / passed;
      continue;
    }
    if (rule.fallback === 'last') {
      out[i] = all / m;
      continue;
    }
    row.set(q.subarray(i * m, (i + 1) * m));
    row.sort();
    const take = rule.fallback === 'lowest' ? 1 : Math.max(1, Math.min(m, Math.ceil((m * rule.fallbackPool) / rule.candidates)));
    let t = 0;
    for (let j = 0; j < take; j++) t += row[j]!;
    out[i] = t / take;
  }
  return out;
}
