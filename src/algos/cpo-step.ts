/**
 * The step of Constrained Policy Optimization (Achiam, Held, Tamar & Abbeel, ICML 2017) on plain
 * vectors: the solution of the paper's local problem (Section 6.1, one constraint)
 *
 *   max_x  gᵀx   s.t.   c + bᵀx ≤ 0,   ½ xᵀHx ≤ δ
 *
 * with g the gradient of the reward surrogate, b the gradient of the cost surrogate, c = J_C(π_old) − d
 * the constraint value at the old policy, H the Fisher matrix (given as x ↦ Hx) and δ the KL radius;
 * then a backtracking line search on the true surrogates.
 *
 * With v = H⁻¹g and w = H⁻¹b (conjugate gradient), q = gᵀH⁻¹g, r = gᵀH⁻¹b, s = bᵀH⁻¹b, the dual
 * is  max_{λ≥0, ν≥0}  −(q − 2νr + ν²s)/(2λ) + νc − λδ,  and x* = (v − ν*w)/λ*.
 * For fixed λ the best ν is ν*(λ) = (λc + r)₊ / s, which leaves a one-dimensional problem in λ:
 *
 *   on Λ_a = {λ > 0 : λc + r > 0}:  D_a(λ) = −½(A/λ + Bλ) + rc/s,   A = q − r²/s,  B = 2δ − c²/s
 *   on Λ_b = {λ > 0 : λc + r ≤ 0}:  D_b(λ) = −½(q/λ + 2δλ)
 *
 * maximised by λ_a = √(A/B) and λ_b = √(q/2δ), each projected onto its piece's domain; the larger
 * of the two values wins (the paper's analytical solution). The paper writes it for a *minimisation*
 * (its g is the gradient of the loss), which is why it prints ν* = (λc − r)₊/s and rc/s with the
 * other sign; here g is the reward gradient and r carries the sign of gᵀH⁻¹b.
 *
 * The cases, numbered as in the reference implementation (jachiam/cpo, `optim_case`):
 *
 *   4  s ≈ 0: the cost surrogate has no gradient, the constraint cannot be moved → TRPO step.
 *   3  c < 0 and B ≤ 0: the whole trust region is feasible → TRPO step x = √(2δ/q) v.
 *   2  c ≤ 0 and B > 0: feasible, the constraint may bind → x = (v − ν*w)/λ*.
 *   1  c > 0 and B > 0: the old policy violates the constraint but the trust region reaches the
 *      feasible set → the same dual solution (its step is feasible).
 *   0  c > 0 and B ≤ 0: no point of the trust region is feasible → the recovery step
 *      x = −√(2δ/s) w, which decreases the cost surrogate as much as the trust region allows.
 */
import { conjugateGradient, dot } from './natural-gradient.ts';

/** Which of the cases above a step fell into. */
export type CpoCase = 0 | 1 | 2 | 3 | 4;

/** Scalars of the local problem. */
export interface CpoDualInput {
  /** gᵀH⁻¹g. */
  readonly q: number;
  /** gᵀH⁻¹b. */
  readonly r: number;
  /** bᵀH⁻¹b. */
  readonly s: number;
  /** c = J_C(π_old) − d; > 0 when the old policy violates the constraint. */
  readonly c: number;
  /** δ, the trust region ½xᵀHx ≤ δ. */
  readonly delta: number;
}

/** The solution as x = coefG · H⁻¹g − coefB · H⁻¹b, with the dual variables that give it. */
export interface CpoDualSolution {
  readonly case: CpoCase;
  /** λ*, multiplier of the trust region (0 for the recovery step). */
  readonly lambda: number;
  /** ν*, multiplier of the cost constraint (0 when it does not bind or for the recovery step). */
  readonly nu: number;
  readonly coefG: number;
  readonly coefB: number;
}

/** Below this, s = bᵀH⁻¹b (or q) counts as zero (the reference implementation's eps). */
const EPS = 1e-8;

