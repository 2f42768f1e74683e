/**
 * Bookkeeping of the filter and the critic that the learners log every epoch: the failure window
 * behind V̂_C^old, the critic's calibration against the rollout's own outcomes, and how far
 * executed actions sit from the policy.
 */
import { CheckpointError } from '../nn/checkpoint.ts';
import type { CalibrationBin } from '../runs/metrics.ts';

/**
 * How much of the policy's advantage Ã = Â_R − λ′Â_C (eq. 8) each term carries: the population
 * standard deviation of Â_R and of λ′Â_C over the gradient's rows. The natural-gradient step is
 * normalised to the KL radius, so only their ratio steers it; a cost term much wider than the
 * reward term means the step is spent on avoiding risk.
 */
export function advantageTermSpread(rewardAdv: Float32Array, costAdv: Float32Array | null, lambdaPrime: number, rows: readonly number[]): { reward: number; cost: number } {
  const std = (at: (i: number) => number): number => {
    if (rows.length === 0) return Number.NaN;
    let s = 0;
    for (const i of rows) s += at(i);
    const mean = s / rows.length;
    let v = 0;
    for (const i of rows) v += (at(i) - mean) ** 2;
    return Math.sqrt(v / rows.length);
  };
  return { reward: std((i) => rewardAdv[i]!), cost: costAdv === null ? Number.NaN : std((i) => lambdaPrime * costAdv[i]!) };
}

/** RMS over the `A` action dimensions of |raw − μ|/σ for row `e`. */
export function standardisedDistance(raw: Float32Array, mean: Float32Array, std: Float32Array, e: number, A: number): number {
  let s = 0;
  for (let j = 0; j < A; j++) s += ((raw[e * A + j]! - mean[e * A + j]!) / std[j]!) ** 2;
  return Math.sqrt(s / A);
}

/**
 * The failures of the last `size` finished episodes, a ring; V̂_C^old is their mean. Before the
 * ring has filled, the mean is over the episodes seen (or the given fallback when none).
 */
export class FailureWindow {
  private readonly ring: Uint8Array;
  private next = 0;
  private count = 0;
  private sum = 0;

  constructor(readonly size: number) {
    this.ring = new Uint8Array(Math.max(0, size));
  }

  push(failure: number): void {
    if (this.size === 0) return;
    const f = failure > 0 ? 1 : 0;
    if (this.count === this.size) this.sum -= this.ring[this.next]!;
    else this.count++;
    this.ring[this.next] = f;
    this.sum += f;
    this.next = (this.next + 1) % this.size;
  }

  /** Mean failures per episode over the window, `empty` when it holds no episode. */
  mean(empty: number): number {
    return this.count === 0 ? empty : this.sum / this.count;
  }

  /** Oldest first. */
  toJSON(): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.count; k++) out.push(this.ring[(this.next - this.count + k + this.size) % this.size]!);
    return out;
  }

  /** Refills from a checkpoint's list (absent in checkpoints written before the window existed). */
  restore(v: unknown, dir: string): void {
    this.next = 0;
    this.count = 0;
    this.sum = 0;
    this.ring.fill(0);
    if (v === undefined) return;
    if (!Array.isArray(v) || !v.every((x) => x === 0 || x === 1)) throw new CheckpointError(`${dir}: meta.failureWindow is ${JSON.stringify(v)?.slice(0, 60)}, expected a list of 0/1`);
    for (const x of v.slice(-this.size)) this.push(x as number);
  }
}

/** Steps after which an unfinished episode's discounted failure is resolved to < 0.01 (γ = 0.99). */
export function resolvedAfter(gamma: number): number {
  return Math.ceil(Math.log(0.01) / Math.log(gamma));
}

/** Upper edges of the reliability curve's bins (the first starts at 0). */
export const CALIBRATION_EDGES: readonly number[] = [0.01, 0.03, 0.1, 0.3, 1];

/**
 * The critic's calibration on one rollout: for each executed transition whose outcome the
 * rollout resolves (its episode ended inside the rollout, or at least `resolvedAfter(γ)` steps
 * follow it), the predicted Q_C (`R.qc`, from the critic that acted) against the observed
 * discounted failure G_t = c_t + γ(1 − done_t) G_{t+1}; binned by prediction, plus the means and
 * Σ_bins (count/total)·|predicted − observed|.
 */
export function calibration(
  R: { readonly failure: Uint8Array; readonly done: Uint8Array; readonly dropped: Uint8Array; readonly qc: Float32Array },
  rows: readonly number[],
  T: number,
  N: number,
  gamma: number,
): { predicted: number; observed: number; error: number; bins: CalibrationBin[] } {
  const g = new Float64Array(T * N);
  const resolved = new Uint8Array(T * N);
  const tail = resolvedAfter(gamma);
  for (let e = 0; e < N; e++) {
    let acc = 0;
    let ended = false;
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + e;
      if (R.done[i]) {
        acc = 0;
        ended = true;
      }
      acc = R.failure[i]! + gamma * acc;
      g[i] = acc;
      resolved[i] = ended || T - t >= tail ? 1 : 0;
    }
  }
  const E = CALIBRATION_EDGES.length;
  const cnt = new Float64Array(E);
  const ps = new Float64Array(E);
  const os = new Float64Array(E);
  let n = 0;
  let pSum = 0;
  let oSum = 0;
  for (const i of rows) {
    if (!resolved[i] || R.dropped[i]) continue;
    const p = R.qc[i]!;
    let b = 0;
    while (b < E - 1 && p >= CALIBRATION_EDGES[b]!) b++;
    cnt[b]!++;
    ps[b]! += p;
    os[b]! += g[i]!;
    n++;
    pSum += p;
    oSum += g[i]!;
  }
  const bins: CalibrationBin[] = [];
  let error = 0;
  for (let b = 0; b < E; b++) {
    const predicted = cnt[b]! > 0 ? ps[b]! / cnt[b]! : Number.NaN;
    const observed = cnt[b]! > 0 ? os[b]! / cnt[b]! : Number.NaN;
    if (cnt[b]! > 0) error += (cnt[b]! / n) * Math.abs(predicted - observed);
    bins.push({ lo: b === 0 ? 0 : CALIBRATION_EDGES[b - 1]!, hi: CALIBRATION_EDGES[b]!, count: cnt[b]!, predicted, observed });
  }
  return n === 0 ? { predicted: Number.NaN, observed: Number.NaN, error: Number.NaN, bins } : { predicted: pSum / n, observed: oSum / n, error, bins };
}

