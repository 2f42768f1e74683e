/**
 * E multi-layer perceptrons of one shape evaluated together: one call runs every member (inside
 * one `tf.tidy`, one read-back for the caller), one optimizer step updates them all, and the
 * members' parameters read and write as {@link Mlp} flat vectors (checkpoints stay per member).
 *
 * Why per-member 2-D matMuls and not stacked `[E, fanIn, fanOut]` weights with one batched
 * matMul: on the wasm backend (the default) a matMul with a batch dimension > 1 runs tfjs-wasm's
 * generic loop instead of XNNPACK's kernel, and so do adds broadcast over 3-D tensors. Measured
 * (CPU ms, 20 members, hidden 64): a [20, r, 64] × [20, 64, 64] batched matMul 5.2 / 20.6 / 123
 * for r = 64 / 256 / 1536 rows, against 1.3 / 2.2 / 12.5 for 20 separate 2-D matMuls; a whole
 * 3-layer stacked forward was 1.1× / 3× slower than 20 separate calls. So the members stay
 * compute as separate 2-D tensors, and what is shared is everything around them: the inputs,
 * the read-back, the loss, and the optimizer and Polyak steps — the parameters are stored stacked
 * (`[E, fanIn, fanOut]` weights, `[E, fanOut]` biases), so Adam and the target update run a
 * handful of ops on 2L variables instead of 2L·E small ones (Adam alone is ~15 ops a variable).
 * The per-member 2-D views are sliced from the stacks once after each change for inference
 * ({@link weights}), and inside the gradient tape for a training step ({@link unstack}).
 *
 * Hidden `tanh` is tf.tanh: on wasm that kernel is the faster 2σ(2z) − 1 of src/nn/wasm-kernels.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Mlp, MlpShape } from './mlp.ts';

/** One member's parameters as 2-D views, {@link Mlp}'s order `[W1, b1, W2, b2, …]`. */
export type MemberWeights = readonly tf.Tensor[];

/** E networks of one shape with stacked parameters. Owns its variables; call {@link dispose}. */
export class MlpEnsemble {
  /** `[W1, b1, …]`: `Wk` of shape `[E, fanIn, fanOut]`, `bk` of shape `[E, fanOut]`. */
  readonly vars: tf.Variable[];
  readonly size: number;
  private cached: tf.Tensor[][] | null = null;

  /** Stacks the parameters of `members` (all of `shape`); the members stay the caller's. */
  constructor(
    readonly shape: MlpShape,
    members: readonly Mlp[],
    readonly name: string,
  ) {
    if (members.length === 0) throw new RangeError(`${name}: an ensemble needs at least one member`);
    const want = JSON.stringify([shape.inSize, ...shape.hidden, shape.outSize]);
    members.forEach((m, e) => {
      const got = JSON.stringify([m.shape.inSize, ...m.shape.hidden, m.shape.outSize]);
      if (got !== want || m.shape.activation !== shape.activation) throw new RangeError(`${name}: member ${e} is ${got} ${m.shape.activation}, expected ${want} ${shape.activation}`);
    });
    this.size = members.length;
    this.vars = tf.tidy(() => members[0]!.vars.map((_, i) => tf.variable(tf.stack(members.map((m) => m.vars[i]!)), true)));
  }

  /** Shapes of one member's variables, as {@link Mlp}'s: `[fanIn, fanOut]` weights, `[fanOut]` biases. */
  memberShapes(): number[][] {
    return this.vars.map((v) => v.shape.slice(1));
  }

  /**
   * Per-member 2-D views of the current parameters, for inference: sliced once and kept until
   * the parameters change through this class (or {@link changed} is called after an optimizer
   * step on {@link vars}).
   */
  weights(): readonly MemberWeights[] {
    this.cached ??= this.unstack().map((w) => w.map((t) => tf.keep(t)));
    return this.cached;
  }

  /** Per-member 2-D views made now (inside a gradient tape: gradients flow to {@link vars}). */
  unstack(): tf.Tensor[][] {
    const perVar = this.vars.map((v) => tf.unstack(v));
    return Array.from({ length: this.size }, (_, e) => perVar.map((views) => views[e]!));
  }

  /** Drops the views of {@link weights}: call after changing {@link vars} from outside. */
  changed(): void {
    if (this.cached !== null) for (const w of this.cached) tf.dispose(w);
    this.cached = null;
  }

  /** A member (its `weights`) from layer `first` on, given that layer's input `[rows, fanIn]`. */
  forward(weights: MemberWeights, first: number, x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = x;
      const layers = weights.length / 2;
      for (let l = first; l < layers; l++) {
        const z = tf.add<tf.Tensor2D>(tf.matMul(h, weights[2 * l]!), weights[2 * l + 1]!);
        h = l + 1 < layers ? this.activate(z) : z;
      }
      return h;
    });
  }

  /** Every member on the same rows `x` `[rows, inSize]` (current parameters): one `[rows, outSize]` per member. */
  applyShared(x: tf.Tensor2D, weights: readonly MemberWeights[] = this.weights()): tf.Tensor2D[] {
    return weights.map((w) => this.forward(w, 0, x));
  }

  /** The hidden activation. */
  activate<T extends tf.Tensor>(z: T): T {
    return this.shape.activation === 'tanh' ? tf.tanh(z) : tf.relu(z);
  }

  /** Every member's parameters, each in {@link Mlp}'s flat order (what `Mlp.getFlat()` gives). */
  getMemberFlats(): Float32Array[] {
    const per = this.vars.reduce((n, v) => n + v.size / this.size, 0);
    const out = Array.from({ length: this.size }, () => new Float32Array(per));
    let o = 0;
    for (const v of this.vars) {
      const count = v.size / this.size;
      const data = v.dataSync() as Float32Array;
      out.forEach((m, e) => {
        m.set(data.subarray(e * count, (e + 1) * count), o);
      });
      o += count;
    }
    return out;
  }

  /** Sets every member's parameters from vectors in {@link Mlp}'s flat order. */
  setMemberFlats(params: readonly Float32Array[]): void {
    const per = this.vars.reduce((n, v) => n + v.size / this.size, 0);
    if (params.length !== this.size) throw new RangeError(`${this.name}: ${params.length} member vectors for ${this.size} members`);
    params.forEach((p, e) => {
      if (p.length !== per) throw new RangeError(`${this.name}: member ${e} has ${p.length} parameters, expected ${per}`);
    });
    let o = 0;
    tf.tidy(() => {
      for (const v of this.vars) {
        const count = v.size / this.size;
        const stacked = new Float32Array(v.size);
        params.forEach((p, e) => {
          stacked.set(p.subarray(o, o + count), e * count);
        });
        v.assign(tf.tensor(stacked, v.shape));
        o += count;
      }
    });
    this.changed();
  }

  /** Polyak averaging of every member: θ ← (1−τ)θ + τ θ_other. */
  softUpdate(other: MlpEnsemble, tau: number): void {
    tf.tidy(() => {
      this.vars.forEach((v, i) => {
        v.assign(tf.add(tf.mul(v, 1 - tau), tf.mul(other.vars[i]!, tau)));
      });
    });
    this.changed();
  }

  dispose(): void {
    this.changed();
    for (const v of this.vars) v.dispose();
  }
}
