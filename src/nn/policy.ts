/**
 * The diagonal Gaussian policy π_φ(a|s) = N(μ_φ(s), diag σ²) with a state-independent log σ, and
 * the pieces of a natural-gradient step that depend on it: log-probabilities, the surrogate of
 * eq. 8, the mean KL(π_old ‖ π) of the trust region, and exact Fisher-vector products (eq. 6).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.ts';
import { Mlp, type Activation, assignFlat, flatten, unflatten } from './mlp.ts';

const LOG_2PI = Math.log(2 * Math.PI);

/** Sizes of a policy network. */
export interface PolicyShape {
  readonly obsSize: number;
  readonly actSize: number;
  readonly hidden: readonly number[];
  readonly activation: Activation;
  /** Initial log σ of every action dimension. */
  readonly initLogStd: number;
}

/** π_φ: mean network plus one log σ per action dimension. */
export class GaussianPolicy {
  readonly mean: Mlp;
  readonly logStd: tf.Variable;
  /** Policy parameters φ in flat order: mean network variables, then log σ. */
  readonly vars: tf.Variable[];
  readonly numParams: number;

  constructor(
    readonly shape: PolicyShape,
    rng: Rng,
  ) {
    this.mean = new Mlp({ inSize: shape.obsSize, hidden: shape.hidden, outSize: shape.actSize, activation: shape.activation }, rng, 'pi/mean', 0.01);
    this.logStd = tf.variable(tf.fill([shape.actSize], shape.initLogStd), true);
    this.vars = [...this.mean.vars, this.logStd];
    this.numParams = this.mean.numParams + shape.actSize;
  }

  /** Means `n × actSize` and σ `actSize` for a batch of observations, as plain arrays. */
  meanStd(obs: Float32Array, n: number): { mean: Float32Array; std: Float32Array } {
    const mean = tf.tidy(() => this.mean.apply(tf.tensor2d(obs, [n, this.shape.obsSize])));
    const m = mean.dataSync() as Float32Array;
    mean.dispose();
    const ls = this.logStd.dataSync();
    const std = new Float32Array(ls.length);
    for (let i = 0; i < ls.length; i++) std[i] = Math.exp(ls[i]!);
    return { mean: m, std };
  }

  /** log π(a|s) per row. */
  logProb(obs: tf.Tensor2D, act: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      const mu = this.mean.apply(obs);
      const z = tf.div(tf.sub(act, mu), tf.exp(this.logStd));
      // Σ_k −½ z_k² − log σ_k − ½ log 2π
      const quad = tf.sum(tf.mul(-0.5, tf.square(z)), 1);
      return tf.sub<tf.Tensor1D>(quad, tf.add(tf.sum(this.logStd), 0.5 * LOG_2PI * this.shape.actSize));
    });
  }

  /**
   * Mean KL(π_old(·|s) ‖ π(·|s)) over the batch, closed form for diagonal Gaussians:
   * Σ_k log σ_k − log σ_old,k + (σ_old,k² + (μ_old,k − μ_k)²) / (2σ_k²) − ½.
   */
  meanKl(obs: tf.Tensor2D, oldMean: tf.Tensor2D, oldLogStd: tf.Tensor1D): tf.Scalar {
    return tf.tidy(() => {
      const mu = this.mean.apply(obs);
      const var_ = tf.exp(tf.mul(2, this.logStd));
      const oldVar = tf.exp(tf.mul(2, oldLogStd));
      const perDim = tf.sub(
        tf.add(tf.sub(this.logStd, oldLogStd), tf.div(tf.add(oldVar, tf.square(tf.sub(oldMean, mu))), tf.mul(2, var_))),
        0.5,
      );
      return tf.mean<tf.Scalar>(tf.sum(perDim, 1));
    });
  }

  /** Gradient of a scalar function of the policy variables, flattened in `vars` order. */
  flatGrad(f: () => tf.Scalar): { value: number; grad: Float32Array } {
    const { value, grads } = tf.variableGrads(f, this.vars);
    const g = flatten(this.vars.map((v) => grads[v.name]!));
    const out = { value: value.dataSync()[0]!, grad: g };
    value.dispose();
    tf.dispose(grads);
    return out;
  }

  /**
   * Fisher-vector product F·v of eq. 6 in its Gauss–Newton form, exact for this policy:
   * F = E_s[J_μᵀ diag(1/σ²) J_μ] ⊕ 2·I on the log σ block (no cross terms). J_μ·v comes from one
   * forward-mode pass, J_μᵀ(·) from one backward pass of a first-order graph.
   */
  fisherVectorProduct(obs: tf.Tensor2D, v: Float32Array): Float32Array {
    if (v.length !== this.numParams) throw new RangeError(`fisherVectorProduct: vector has ${v.length} values, expected ${this.numParams}`);
    const nMean = this.mean.numParams;
    const n = obs.shape[0];
    const grads = tf.tidy(() => {
      const tangents = unflatten(this.mean.vars, v.subarray(0, nMean));
      const { dOut } = this.mean.jvp(obs, tangents);
      const u = tf.div(dOut, tf.mul(tf.exp(tf.mul(2, this.logStd)), n));
      const { grads: g } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.mul(this.mean.apply(obs), u)), this.mean.vars);
      return this.mean.vars.map((mv) => g[mv.name]!);
    });
    const out = new Float32Array(this.numParams);
    out.set(flatten(grads), 0);
    tf.dispose(grads);
    for (let k = 0; k < this.shape.actSize; k++) out[nMean + k] = 2 * v[nMean + k]!;
    return out;
  }

  getFlat(): Float32Array {
    return flatten(this.vars);
  }

  setFlat(flat: Float32Array): void {
    assignFlat(this.vars, flat, 'policy');
  }

  dispose(): void {
    this.mean.dispose();
    this.logStd.dispose();
  }
}
