/**
 * The conservative safety critic Q_C(s, a) ∈ [0, 1] (a sigmoid head: the paper caps Q_C ≤ 1),
 * trained by CQL(ζ), eq. 2:
 *
 *   α (−E_{s∼D, a∼π}[Q_C(s,a)] + E_{(s,a)∼D}[Q_C(s,a)]) + ½ E_{(s,a,s′,c)∼D}[(Q_C(s,a) − B̂Q̂_C(s,a))²]
 *   B̂Q̂_C(s,a) = c + γ (1 − terminated) E_{a′}[Q̂_C(s′, a′)]
 *
 * with a′ ∼ π(s′) as printed, or a′ chosen by the acting filter at s′ (`NextValue`: the caller
 * reduces m samples of π to the expectation it wants, see `filteredValue` in safety-filter.ts).
 * The head's bias starts at logit(`initFailure`), so an untrained critic predicts "rarely fails"
 * instead of a coin flip.
 *
 * The signs make Q_C rise under the policy's actions and fall on the data's, so it over-estimates
 * the probability of failure. Q̂_C is a Polyak-averaged target network. With α = 0 this is plain
 * Bellman-error training (the Q-ensembles baseline's members).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.ts';
import type { ReplayBatch } from '../core/replay.ts';
import type { AdamSlot } from '../nn/adam-state.ts';
import { Mlp, type Activation } from '../nn/mlp.ts';

/** Settings of a safety critic (A.6 defaults). */
export interface SafetyCriticConfig {
  readonly obsSize: number;
  readonly actSize: number;
  readonly hidden: readonly number[];
  readonly activation: Activation;
  /** η_Q (2e-4). */
  readonly lr: number;
  /** α, weight of the CQL term (0.5; 0 = plain Bellman error); the start value when `alphaLr` > 0. */
  readonly alpha: number;
  /**
   * η_α: with η_α > 0, α becomes a multiplier on the gap g = E_{a∼π}Q_C − E_{a∼D}Q_C, capped at
   * `alpha`: after each update α ← clip(α + η_α(τ − g), 0, `alpha`). While g ≤ τ it stays at
   * `alpha` (eq. 2 as printed); while CQL lifts π's samples by more than τ it shrinks, so the lift
   * cannot chase π without bound. Capped, because where the filter passes π's samples D's actions
   * are π's own and g stays near 0 whatever α is: an uncapped multiplier would grow without end
   * and lift all the harder once π moves. 0 (default): α fixed.
   */
  readonly alphaLr?: number;
  /** τ, the largest gap α is not reduced for (read only when `alphaLr` > 0). */
  readonly gapTarget?: number;
  /** γ (0.99). */
  readonly gamma: number;
  /** Polyak rate of the target network per update (0.005). */
  readonly targetTau: number;
  /** Q_C of every input before training (the sigmoid head's bias is its logit); default 0.5. */
  readonly initFailure?: number;
  /**
   * The Bellman term: `mse` = ½ E[(Q_C − y)²] (eq. 2 as printed); `bce` = E[−y log Q_C −
   * (1 − y) log(1 − Q_C)], the cross-entropy of the sigmoid head against the target y ∈ [0, 1].
   * Both are minimised by Q_C = E[y] (the same fixed point), but the squared error's gradient
   * carries σ′ = Q_C(1 − Q_C), which all but vanishes where Q_C is near 0 — where a calibrated
   * critic of rare failures lives — while the cross-entropy's gradient in the logit is Q_C − y.
   * Default `mse`.
   */
  readonly bellmanLoss?: 'mse' | 'bce';
}

/**
 * E_{a′}Q̂_C(s′, a′) per row from `q`, `n × m` target values at m samples a′ ∼ π(s′) (sampling
 * order). The default is their mean (a′ ∼ π).
 */
export type NextValue = (q: Float32Array, n: number, m: number) => Float32Array;

