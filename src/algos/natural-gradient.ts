/**
 * The natural-gradient policy step shared by CSC and TRPO ("Base"), eqs. 6–8 and A.2 (eq. 56):
 * g = ∇_φ J̃ (eq. 8), s = F⁻¹g by conjugate gradient with Fisher-vector products (eq. 6), the step
 * φ = φ_old + β s with β = β_j √(2δ / sᵀFs) (eq. 7), and a backtracking line search with
 * β_0 = 0.7, β_j = β_{j−1}(1 − β_{j−1})^j for at most L tries, accepting only a mean KL ≤ δ, else
 * keeping φ_old.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { PhaseClock } from '../core/phase-clock.ts';
import type { GaussianPolicy } from '../nn/policy.ts';

/** Solves A x = b for symmetric positive-definite A given only x ↦ A x. */
export function conjugateGradient(avp: (v: Float32Array) => Float32Array, b: Float32Array, iters: number, residualTol = 1e-10): Float32Array {
  const x = new Float32Array(b.length);
  const r = Float32Array.from(b);
  const p = Float32Array.from(b);
  let rr = dot(r, r);
  for (let k = 0; k < iters && rr > residualTol; k++) {
    const ap = avp(p);
    const pap = dot(p, ap);
    if (!(pap > 0)) break; // not positive along p: stop with what we have
    const alpha = rr / pap;
    for (let i = 0; i < x.length; i++) {
      x[i]! += alpha * p[i]!;
      r[i]! -= alpha * ap[i]!;
    }
    const rrNew = dot(r, r);
    const mu = rrNew / rr;
    for (let i = 0; i < p.length; i++) p[i] = r[i]! + mu * p[i]!;
    rr = rrNew;
  }
  return x;
}

/** Dot product in double precision. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** The backtracking coefficients β_0 … β_{L−1} of A.2: β_j = β_{j−1}(1 − β_{j−1})^j. */
export function backtrackingCoefficients(beta0: number, tries: number): number[] {
  const out = [beta0];
  for (let j = 1; j < tries; j++) {
    const prev = out[j - 1]!;
    out.push(prev * (1 - prev) ** j);
  }
  return out;
}

/** Settings of the line search (A.6 defaults). */
export interface LineSearchConfig {
  /** β_0 (0.7). */
  readonly beta0: number;
  /** L, the maximum number of tries (20). */
  readonly maxTries: number;
  /** δ, the trust region on the mean KL (0.01). */
  readonly maxKl: number;
  /**
   * Also require the surrogate to improve (Schulman et al. 2015's check). A.2 states only the KL
   * test; `false` gives the paper's literal rule.
   */
  readonly requireImprovement: boolean;
}

/** Outcome of a line search. */
export interface LineSearchResult {
  readonly accepted: boolean;
  /** 1-based try that was accepted, or 0 when none was. */
  readonly tries: number;
  /** Parameters to keep: the accepted ones, or a copy of φ_old. */
  readonly params: Float32Array;
  readonly kl: number;
  readonly improvement: number;
}

/**
 * Tries φ_old + β_j · scale · direction for j = 0…L−1 and accepts the first with KL ≤ δ (and, if
 * asked, a surrogate improvement). `evaluate` must not leave the policy changed in a way the
 * caller relies on; the caller sets the returned `params`.
 */
export function backtrackingLineSearch(
  phiOld: Float32Array,
  direction: Float32Array,
  scale: number,
  evaluate: (phi: Float32Array) => { kl: number; surrogate: number },
  surrogateOld: number,
  config: LineSearchConfig,
): LineSearchResult {
  const betas = backtrackingCoefficients(config.beta0, config.maxTries);
  const phi = new Float32Array(phiOld.length);
  for (let j = 0; j < betas.length; j++) {
    const step = betas[j]! * scale;
    for (let i = 0; i < phi.length; i++) phi[i] = phiOld[i]! + step * direction[i]!;
    const { kl, surrogate } = evaluate(phi);
    const improvement = surrogate - surrogateOld;
    const klOk = Number.isFinite(kl) && kl <= config.maxKl;
    const improveOk = !config.requireImprovement || improvement > 0;
    if (klOk && improveOk && Number.isFinite(surrogate)) {
      return { accepted: true, tries: j + 1, params: Float32Array.from(phi), kl, improvement };
    }
  }
  return { accepted: false, tries: 0, params: Float32Array.from(phiOld), kl: 0, improvement: 0 };
}

