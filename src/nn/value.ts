/** The task value function V_θ(s) of Algorithm 1, regressed on GAE returns with Adam. */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.ts';
import type { AdamSlot } from './adam-state.ts';
import { Mlp, type Activation } from './mlp.ts';

export interface ValueConfig {
  readonly obsSize: number;
  readonly hidden: readonly number[];
  readonly activation: Activation;
  readonly lr: number;
}

export class ValueFunction {
  readonly net: Mlp;
  private readonly optimizer: tf.Optimizer;

  constructor(
    readonly config: ValueConfig,
    rng: Rng,
  ) {
    this.net = new Mlp({ inSize: config.obsSize, hidden: config.hidden, outSize: 1, activation: config.activation }, rng, 'v');
    this.optimizer = tf.train.adam(config.lr);
  }

  /** Its Adam optimiser and the variables it updates, for checkpoints (`adam-state.ts`). */
  adamSlot(prefix: string): AdamSlot {
    return { prefix, optimizer: this.optimizer, vars: this.net.vars };
  }

  /** V(s) for `n` observations, one forward pass. */
  predict(obs: Float32Array, n: number): Float32Array {
    const out = tf.tidy(() => tf.reshape(this.net.apply(tf.tensor2d(obs.subarray(0, n * this.config.obsSize), [n, this.config.obsSize])), [-1]));
    const v = out.dataSync() as Float32Array;
    out.dispose();
    return v;
  }

  /** `epochs` passes of shuffled minibatches of mean-squared error to `targets`; returns the last epoch's mean loss. */
  fit(obs: Float32Array, targets: Float32Array, n: number, epochs: number, batchSize: number, rng: Rng): number {
    const d = this.config.obsSize;
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    const bObs = new Float32Array(batchSize * d);
    const bT = new Float32Array(batchSize);
    let last = 0;
    for (let ep = 0; ep < epochs; ep++) {
      rng.shuffle(order);
      let sum = 0;
      let count = 0;
      for (let start = 0; start + batchSize <= n || (start < n && count === 0); start += batchSize) {
        const m = Math.min(batchSize, n - start);
        for (let k = 0; k < m; k++) {
          const i = order[start + k]!;
          bObs.set(obs.subarray(i * d, (i + 1) * d), k * d);
          bT[k] = targets[i]!;
        }
        sum += tf.tidy(() => {
          const x = tf.tensor2d(bObs.subarray(0, m * d), [m, d]);
          const y = tf.tensor1d(bT.subarray(0, m));
          const loss = this.optimizer.minimize(() => tf.mean<tf.Scalar>(tf.square(tf.sub(tf.reshape(this.net.apply(x), [-1]), y))), true, this.net.vars);
          return loss?.dataSync()[0] ?? NaN;
        });
        count++;
      }
      last = sum / Math.max(1, count);
    }
    return last;
  }

  dispose(): void {
    this.net.dispose();
    this.optimizer.dispose();
  }
}
