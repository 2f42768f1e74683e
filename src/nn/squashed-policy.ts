/**
 * The squashed Gaussian policy of SAC (Haarnoja et al. 2018, Appendix C): one network outputs the
 * mean μ_φ(s) and log σ_φ(s) of u ∼ N(μ, diag σ²); the action is a = tanh(u) ∈ (−1, 1)^|A|, mapped
 * affinely onto the env's action box. Its log-density follows by the change of variables a = tanh(u):
 *
 *   log π(a|s) = log N(u; μ, σ) − Σ_k log(1 − tanh²(u_k))
 *
 * with log(1 − tanh²(u)) = 2(log 2 − u − softplus(−2u)), exact and free of the cancellation that
 * 1 − tanh² suffers for large |u|. log π is the density of the squashed action in (−1, 1)^|A|: the
 * affine map onto the box only adds a constant, which no gradient sees and SAC's entropy target
 * −|A| is stated without.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.ts';
import { Mlp, type Activation } from './mlp.ts';

const LOG_2PI = Math.log(2 * Math.PI);

/** log σ is clipped to this range (SAC's usual bounds) so σ neither vanishes nor explodes. */
export const LOG_STD_MIN = -20;
export const LOG_STD_MAX = 2;

/** Sizes and action box of a squashed policy. */
export interface SquashedPolicyShape {
  readonly obsSize: number;
  readonly actSize: number;
  readonly hidden: readonly number[];
  readonly activation: Activation;
  readonly actLow: readonly number[];
  readonly actHigh: readonly number[];
}

/**
 * log π(tanh(u)|s) per row for pre-squash samples `u` of N(mean, exp(logStd)²):
 * Σ_k [−½ z_k² − log σ_k − ½ log 2π] − Σ_k 2(log 2 − u_k − softplus(−2u_k)), z = (u − μ)/σ.
 */
export function squashedGaussianLogProb(u: tf.Tensor2D, mean: tf.Tensor2D, logStd: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const z = tf.div(tf.sub(u, mean), tf.exp(logStd));
    const gaussian = tf.sub(tf.mul(-0.5, tf.square(z)), tf.add(logStd, 0.5 * LOG_2PI));
    const logJacobian = tf.mul(2, tf.sub(tf.sub(Math.LN2, u), tf.softplus(tf.mul(-2, u))));
    return tf.sum<tf.Tensor1D>(tf.sub(gaussian, logJacobian), 1);
  });
}

/** A reparameterised sample: the env action and its log-probability (differentiable in φ). */
export interface SquashedSample {
  /** `n × actSize`, inside the action box. */
  readonly action: tf.Tensor2D;
  /** log π(a|s) of the squashed action, `n`. */
  readonly logProb: tf.Tensor1D;
}

/** π_φ(a|s) = tanh-squashed N(μ_φ(s), σ_φ(s)²), scaled to the action box. */
export class SquashedGaussianPolicy {
  /** Outputs `2·actSize`: means, then log σ (before clipping). */
  readonly net: Mlp;
  private readonly scale: Float32Array;
  private readonly offset: Float32Array;

  constructor(
    readonly shape: SquashedPolicyShape,
    rng: Rng,
  ) {
    const { actSize, actLow, actHigh } = shape;
    if (actLow.length !== actSize || actHigh.length !== actSize) throw new RangeError(`SquashedGaussianPolicy: action bounds have ${actLow.length}/${actHigh.length} values, expected ${actSize}`);
    this.scale = new Float32Array(actSize);
    this.offset = new Float32Array(actSize);
    for (let k = 0; k < actSize; k++) {
      const lo = actLow[k]!;
      const hi = actHigh[k]!;
      if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) throw new RangeError(`SquashedGaussianPolicy: action ${k} has bounds [${lo}, ${hi}], expected finite low < high`);
      this.scale[k] = (hi - lo) / 2;
      this.offset[k] = (hi + lo) / 2;
    }
    // A small output layer starts every state near μ = 0, σ = 1: tanh(N(0, 1)) covers the box.
    this.net = new Mlp({ inSize: shape.obsSize, hidden: shape.hidden, outSize: 2 * actSize, activation: shape.activation }, rng, 'sac/pi', 0.01);
  }

  get vars(): readonly tf.Variable[] {
    return this.net.vars;
  }

  /** μ and clipped log σ of u for a batch of observations. */
  distribution(obs: tf.Tensor2D): { mean: tf.Tensor2D; logStd: tf.Tensor2D } {
    const A = this.shape.actSize;
    return tf.tidy(() => {
      const out = this.net.apply(obs);
      const n = out.shape[0];
      return { mean: tf.slice(out, [0, 0], [n, A]), logStd: tf.clipByValue(tf.slice(out, [0, A], [n, A]), LOG_STD_MIN, LOG_STD_MAX) };
    });
  }

  /** Maps squashed actions in (−1, 1) onto the action box. */
  toBox(squashed: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.mul(squashed, tf.tensor1d(this.scale)), tf.tensor1d(this.offset)));
  }

  /** a = box(tanh(μ + σ ⊙ noise)) with `noise` ∼ N(0, I) given (`n × actSize`), and log π(a|s). */
  sample(obs: tf.Tensor2D, noise: tf.Tensor2D): SquashedSample {
    return tf.tidy(() => {
      const { mean, logStd } = this.distribution(obs);
      const u = tf.add<tf.Tensor2D>(mean, tf.mul(tf.exp(logStd), noise));
      return { action: this.toBox(tf.tanh(u)), logProb: squashedGaussianLogProb(u, mean, logStd) };
    });
  }

  /**
   * Actions for `n` observations as a plain array: a sample with `noise` (`n × actSize` standard
   * normals), or the deterministic box(tanh(μ)) when `noise` is null.
   */
  act(obs: Float32Array, n: number, noise: Float32Array | null): Float32Array {
    const A = this.shape.actSize;
    const out = tf.tidy(() => {
      const s = tf.tensor2d(obs.subarray(0, n * this.shape.obsSize), [n, this.shape.obsSize]);
      if (noise !== null) return this.sample(s, tf.tensor2d(noise.subarray(0, n * A), [n, A])).action;
      const { mean } = this.distribution(s);
      return this.toBox(tf.tanh(mean));
    });
    const v = out.dataSync() as Float32Array;
    out.dispose();
    return v;
  }

  dispose(): void {
    this.net.dispose();
  }
}
