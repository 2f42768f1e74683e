/**
 * The conservative safety critic Q_C(s, a) ∈ [0, 1] (a sigmoid head: the paper caps Q_C ≤ 1),
 * trained by CQL(ζ), eq. 2:
 *
 *   α (−E_{s∼D, a∼π}[Q_C(s,a)] + E_{(s,a)∼D}[Q_C(s,a)]) + ½ E_{(s,a,s′,c)∼D}[(Q_C(s,a) − B̂Q̂_C(s,a))²]
 *   B̂Q̂_C(s,a) = c + γ (1 − terminated) E_{a′∼π(s′)} Q̂_C(s′, a′)
 *
 * The signs make Q_C rise under the policy's actions and fall on the data's, so it over-estimates
 * the probability of failure. Q̂_C is a Polyak-averaged target network. With α = 0 this is plain
 * Bellman-error training (the Q-ensembles baseline's members).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.ts';
import type { ReplayBatch } from '../core/replay.ts';
import { Mlp, type Activation } from '../nn/mlp.ts';

/** Settings of a safety critic (A.6 defaults). */
export interface SafetyCriticConfig {
  readonly obsSize: number;
  readonly actSize: number;
  readonly hidden: readonly number[];
  readonly activation: Activation;
  /** η_Q (2e-4). */
  readonly lr: number;
  /** α, weight of the CQL term (0.5; 0 = plain Bellman error). */
  readonly alpha: number;
  /** γ (0.99). */
  readonly gamma: number;
  /** Polyak rate of the target network per update (0.005). */
  readonly targetTau: number;
}

/** Actions drawn from the current policy for the CQL term and the Bellman target. */
export interface PolicySamples {
  /** `n × m × actSize`: m actions a ∼ π(·|s) per batch state. */
  readonly atObs: Float32Array;
  /** `n × m × actSize`: m actions a′ ∼ π(·|s′) per batch next state. */
  readonly atNextObs: Float32Array;
  readonly m: number;
}

/** Loss terms of one update, for the metrics. */
export interface CriticUpdateStats {
  readonly loss: number;
  readonly bellman: number;
  /** E_{a∼π}Q_C − E_{a∼D}Q_C on the batch (the gap CQL widens); NaN when α = 0 (not computed). */
  readonly gap: number;
}

export class SafetyCritic {
  readonly net: Mlp;
  readonly target: Mlp;
  private readonly optimizer: tf.Optimizer;

  constructor(
    readonly config: SafetyCriticConfig,
    rng: Rng,
    name = 'qc',
  ) {
    const shape = { inSize: config.obsSize + config.actSize, hidden: config.hidden, outSize: 1, activation: config.activation };
    this.net = new Mlp(shape, rng, name);
    this.target = new Mlp(shape, rng, `${name}-target`);
    this.target.copyFrom(this.net);
    this.optimizer = tf.train.adam(config.lr);
  }

  /** Q_C for `n` (s, a) pairs given as separate row-major arrays; one forward pass. */
  predict(obs: Float32Array, actions: Float32Array, n: number): Float32Array {
    const { obsSize, actSize } = this.config;
    const out = tf.tidy(() => this.q(this.net, tf.tensor2d(obs.subarray(0, n * obsSize), [n, obsSize]), tf.tensor2d(actions.subarray(0, n * actSize), [n, actSize])));
    const v = out.dataSync() as Float32Array;
    out.dispose();
    return v;
  }

