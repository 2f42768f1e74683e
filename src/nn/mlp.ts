/**
 * A plain multi-layer perceptron on TensorFlow.js variables, with what the learners need beyond a
 * forward pass: flat parameter vectors (for natural-gradient steps and checkpoints) and a
 * forward-mode Jacobian-vector product (for exact Gauss–Newton Fisher-vector products without
 * tfjs's broken second-order gradients, DESIGN.md "Measured facts").
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.ts';

/** Hidden activation. Output layer is linear; heads add their own squashing. */
export type Activation = 'tanh' | 'relu';

/** Shape of an MLP. */
export interface MlpShape {
  readonly inSize: number;
  readonly hidden: readonly number[];
  readonly outSize: number;
  readonly activation: Activation;
}

/** A fully connected network `in → hidden… → out`. Owns its variables; call {@link dispose}. */
export class Mlp {
  /** `[W1, b1, W2, b2, …]`, `Wk` of shape `[fanIn, fanOut]`. */
  readonly vars: tf.Variable[];
  readonly numParams: number;

  /**
   * Initialises weights from `rng`: orthogonal-like scaled Gaussian (std √(2/(fanIn+fanOut)) ·
   * gain) for hidden layers, `outputScale` × that for the last layer (0.01 for policy means keeps
   * the initial policy centred), zeros for biases.
   */
  constructor(
    readonly shape: MlpShape,
    rng: Rng,
    readonly name: string,
    outputScale = 1,
  ) {
    const sizes = [shape.inSize, ...shape.hidden, shape.outSize];
    for (const s of sizes) {
      if (!Number.isInteger(s) || s <= 0) throw new RangeError(`${name}: layer sizes must be positive integers, got [${sizes.join(', ')}]`);
    }
    this.vars = [];
    let n = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      const fanIn = sizes[l]!;
      const fanOut = sizes[l + 1]!;
      const last = l + 2 === sizes.length;
      const std = Math.sqrt(2 / (fanIn + fanOut)) * (last ? outputScale : shape.activation === 'relu' ? Math.SQRT2 : 1);
      const w = new Float32Array(fanIn * fanOut);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
      this.vars.push(tf.variable(tf.tensor2d(w, [fanIn, fanOut]), true));
      this.vars.push(tf.variable(tf.zeros([fanOut]), true));
      n += w.length + fanOut;
    }
    this.numParams = n;
  }

  /** Forward pass, `x` of shape `[batch, inSize]`. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return this.applyFrom(0, x);
  }

  /**
   * The network from layer `first` on, given that layer's input (`first = 0`: the network input).
   * Lets callers compute the first layer their own way (e.g. split over concatenated inputs).
   */
  applyFrom(first: number, x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = x;
      const layers = this.vars.length / 2;
      for (let l = first; l < layers; l++) {
        const z = tf.add<tf.Tensor2D>(tf.matMul(h, this.vars[2 * l]!), this.vars[2 * l + 1]!);
        h = l + 1 < layers ? this.act(z) : z;
      }
      return h;
    });
  }

  /** The hidden activation of this network (for callers of {@link applyFrom}). */
  activate(z: tf.Tensor2D): tf.Tensor2D {
    return this.act(z);
  }

  /**
   * Forward-mode product: the output and its directional derivative d(out) = J·v along a
   * parameter tangent `tangents` (one tensor per variable, same shapes). Tangents are pushed
   * through layer by layer: dz = dh·W + h·dW + db, dh = act′(z) ⊙ dz.
   */
  jvp(x: tf.Tensor2D, tangents: readonly tf.Tensor[]): { out: tf.Tensor2D; dOut: tf.Tensor2D } {
    if (tangents.length !== this.vars.length) throw new RangeError(`${this.name}.jvp: ${tangents.length} tangents for ${this.vars.length} variables`);
    return tf.tidy(() => {
      let h: tf.Tensor2D = x;
      let dh: tf.Tensor2D | null = null;
      const layers = this.vars.length / 2;
      for (let l = 0; l < layers; l++) {
        const w = this.vars[2 * l]! as tf.Tensor2D;
        const dw = tangents[2 * l]! as tf.Tensor2D;
        const db = tangents[2 * l + 1]!;
        const z = tf.add<tf.Tensor2D>(tf.matMul(h, w), this.vars[2 * l + 1]!);
        let dz = tf.add<tf.Tensor2D>(tf.matMul(h, dw), db);
        if (dh !== null) dz = tf.add<tf.Tensor2D>(dz, tf.matMul(dh, w));
        if (l + 1 < layers) {
          h = this.act(z);
          dh = this.shape.activation === 'tanh' ? tf.mul<tf.Tensor2D>(dz, tf.sub(1, tf.square(h))) : tf.mul<tf.Tensor2D>(dz, tf.step(z));
        } else {
          return { out: z, dOut: dz };
        }
      }
      throw new Error('unreachable: an Mlp has at least one layer');
    });
  }

  private act(z: tf.Tensor2D): tf.Tensor2D {
    return this.shape.activation === 'tanh' ? tf.tanh(z) : tf.relu(z);
  }

  /** All parameters as one vector, in `vars` order. */
  getFlat(): Float32Array {
    return flatten(this.vars);
  }

  /** Sets all parameters from a vector made by {@link getFlat}. */
  setFlat(flat: Float32Array): void {
    assignFlat(this.vars, flat, this.name);
  }

  /** Copies parameters from a network of the same shape (e.g. target ← online). */
  copyFrom(other: Mlp): void {
    this.setFlat(other.getFlat());
  }

  /** Polyak averaging: θ ← (1−τ)θ + τ θ_other. */
  softUpdate(other: Mlp, tau: number): void {
    tf.tidy(() => {
      this.vars.forEach((v, i) => {
        v.assign(tf.add(tf.mul(v, 1 - tau), tf.mul(other.vars[i]!, tau)));
      });
    });
  }

  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}

/** Concatenates the values of `vars` into one Float32Array. */
export function flatten(vars: readonly tf.Tensor[]): Float32Array {
  const total = vars.reduce((s, v) => s + v.size, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const v of vars) {
    out.set(v.dataSync(), o);
    o += v.size;
  }
  return out;
}

/** Assigns a flat vector to `vars` in order; throws when the length does not match. */
export function assignFlat(vars: readonly tf.Variable[], flat: Float32Array, what: string): void {
  const total = vars.reduce((s, v) => s + v.size, 0);
  if (flat.length !== total) throw new RangeError(`${what}: flat parameter vector has ${flat.length} values, expected ${total}`);
  let o = 0;
  tf.tidy(() => {
    for (const v of vars) {
      v.assign(tf.tensor(flat.subarray(o, o + v.size), v.shape));
      o += v.size;
    }
  });
}

/** Splits a flat vector into tensors shaped like `vars` (caller disposes, or use inside tidy). */
export function unflatten(vars: readonly tf.Tensor[], flat: Float32Array): tf.Tensor[] {
  let o = 0;
  return vars.map((v) => {
    const t = tf.tensor(flat.subarray(o, o + v.size), v.shape);
    o += v.size;
    return t;
  });
}
