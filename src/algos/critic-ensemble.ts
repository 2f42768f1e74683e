/**
 * The Q-ensembles baseline's safety critic (the paper's LNT-style comparison, Section 5): E
 * critics trained by plain Bellman error (CQL's α = 0), each on its own bootstrap of minibatches
 * and its own initialisation, aggregated pessimistically:
 *
 *   Q_C^ens(s, a) = clip(mean_e Q_C^e(s, a) + κ · std_e Q_C^e(s, a), 0, 1)
 *
 * so disagreement between members (uncertainty, typically off the data) raises the failure
 * estimate. κ = `stdWeight` (1 by default). Everything else — the filter, Â_C, λ — is CSC's.
 *
 * The E critics are evaluated together ({@link MlpEnsemble}): one call scores a batch for every
 * member (one read-back), one update call takes every member's Bellman step — each member on its
 * own minibatch, with its own weights and its own Adam moments (the summed loss gives member e
 * exactly the gradient of its own loss). Each member computes what a {@link SafetyCritic} with
 * α = 0 computes (`critic-ensemble.test.ts` checks it against one to 1e-5).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ReplayBatch, ReplayBuffer } from '../core/replay.ts';
import { Rng } from '../core/rng.ts';
import type { AdamSlot } from '../nn/adam-state.ts';
import { Mlp, type MlpShape } from '../nn/mlp.ts';
import { type MemberWeights, MlpEnsemble } from '../nn/mlp-ensemble.ts';
import { type CriticUpdateStats, type PolicySamples, SafetyCritic, type SafetyCriticConfig } from './safety-critic.ts';

/** Mean + κ·std of member predictions, clipped to [0, 1]; `preds[e][i]`. */
export function aggregateEnsemble(preds: readonly Float32Array[], stdWeight: number): Float32Array {
  const E = preds.length;
  if (E === 0) throw new RangeError('aggregateEnsemble: no member predictions');
  const n = preds[0]!.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const p of preds) s += p[i]!;
    const mean = s / E;
    let v = 0;
    for (const p of preds) v += (p[i]! - mean) ** 2;
    const std = E > 1 ? Math.sqrt(v / E) : 0;
    out[i] = Math.min(1, Math.max(0, mean + stdWeight * std));
  }
  return out;
}

/**
 * Hidden activations of one member that one candidate pass may hold by default (rows × widest
 * layer, floats: 16 MiB); larger requests (Â_C's pass over a whole epoch) are split over states.
 */
const MAX_BATCHED_ACTIVATIONS = 4 * 2 ** 20;

export class CriticEnsemble {
  readonly size: number;
  /** The E online critics. */
  readonly net: MlpEnsemble;
  /** Their Polyak-averaged targets Q̂_C. */
  readonly target: MlpEnsemble;
  private readonly optimizer: tf.Optimizer;
  private readonly config: SafetyCriticConfig;
  private holders: SafetyCritic[] | null = null;
  private holdersExposed = false;