  /**
   * Q_C for `n` states × `k` candidate actions each (`actions` is `n × k × actSize`), in one
   * forward pass. The first layer is split over the concatenated input, W₁[s; a] = W₁ˢs + W₁ᵃa,
   * so the state part is computed once per state instead of once per candidate.
   */
  predictCandidates(obs: Float32Array, n: number, actions: Float32Array, k: number): Float32Array {
    const { obsSize, actSize } = this.config;
    const net = this.net;
    const out = tf.tidy(() => {
      const w0 = net.vars[0]! as tf.Tensor2D;
      const hidden = w0.shape[1];
      const s = tf.tensor2d(obs.subarray(0, n * obsSize), [n, obsSize]);
      const a = tf.tensor2d(actions.subarray(0, n * k * actSize), [n * k, actSize]);
      const zs = tf.add(tf.matMul(s, tf.slice(w0, [0, 0], [obsSize, hidden])), net.vars[1]!);
      const za = tf.matMul(a, tf.slice(w0, [obsSize, 0], [actSize, hidden]));
      const z = tf.reshape<tf.Rank.R2>(tf.add(tf.reshape(za, [n, k, hidden]), tf.reshape(zs, [n, 1, hidden])), [n * k, hidden]);
      const single = net.vars.length === 2;
      const logits = single ? z : net.applyFrom(1, net.activate(z));
      return tf.reshape(tf.sigmoid(logits), [-1]);
    });
    const v = out.dataSync() as Float32Array;
    out.dispose();
    return v;
  }

  /** One gradient step of CQL(ζ) (eq. 2) on `batch`, then a Polyak step of the target. */
  update(batch: ReplayBatch, samples: PolicySamples): CriticUpdateStats {
    const { obsSize, actSize, alpha, gamma } = this.config;
    const { n } = batch;
    const m = samples.m;
    const stats = tf.tidy(() => {
      const s = tf.tensor2d(batch.obs, [n, obsSize]);
      const a = tf.tensor2d(batch.actions, [n, actSize]);
      const s2 = tf.tensor2d(batch.nextObs, [n, obsSize]);
      const c = tf.tensor1d(batch.costs);
      const notTerm = tf.sub(1, tf.tensor1d(batch.terminated));
      const repeat = (x: tf.Tensor2D): tf.Tensor2D => tf.reshape<tf.Rank.R2>(tf.tile(tf.reshape(x, [n, 1, obsSize]), [1, m, 1]), [n * m, obsSize]);
      const aNext = tf.tensor2d(samples.atNextObs, [n * m, actSize]);
      // B̂Q̂_C: c + γ(1 − terminated)·mean_{a′} Q̂_C(s′, a′), no gradient through the target.
      const qNext = tf.mean(tf.reshape(this.q(this.target, repeat(s2), aNext), [n, m]), 1);
      const y = tf.add(c, tf.mul(gamma, tf.mul(notTerm, qNext)));
      let bellman = 0;
      let gap = NaN;
      const loss = this.optimizer.minimize(
        () =>
          tf.tidy(() => {
            const qData = this.q(this.net, s, a);
            const bellmanT = tf.mul(0.5, tf.mean(tf.square(tf.sub(qData, y))));
            bellman = bellmanT.dataSync()[0]!;
            // With α = 0 (the Q-ensembles' plain Bellman critics) the CQL term contributes no
            // gradient, so its n·m-row forward and backward pass is skipped.
            if (alpha === 0) return bellmanT as tf.Scalar;
            const qPi = this.q(this.net, repeat(s), tf.tensor2d(samples.atObs, [n * m, actSize]));
            const gapT = tf.sub(tf.mean(qPi), tf.mean(qData));
            gap = gapT.dataSync()[0]!;
            // α(−E_π Q_C + E_D Q_C) + ½ Bellman error
            return tf.add<tf.Scalar>(tf.mul(-alpha, gapT), bellmanT);
          }),
        true,
        this.net.vars,
      );
      const l = loss?.dataSync()[0] ?? NaN;
      return { loss: l, bellman, gap };
    });
    this.target.softUpdate(this.net, this.config.targetTau);
    return stats;
  }

  private q(net: Mlp, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => tf.reshape<tf.Rank.R1>(tf.sigmoid(net.apply(tf.concat([s, a], 1))), [-1]));
  }

  dispose(): void {
    this.net.dispose();
    this.target.dispose();
    this.optimizer.dispose();
  }
}