/** Solves the dual of the local CPO problem in closed form (see the module comment). */
export function solveCpoDual(input: CpoDualInput): CpoDualSolution {
  for (const [k, v] of Object.entries(input)) {
    if (!Number.isFinite(v)) throw new RangeError(`solveCpoDual: ${k} is ${v}, expected a finite number`);
  }
  const { r, c, delta } = input;
  if (!(delta > 0)) throw new RangeError(`solveCpoDual: delta is ${delta}, expected > 0`);
  const q = Math.max(0, input.q);
  const s = Math.max(0, input.s);
  const trpo = (kase: 3 | 4): CpoDualSolution => {
    if (q <= EPS) return { case: kase, lambda: 0, nu: 0, coefG: 0, coefB: 0 };
    const lambda = Math.sqrt(q / (2 * delta));
    return { case: kase, lambda, nu: 0, coefG: 1 / lambda, coefB: 0 };
  };
  if (s <= EPS) return trpo(4);
  const B = 2 * delta - (c * c) / s;
  if (c < 0 && B <= 0) return trpo(3);
  if (c > 0 && B <= 0) return { case: 0, lambda: 0, nu: 0, coefG: 0, coefB: Math.sqrt((2 * delta) / s) };
  const kase: CpoCase = c > 0 ? 1 : 2;
  if (q <= EPS) {
    // No reward gradient: the smallest step onto the constraint (none when it already holds).
    return { case: kase, lambda: 0, nu: 0, coefG: 0, coefB: c > 0 ? c / s : 0 };
  }
  const A = Math.max(0, q - (r * r) / s);
  const Da = (l: number): number => -0.5 * (A / l + B * l) + (r * c) / s;
  const Db = (l: number): number => -0.5 * (q / l + 2 * delta * l);
  let lamA = Math.sqrt(A / B);
  let lamB = Math.sqrt(q / (2 * delta));
  // Domains of the two pieces on λ > 0: Λ_a = {λc + r > 0}, Λ_b its complement.
  let lambda: number;
  if (c === 0) {
    lambda = r > 0 ? lamA : lamB;
  } else {
    const mid = -r / c;
    if (mid <= 0) {
      // One piece covers every λ > 0: Λ_a when c > 0, Λ_b when c < 0.
      lambda = c > 0 ? lamA : lamB;
    } else if (c < 0) {
      // Λ_a = (0, mid), Λ_b = [mid, ∞)
      lamA = Math.min(lamA, mid);
      lamB = Math.max(lamB, mid);
      lambda = Da(lamA) >= Db(lamB) ? lamA : lamB;
    } else {
      // Λ_a = (mid, ∞), Λ_b = (0, mid]
      lamA = Math.max(lamA, mid);
      lamB = Math.min(lamB, mid);
      lambda = Da(lamA) >= Db(lamB) ? lamA : lamB;
    }
  }
  lambda = Math.max(lambda, EPS);
  const nu = Math.max(0, lambda * c + r) / s;
  return { case: kase, lambda, nu, coefG: 1 / lambda, coefB: nu / lambda };
}

/** Inputs of {@link cpoDirection}. */
export interface CpoDirectionInput {
  /** ∇ of the reward surrogate at φ_old. */
  readonly g: Float32Array;
  /** ∇ of the cost surrogate at φ_old, in the units of c. */
  readonly b: Float32Array;
  /** c = J_C(π_old) − d. */
  readonly c: number;
  /** δ. */
  readonly delta: number;
  /** x ↦ Hx (the damped Fisher-vector product). */
  readonly hvp: (x: Float32Array) => Float32Array;
  readonly cgIters: number;
}

/** The step x of the local problem with everything that produced it. */
export interface CpoDirection extends CpoDualSolution {
  readonly x: Float32Array;
  readonly q: number;
  readonly r: number;
  readonly s: number;
  readonly c: number;
}

/**
 * v = H⁻¹g and w = H⁻¹b by conjugate gradient, q = vᵀHv, r = vᵀHw, s = wᵀHw (as the reference
 * implementation, measured with the H the step is taken in, so the trust region holds for the
 * vectors actually used even when CG stops early), then x from {@link solveCpoDual}.
 */