  /**
   * Member e is initialised as `new SafetyCritic(config, rng, 'qc' + e)` would be, members in
   * order, so a seed gives the same initial weights and leaves `rng` in the same state as E
   * separate critics did. `maxBatchedActivations` bounds one candidate pass's hidden activations
   * (floats; see {@link MAX_BATCHED_ACTIVATIONS}).
   */
  constructor(
    config: SafetyCriticConfig,
    size: number,
    readonly stdWeight: number,
    rng: Rng,
    private readonly maxBatchedActivations = MAX_BATCHED_ACTIVATIONS,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`CriticEnsemble: size must be an integer ≥ 1, got ${size}`);
    this.config = { ...config, alpha: 0 };
    this.size = size;
    const shape = this.mlpShape();
    const nets: Mlp[] = [];
    const targets: Mlp[] = [];
    for (let e = 0; e < size; e++) {
      nets.push(new Mlp(shape, rng, `qc${e}`));
      targets.push(new Mlp(shape, rng, `qc${e}-target`));
      targets[e]!.copyFrom(nets[e]!);
    }
    this.net = new MlpEnsemble(shape, nets, 'qc');
    this.target = new MlpEnsemble(shape, targets, 'qc-target');
    for (const m of [...nets, ...targets]) m.dispose();
    this.optimizer = tf.train.adam(config.lr);
  }

  /** Its Adam optimiser and the variables it updates, for checkpoints (`adam-state.ts`). */
  adamSlot(prefix: string): AdamSlot {
    return { prefix, optimizer: this.optimizer, vars: this.net.vars };
  }

  /**
   * The members as separate {@link SafetyCritic}s, for checkpoints: reading gives each member's
   * current online and target weights; weights assigned to them (a restore) become the
   * ensemble's at its next call. Only their `net` and `target` variables are used.
   */
  get members(): SafetyCritic[] {
    this.pullHolders();
    this.holders ??= Array.from({ length: this.size }, (_, e) => new SafetyCritic(this.config, new Rng(e), `qc${e}`));
    const nets = this.net.getMemberFlats();
    const targets = this.target.getMemberFlats();
    this.holders.forEach((h, e) => {
      h.net.setFlat(nets[e]!);
      h.target.setFlat(targets[e]!);
    });
    this.holdersExposed = true;
    return this.holders;
  }

  /** Q_C^ens for `n` (s, a) pairs given as separate row-major arrays; one forward call. */
  predict(obs: Float32Array, actions: Float32Array, n: number): Float32Array {
    this.pullHolders();
    const { obsSize, actSize } = this.config;
    const out = tf.tidy(() => {
      const x = tf.concat([tf.tensor2d(obs.subarray(0, n * obsSize), [n, obsSize]), tf.tensor2d(actions.subarray(0, n * actSize), [n, actSize])], 1);
      return tf.sigmoid(tf.concat(this.net.applyShared(x).map((q) => tf.reshape(q, [1, n])), 0)) as tf.Tensor2D;
    });
    return this.aggregate(out, n);
  }

  /**
   * Q_C^ens for `n` states × `k` candidate actions each (`actions` is `n × k × actSize`), one
   * forward call per `maxBatchedActivations` worth of hidden activations. As in {@link SafetyCritic}, the
   * first layer is split, W₁[s; a] = W₁ˢs + W₁ᵃa, so the state part is computed once per state.
   */
  predictCandidates(obs: Float32Array, n: number, actions: Float32Array, k: number): Float32Array {
    this.pullHolders();
    const { obsSize, actSize } = this.config;
    const widest = Math.max(...this.config.hidden, 1);
    const statesPerCall = Math.max(1, Math.floor(this.maxBatchedActivations / (k * widest)));
    if (n <= statesPerCall) return this.candidatesChunk(obs, n, actions, k);
    const out = new Float32Array(n * k);
    for (let i0 = 0; i0 < n; i0 += statesPerCall) {
      const c = Math.min(statesPerCall, n - i0);
      out.set(this.candidatesChunk(obs.subarray(i0 * obsSize, (i0 + c) * obsSize), c, actions.subarray(i0 * k * actSize, (i0 + c) * k * actSize), k), i0 * k);
    }
    return out;
  }

  private candidatesChunk(obs: Float32Array, n: number, actions: Float32Array, k: number): Float32Array {
    const { obsSize, actSize } = this.config;
    const net = this.net;
    const out = tf.tidy(() => {
      const s = tf.tensor2d(obs.subarray(0, n * obsSize), [n, obsSize]);
      const a = tf.tensor2d(actions.subarray(0, n * k * actSize), [n * k, actSize]);
      const perMember = net.weights().map((w) =>
        // Each member's activations are freed before the next member's are made.
        tf.tidy(() => {
          const w0 = w[0]! as tf.Tensor2D;
          const hidden = w0.shape[1];
          const zs = tf.add(tf.matMul(s, tf.slice(w0, [0, 0], [obsSize, hidden])), w[1]!);
          const za = tf.matMul(a, tf.slice(w0, [obsSize, 0], [actSize, hidden]));
          const z = tf.reshape<tf.Rank.R2>(tf.add(tf.reshape(za, [n, k, hidden]), tf.reshape(zs, [n, 1, hidden])), [n * k, hidden]);
          const logits = w.length === 2 ? z : net.forward(w, 1, net.activate(z));
          return tf.reshape(tf.sigmoid(logits), [1, n * k]);
        }),
      );
      return tf.concat(perMember, 0) as tf.Tensor2D;
    });
    return this.aggregate(out, n * k);
  }

  /** One Bellman step per member, each on its own minibatch from `buffer`, in one update call. */
  updateFrom(buffer: ReplayBuffer, batchSize: number, samples: (batchObs: Float32Array, batchNextObs: Float32Array, n: number) => PolicySamples, rng: Rng): CriticUpdateStats {
    // Batches and policy samples drawn member by member, in the order E separate critics drew
    // them, so the random streams are the same as theirs.
    const batches: ReplayBatch[] = [];
    const policy: PolicySamples[] = [];
    for (let e = 0; e < this.size; e++) {
      const batch = buffer.sample(batchSize, rng);
      batches.push(batch);
      policy.push(samples(batch.obs, batch.nextObs, batch.n));
    }
    return this.update(batches, policy);
  }

  /**
   * One gradient step of every member on its own batch (`batches[e]`, `samples[e]`; all batches
   * of one size): ½ E[(Q_C^e(s,a) − B̂Q̂_C^e(s,a))²] with B̂Q̂_C^e = c + γ(1 − terminated)·mean_{a′}
   * Q̂_C^e(s′, a′) (eq. 2 with α = 0), then a Polyak step of every target. The stats are the
   * members' means.
   */
  update(batches: readonly ReplayBatch[], samples: readonly PolicySamples[]): CriticUpdateStats {
    this.pullHolders();
    const E = this.size;
    const { obsSize, actSize, gamma } = this.config;
    if (batches.length !== E || samples.length !== E) throw new RangeError(`CriticEnsemble.update: ${batches.length} batches and ${samples.length} policy samples for ${E} members`);
    const n = batches[0]!.n;
    const m = samples[0]!.m;
    batches.forEach((b, e) => {
      if (b.n !== n || samples[e]!.m !== m) throw new RangeError(`CriticEnsemble.update: member ${e} has a batch of ${b.n} with ${samples[e]!.m} policy samples, member 0 ${n} with ${m}`);
    });
    const total = tf.tidy(() => {
      const targetWeights = this.target.weights();
      const rows = batches.map((b, e) => {
        const s = tf.tensor2d(b.obs.subarray(0, n * obsSize), [n, obsSize]);
        const a = tf.tensor2d(b.actions.subarray(0, n * actSize), [n, actSize]);
        const s2 = tf.tensor2d(b.nextObs.subarray(0, n * obsSize), [n, obsSize]);
        const aNext = tf.tensor2d(samples[e]!.atNextObs.subarray(0, n * m * actSize), [n * m, actSize]);
        const s2Rep = tf.reshape<tf.Rank.R2>(tf.tile(tf.reshape(s2, [n, 1, obsSize]), [1, m, 1]), [n * m, obsSize]);
        // B̂Q̂_C: c + d(1 − terminated)·mean_{a′} Q̂_C(s′, a′), no gradient through the target;
        // d = γ, or γ^h for an h-step tuple (ReplayBatch.discounts), as SafetyCritic.update.
        const qNext = tf.mean(tf.reshape(this.q(targetWeights[e]!, s2Rep, aNext), [n, m]), 1);
        const d = tf.tensor1d(Float32Array.from(b.discounts.subarray(0, n), (x) => (Number.isNaN(x) ? gamma : x)));
        const y = tf.add(tf.tensor1d(b.costs.subarray(0, n)), tf.mul(d, tf.mul(tf.sub(1, tf.tensor1d(b.terminated.subarray(0, n))), qNext)));
        return { s, a, y };
      });
      // Σ_e ½ mean_i (Q_C^e − y^e)²: member e's gradient is that of its own loss.
      const loss = this.optimizer.minimize(
        () => {
          const weights = this.net.unstack();
          return tf.addN(rows.map(({ s, a, y }, e) => tf.mul(0.5, tf.mean(tf.square(tf.sub(this.q(weights[e]!, s, a), y)))))) as tf.Scalar;
        },
        true,
        this.net.vars,
      );
      this.net.changed();
      return loss?.dataSync()[0] ?? NaN;
    });
    this.target.softUpdate(this.net, this.config.targetTau);
    // With α = 0 the loss is the Bellman term; the CQL gap is not computed (NaN, as SafetyCritic).
    return { loss: total / E, bellman: total / E, gap: NaN };
  }

  dispose(): void {
    this.net.dispose();
    this.target.dispose();
    this.optimizer.dispose();
    if (this.holders !== null) for (const h of this.holders) h.dispose();
  }

  private mlpShape(): MlpShape {
    const { obsSize, actSize, hidden, activation } = this.config;
    return { inSize: obsSize + actSize, hidden, outSize: 1, activation };
  }

  /** sigmoid(a member with `weights`([s; a])), one value per row. */
  private q(weights: MemberWeights, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => tf.reshape<tf.Rank.R1>(tf.sigmoid(this.net.forward(weights, 0, tf.concat([s, a], 1))), [-1]));
  }

  /** Reads `[E, rows]` member predictions (and disposes them) into the aggregated `rows` values. */
  private aggregate(perMember: tf.Tensor2D, rows: number): Float32Array {
    const data = perMember.dataSync() as Float32Array;
    perMember.dispose();
    return aggregateEnsemble(
      Array.from({ length: this.size }, (_, e) => data.subarray(e * rows, (e + 1) * rows)),
      this.stdWeight,
    );
  }

  /** Weights assigned to the {@link members} since they were handed out become the ensemble's. */
  private pullHolders(): void {
    if (!this.holdersExposed || this.holders === null) return;
    this.holdersExposed = false;
    this.net.setMemberFlats(this.holders.map((h) => h.net.getFlat()));
    this.target.setMemberFlats(this.holders.map((h) => h.target.getFlat()));
  }
}
