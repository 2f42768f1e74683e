/**
 * The Lagrange multiplier λ of eq. 5, updated by projected dual **ascent** (eq. 9 with the sign of
 * a minimisation over λ ≥ 0 of the Lagrangian):
 *
 *   λ ← max(0, λ + η_λ (E[Â_C]/(1−γ) − χ′)),  χ′ = χ − V̂_C^old.
 *
 * When the constraint V̂_C^old + E[Â_C]/(1−γ) ≤ χ is violated the bracket is positive and λ rises;
 * when it holds with slack λ falls towards 0. (The paper prints eq. 9 and eq. 57 with a minus
 * sign, which would lower λ under violation; the test pins the direction.)
 */
import type { AdvantageMix } from './config.ts';

export interface LagrangeInput {
  readonly lambda: number;
  /** η_λ (4e-2). */
  readonly lr: number;
  /** ρ, the share of λ forgotten per step (0: eq. 9). */
  readonly decay?: number;
  readonly gamma: number;
  /** χ, the tolerated expected failures per episode. */
  readonly chi: number;
  /** V̂_C^old: average episodic failures of the previous epoch. */
  readonly avgFailures: number;
  /** E_{s,a}[Â_C(s,a)] over the epoch's executed actions. */
  readonly meanCostAdvantage: number;
}

/** One dual-ascent step; returns the new λ ≥ 0. */
export function updateLambda(input: LagrangeInput): number {
  const { lambda, lr, gamma, chi, avgFailures, meanCostAdvantage } = input;
  const decay = input.decay ?? 0;
  for (const [k, v] of Object.entries(input)) {
    if (!Number.isFinite(v)) throw new RangeError(`updateLambda: ${k} is ${v}, expected a finite number`);
  }
  const chiPrime = chi - avgFailures;
  return Math.max(0, (1 - decay) * lambda + lr * (meanCostAdvantage / (1 - gamma) - chiPrime));
}

/** The scaled multiplier λ′ = λ/(1−γ) that weighs Â_C in Ã = Â_R − λ′Â_C. */
export function lambdaPrime(lambda: number, gamma: number): number {
  return lambda / (1 - gamma);
}

/** Mean and (population) standard deviation of `x` over `rows`; both 0 for no rows. */
function moments(x: Float32Array, rows: readonly number[]): { mean: number; std: number } {
  const n = rows.length;
  if (n === 0) return { mean: 0, std: 0 };
  let s = 0;
  for (const i of rows) s += x[i]!;
  const mean = s / n;
  let v = 0;
  for (const i of rows) v += (x[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / n) };
}

/**
 * Eq. 5's combined advantage for the policy batch `rows` (output index k for rows[k]).
 * `paper`: Ã = Â_R − λ′Â_C with λ′ = λ/(1−γ). `normalised`: Ã = (z(Â_R) − λ·z(Â_C))/(1 + λ),
 * z(x) = (x − mean)/std over `rows` (a term with no spread contributes 0), so λ is the cost
 * term's weight relative to the reward term's whatever the scales of reward and failure: the
 * Lagrangian of eq. 5 with both objectives in units of their batch spread. λ's own update (eq. 9)
 * is the same in both.
 */
export function mixAdvantages(
  rewardAdv: Float32Array,
  costAdv: Float32Array | null,
  lambda: number,
  gamma: number,
  rows: readonly number[],
  mix: AdvantageMix,
): Float32Array {
  const out = new Float32Array(rows.length);
  if (mix === 'paper') {
    const lp = lambdaPrime(lambda, gamma);
    rows.forEach((i, k) => {
      out[k] = rewardAdv[i]! - (costAdv === null ? 0 : lp * costAdv[i]!);
    });
    return out;
  }
  const z = (x: Float32Array): ((i: number) => number) => {
    const { mean, std } = moments(x, rows);
    return std > 1e-12 ? (i) => (x[i]! - mean) / std : () => 0;
  };
  const zr = z(rewardAdv);
  const zc = costAdv === null ? () => 0 : z(costAdv);
  rows.forEach((i, k) => {
    out[k] = (zr(i) - lambda * zc(i)) / (1 + lambda);
  });
  return out;
}

/**
 * The policy-gradient weight of a proposal of π_old that the filter turned away (`rejectedInGradient`):
 * Ã = −λ′Â_C(s, a₀) = −λ/(1−γ)·(Q_C(s, a₀) − V_C(s)), from `q` = Q_C(s, a₀) and `vc` = V_C(s) per
 * row. Its reward advantage is unknown (a₀ never ran) and enters at its expectation under π_old, 0.
 */
export function proposalCostAdvantage(q: Float32Array, vc: Float32Array, lambda: number, gamma: number): Float32Array {
  if (q.length !== vc.length) throw new RangeError(`proposalCostAdvantage: ${q.length} Q values but ${vc.length} values V_C`);
  const lp = lambdaPrime(lambda, gamma);
  return q.map((x, i) => -lp * (x - vc[i]!));
}

/** One epoch's inputs to λ: the failures seen and the critic's E[Â_C]. */
export interface LambdaEpochInput {
  readonly lambda: number;
  readonly lr: number;
  /** ρ (`lambdaDecay`), 0 for eq. 9. */
  readonly decay?: number;
  readonly gamma: number;
  readonly chi: number;
  /** Failures per finished episode of this epoch. */
  readonly epochFailures: number;
  /** Failures per episode over the failure window, or null without one (the paper). */
  readonly windowFailures: number | null;
  /** E[Â_C] as configured (`lambdaAdvantage`). */
  readonly meanCostAdvantage: number;
  /**
   * `behaviour`: E[Â_C] compares π's own actions with the executed ones and is floored at 0, so
   * the estimate of V_C^π is never below the failures actually seen; `fresh`: used as it is;
   * `observed`: replaced by its expectation under π_old, 0, and V̂_C^old is the epoch's failures
   * (no window), so λ integrates exactly the failures seen beyond χ.
   */
  readonly advantage: 'fresh' | 'behaviour' | 'observed';
}

/**
 * λ's epoch step: V̂_C^old is this epoch's failures, or with a window the larger of the window's
 * and this epoch's (a window smooths ε, but λ must still answer an epoch above χ); the
 * constraint's left side V̂_C^π = V̂_C^old + E[Â_C]/(1−γ). Hence λ never falls in an epoch whose
 * failures exceed χ: the bracket is then ≥ V̂_C^old − χ > 0 (with `behaviour` and `observed`).
 * With `observed` the bracket is the epoch's failures − χ: summed over epochs, λ/η_λ is the
 * failures per episode seen beyond χ, with no lag from the window, so λ starts falling in the
 * first epoch at or below χ.
 */
export function lambdaEpochStep(input: LambdaEpochInput): { lambda: number; policyRisk: number } {
  const { epochFailures, windowFailures, gamma } = input;
  const observed = input.advantage === 'observed';
  const avgFailures = windowFailures === null || observed ? epochFailures : Math.max(windowFailures, epochFailures);
  const meanCostAdvantage = observed ? 0 : input.advantage === 'behaviour' ? Math.max(0, input.meanCostAdvantage) : input.meanCostAdvantage;
  return {
    lambda: updateLambda({ lambda: input.lambda, lr: input.lr, decay: input.decay ?? 0, gamma, chi: input.chi, avgFailures, meanCostAdvantage }),
    policyRisk: avgFailures + meanCostAdvantage / (1 - gamma),
  };
}