export function cpoDirection(input: CpoDirectionInput): CpoDirection {
  const { g, b, hvp, cgIters } = input;
  if (g.length !== b.length) throw new RangeError(`cpoDirection: g has ${g.length} entries, b has ${b.length}`);
  const v = conjugateGradient(hvp, g, cgIters);
  const Hv = hvp(v);
  const q = dot(v, Hv);
  const bb = dot(b, b);
  let w: Float32Array = new Float32Array(b.length);
  let r = 0;
  let s = 0;
  if (bb > EPS) {
    w = conjugateGradient(hvp, b, cgIters);
    r = dot(w, Hv);
    s = dot(w, hvp(w));
  }
  const sol = solveCpoDual({ q, r, s, c: input.c, delta: input.delta });
  const x = new Float32Array(g.length);
  for (let i = 0; i < x.length; i++) x[i] = sol.coefG * v[i]! - sol.coefB * w[i]!;
  return { ...sol, x, q, r, s, c: input.c };
}

/** Settings of {@link cpoLineSearch} (the reference implementation's: ratio 0.8, 15 tries). */
export interface CpoLineSearchConfig {
  /** δ: a candidate's mean KL must be ≤ δ. */
  readonly maxKl: number;
  /** Try φ_old + ρ^j x for j = 0 … tries−1. */
  readonly ratio: number;
  readonly tries: number;
}

/** What the surrogates are at a candidate φ. */
export interface CpoEvaluation {
  readonly kl: number;
  /** Reward surrogate (maximised). */
  readonly surrogate: number;
  /** Cost surrogate, in the units of c (its change predicts the change of J_C). */
  readonly costSurrogate: number;
}

/** Outcome of {@link cpoLineSearch}. */
export interface CpoLineSearchResult {
  readonly accepted: boolean;
  /** 1-based try that was accepted, 0 when none was. */
  readonly tries: number;
  /** The accepted parameters, or a copy of φ_old. */
  readonly params: Float32Array;
  readonly kl: number;
  readonly improvement: number;
  /** Change of the cost surrogate of the accepted step (predicted change of J_C). */
  readonly costChange: number;
}

/**
 * Backtracking on φ_old + ρ^j x, accepting the first candidate with
 *   KL ≤ δ,
 *   c + Δcost ≤ max(0, c)   (the predicted J_C stays within d, or, when it is already above d,
 *                            does not rise: the reference's `lin_reject_threshold` with
 *                            `diff_threshold`, threshold max(d − J_C, 0)),
 *   Δsurrogate > 0          only in the feasible cases 2–4 (the reference does not check the
 *                            reward in its recovery cases 0 and 1).
 * When no try passes, φ_old is kept (in cases 0 and 1 the reference keeps the last try instead).
 */
export function cpoLineSearch(
  phiOld: Float32Array,
  step: CpoDirection,
  evaluate: (phi: Float32Array) => CpoEvaluation,
  before: { readonly surrogate: number; readonly costSurrogate: number },
  config: CpoLineSearchConfig,
): CpoLineSearchResult {
  const checkReward = step.case >= 2;
  const costLimit = Math.max(0, step.c);
  const phi = new Float32Array(phiOld.length);
  let beta = 1;
  for (let j = 0; j < config.tries; j++, beta *= config.ratio) {
    for (let i = 0; i < phi.length; i++) phi[i] = phiOld[i]! + beta * step.x[i]!;
    const e = evaluate(phi);
    const improvement = e.surrogate - before.surrogate;
    const costChange = e.costSurrogate - before.costSurrogate;
    const klOk = Number.isFinite(e.kl) && e.kl <= config.maxKl;
    const costOk = Number.isFinite(costChange) && step.c + costChange <= costLimit;
    const rewardOk = Number.isFinite(improvement) && (!checkReward || improvement > 0);
    if (klOk && costOk && rewardOk) return { accepted: true, tries: j + 1, params: Float32Array.from(phi), kl: e.kl, improvement, costChange };
  }
  return { accepted: false, tries: 0, params: Float32Array.from(phiOld), kl: 0, improvement: 0, costChange: 0 };
}