/** The mean of each row's m values: E_{a′∼π}. */
export function meanNextValue(q: Float32Array, n: number, m: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += q[i * m + j]!;
    out[i] = s / m;
  }
  return out;
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
  /** E_{a∼π}Q_C − E_{a∼D}Q_C on the batch (the gap CQL widens); NaN when α is fixed at 0 (not computed). */
  readonly gap: number;
}

/** One projected step of CQL's α on the gap g, within [0, cap]: clip(α + η_α(τ − g), 0, cap). */
export function alphaStep(alpha: number, gap: number, gapTarget: number, alphaLr: number, cap: number): number {
  return Math.min(cap, Math.max(0, alpha + alphaLr * (gapTarget - gap)));
}

export class SafetyCritic {
  readonly net: Mlp;
  readonly target: Mlp;
  private readonly optimizer: tf.Optimizer;
  /** α of the CQL term: `config.alpha`, moved within [0, `config.alpha`] by {@link alphaStep} when `config.alphaLr` > 0. */
  alpha: number;

  constructor(
    readonly config: SafetyCriticConfig,
    rng: Rng,
    name = 'qc',
  ) {
    const shape = { inSize: config.obsSize + config.actSize, hidden: config.hidden, outSize: 1, activation: config.activation };
    this.net = new Mlp(shape, rng, name);
    const p = config.initFailure ?? 0.5;
    if (!(p > 0 && p < 1)) throw new RangeError(`SafetyCritic: initFailure must be in (0, 1), got ${p}`);
    const head = this.net.vars[this.net.vars.length - 1]!;
    head.assign(tf.fill(head.shape, Math.log(p / (1 - p))));
    this.target = new Mlp(shape, rng, `${name}-target`);
    this.target.copyFrom(this.net);
    this.optimizer = tf.train.adam(config.lr);
    this.alpha = config.alpha;
    const lr = config.alphaLr ?? 0;
    if (!(lr >= 0 && Number.isFinite(lr))) throw new RangeError(`SafetyCritic: alphaLr must be a finite number ≥ 0, got ${lr}`);
    if (lr > 0 && !Number.isFinite(config.gapTarget)) throw new RangeError(`SafetyCritic: alphaLr > 0 needs a finite gapTarget, got ${config.gapTarget}`);
  }

  /** Its Adam optimiser and the variables it updates, for checkpoints (`adam-state.ts`). */
  adamSlot(prefix: string): AdamSlot {
    return { prefix, optimizer: this.optimizer, vars: this.net.vars };
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
    const out = tf.tidy(() =>
      tf.reshape(tf.sigmoid(this.candidateLogits(this.net, tf.tensor2d(obs.subarray(0, n * obsSize), [n, obsSize]), actions.subarray(0, n * k * actSize), n, k)), [-1]),
    );
    const v = out.dataSync() as Float32Array;
    out.dispose();
    return v;
  }

  /**
   * Logits of `net` for `n` states × `k` actions each (`actions` is `n × k × actSize`), `[n, k]`.
   * The first layer is split over the concatenated input, W₁[s; a] = W₁ˢs + W₁ᵃa, so the state
   * part is computed once per state instead of once per action (no tiled copies of s).
   */
  private candidateLogits(net: Mlp, s: tf.Tensor2D, actions: Float32Array, n: number, k: number): tf.Tensor2D {
    const { obsSize, actSize } = this.config;
    return tf.tidy(() => {
      const w0 = net.vars[0]! as tf.Tensor2D;
      const hidden = w0.shape[1];
      const a = tf.tensor2d(actions, [n * k, actSize]);
      const zs = tf.add(tf.matMul(s, tf.slice(w0, [0, 0], [obsSize, hidden])), net.vars[1]!);
      const za = tf.matMul(a, tf.slice(w0, [obsSize, 0], [actSize, hidden]));
      const z = tf.reshape<tf.Rank.R2>(tf.add(tf.reshape(za, [n, k, hidden]), tf.reshape(zs, [n, 1, hidden])), [n * k, hidden]);
      const logits = net.vars.length === 2 ? z : net.applyFrom(1, net.activate(z));
      return tf.reshape<tf.Rank.R2>(logits, [n, k]);
    });
  }