/** Settings of one natural-gradient step. */
export interface NaturalGradientConfig extends LineSearchConfig {
  /** Conjugate-gradient iterations (10). */
  readonly cgIters: number;
  /** Damping added to F (F + c·I) for a well-conditioned solve (0.1). */
  readonly cgDamping: number;
  /** Use every k-th state for Fisher-vector products (1 = all); F is an expectation over states. */
  readonly fvpSubsample: number;
}

/** On-policy batch for a policy step. */
export interface PolicyBatch {
  readonly n: number;
  readonly obs: Float32Array;
  /** Sampled (unclipped) actions whose log-probabilities the surrogate uses. */
  readonly actions: Float32Array;
  /** Ã = Â_R − λ′ Â_C for CSC, Â_R for TRPO. */
  readonly advantages: Float32Array;
}

/** What a step did, for the metrics. */
export interface NaturalGradientResult extends LineSearchResult {
  /** ‖g‖ and the predicted full-step size √(2δ / sᵀFs). */
  readonly gradNorm: number;
  readonly stepScale: number;
}

/**
 * One natural-gradient step of `policy` on `batch`, maximising the importance-sampled surrogate
 * E[π_φ(a|s)/π_old(a|s) · Ã] (its gradient at φ_old is eq. 8) under KL(π_old ‖ π_φ) ≤ δ.
 * Leaves `policy` at the accepted parameters, or at φ_old. `clock`, when given, is charged
 * `policy.gradient`, `policy.cg` (the Fisher-vector products) and `policy.lineSearch`.
 */
export function naturalGradientStep(policy: GaussianPolicy, batch: PolicyBatch, config: NaturalGradientConfig, clock?: PhaseClock): NaturalGradientResult {
  const { n } = batch;
  const obsSize = policy.shape.obsSize;
  const actSize = policy.shape.actSize;
  const obs = tf.tensor2d(batch.obs.subarray(0, n * obsSize), [n, obsSize]);
  const act = tf.tensor2d(batch.actions.subarray(0, n * actSize), [n, actSize]);
  const adv = tf.tensor1d(batch.advantages.subarray(0, n));
  const oldLogp = tf.keep(policy.logProb(obs, act));
  const oldMean = tf.keep(policy.mean.apply(obs));
  const oldLogStd = tf.keep(tf.reshape<tf.Rank.R1>(policy.logStd, [-1]));
  const stride = Math.max(1, Math.floor(config.fvpSubsample));
  const fvpObs = stride === 1 ? obs : tf.tidy(() => tf.gather(obs, tf.range(0, n, stride, 'int32')));
  try {
    const surrogate = (): tf.Scalar => tf.tidy(() => tf.mean(tf.mul(tf.exp(tf.sub(policy.logProb(obs, act), oldLogp)), adv)));
    const phiOld = policy.getFlat();
    const { value: surrogateOld, grad } = policy.flatGrad(surrogate);
    const gradNorm = Math.sqrt(dot(grad, grad));
    clock?.lap('policy.gradient');
    const fisher = (v: Float32Array): Float32Array => {
      const fv = policy.fisherVectorProduct(fvpObs, v);
      for (let i = 0; i < fv.length; i++) fv[i]! += config.cgDamping * v[i]!;
      return fv;
    };
    const direction = conjugateGradient(fisher, grad, config.cgIters);
    const sFs = dot(direction, fisher(direction));
    const stepScale = sFs > 0 ? Math.sqrt((2 * config.maxKl) / sFs) : 0;
    clock?.lap('policy.cg');
    if (!(stepScale > 0) || !Number.isFinite(stepScale) || gradNorm === 0) {
      return { accepted: false, tries: 0, params: phiOld, kl: 0, improvement: 0, gradNorm, stepScale: 0 };
    }
    const evaluate = (phi: Float32Array): { kl: number; surrogate: number } => {
      policy.setFlat(phi);
      const kl = tf.tidy(() => policy.meanKl(obs, oldMean, oldLogStd).dataSync()[0]!);
      const s = tf.tidy(() => surrogate().dataSync()[0]!);
      return { kl, surrogate: s };
    };
    const result = backtrackingLineSearch(phiOld, direction, stepScale, evaluate, surrogateOld, config);
    policy.setFlat(result.params);
    clock?.lap('policy.lineSearch');
    return { ...result, gradNorm, stepScale };
  } finally {
    if (fvpObs !== obs) fvpObs.dispose();
    tf.dispose([obs, act, adv, oldLogp, oldMean, oldLogStd]);
  }
}