  /** One gradient step of CQL(ζ) (eq. 2) on `batch`, then a Polyak step of the target. */
  update(batch: ReplayBatch, samples: PolicySamples, nextValue: NextValue = meanNextValue): CriticUpdateStats {
    const { obsSize, actSize, gamma } = this.config;
    const alpha = this.alpha;
    const alphaLr = this.config.alphaLr ?? 0;
    const { n } = batch;
    const m = samples.m;
    // E_{a′}Q̂_C(s′, a′) from the target network (no gradient), reduced by `nextValue`.
    const qNextT = tf.tidy(() => tf.sigmoid(this.candidateLogits(this.target, tf.tensor2d(batch.nextObs, [n, obsSize]), samples.atNextObs, n, m)));
    const qNext = nextValue(qNextT.dataSync() as Float32Array, n, m);
    qNextT.dispose();
    // B̂Q̂_C = c + d·(1 − terminated)·E_{a′}Q̂_C(s′, a′), d = γ, or γ^h for an h-step tuple.
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const d = batch.discounts[i]!;
      y[i] = batch.costs[i]! + (Number.isNaN(d) ? gamma : d) * (1 - batch.terminated[i]!) * qNext[i]!;
    }
    // With α > 0 one forward pass serves both terms: per state, the data's action then the m
    // samples of π (`n × (m + 1)` rows). A moving α needs the gap even while it sits at 0.
    let both: Float32Array | null = null;
    if (alpha !== 0 || alphaLr > 0) {
      both = new Float32Array(n * (m + 1) * actSize);
      for (let i = 0; i < n; i++) {
        const row = i * (m + 1) * actSize;
        both.set(batch.actions.subarray(i * actSize, (i + 1) * actSize), row);
        both.set(samples.atObs.subarray(i * m * actSize, (i + 1) * m * actSize), row + actSize);
      }
    }
    const stats = tf.tidy(() => {
      const s = tf.tensor2d(batch.obs, [n, obsSize]);
      const a = tf.tensor2d(batch.actions, [n, actSize]);
      const yT = tf.tensor1d(y);
      let bellman = 0;
      let gap = NaN;
      const loss = this.optimizer.minimize(
        () =>
          tf.tidy(() => {
            const zBoth = both === null ? null : this.candidateLogits(this.net, s, both, n, m + 1);
            const zData = zBoth === null ? this.logit(this.net, s, a) : tf.reshape<tf.Rank.R1>(tf.slice(zBoth, [0, 0], [n, 1]), [-1]);
            const qData = tf.sigmoid(zData);
            // BCE from the logit, stably: softplus(z) − y·z = −y log σ(z) − (1 − y) log(1 − σ(z)).
            const bellmanT: tf.Scalar =
              this.config.bellmanLoss === 'bce' ? tf.mean(tf.sub(tf.softplus(zData), tf.mul(yT, zData))) : tf.mul(0.5, tf.mean(tf.square(tf.sub(qData, yT))));
            bellman = bellmanT.dataSync()[0]!;
            // With α = 0 (the Q-ensembles' plain Bellman critics) the CQL term contributes no
            // gradient, so its n·m-row forward and backward pass is skipped.
            if (zBoth === null) return bellmanT;
            const qPi = tf.sigmoid(tf.slice(zBoth, [0, 1], [n, m]));
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
    if (alphaLr > 0 && Number.isFinite(stats.gap)) this.alpha = alphaStep(alpha, stats.gap, this.config.gapTarget!, alphaLr, this.config.alpha);
    return stats;
  }

  private q(net: Mlp, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => tf.sigmoid(this.logit(net, s, a)));
  }

  private logit(net: Mlp, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => tf.reshape<tf.Rank.R1>(net.apply(tf.concat([s, a], 1)), [-1]));
  }

  dispose(): void {
    this.net.dispose();
    this.target.dispose();
    this.optimizer.dispose();
  }
}
