/**
 * The Q-ensembles baseline's safety critic (the paper's LNT-style comparison, Section 5): E
 * critics trained by plain Bellman error (CQL's α = 0), each on its own bootstrap of minibatches
 * and its own initialisation, aggregated pessimistically:
 *
 *   Q_C^ens(s, a) = clip(mean_e Q_C^e(s, a) + κ · std_e Q_C^e(s, a), 0, 1)
 *
 * so disagreement between members (uncertainty, typically off the data) raises the failure
 * estimate. κ = `stdWeight` (1 by default). Everything else — the filter, Â_C, λ — is CSC's.
 */
import type { ReplayBuffer } from '../core/replay.ts';
import type { Rng } from '../core/rng.ts';
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

export class CriticEnsemble {
  readonly members: SafetyCritic[];

  constructor(
    config: SafetyCriticConfig,
    size: number,
    readonly stdWeight: number,
    rng: Rng,
  ) {
    this.members = Array.from({ length: size }, (_, e) => new SafetyCritic({ ...config, alpha: 0 }, rng, `qc${e}`));
  }

  predict(obs: Float32Array, actions: Float32Array, n: number): Float32Array {
    return aggregateEnsemble(this.members.map((m) => m.predict(obs, actions, n)), this.stdWeight);
  }

  predictCandidates(obs: Float32Array, n: number, actions: Float32Array, k: number): Float32Array {
    return aggregateEnsemble(this.members.map((m) => m.predictCandidates(obs, n, actions, k)), this.stdWeight);
  }

  /** One Bellman step per member, each on its own minibatch from `buffer`. */
  updateFrom(buffer: ReplayBuffer, batchSize: number, samples: (batchObs: Float32Array, batchNextObs: Float32Array, n: number) => PolicySamples, rng: Rng): CriticUpdateStats {
    let loss = 0;
    let bellman = 0;
    let gap = 0;
    for (const m of this.members) {
      const batch = buffer.sample(batchSize, rng);
      const s = m.update(batch, samples(batch.obs, batch.nextObs, batch.n));
      loss += s.loss;
      bellman += s.bellman;
      gap += s.gap;
    }
    const E = this.members.length;
    return { loss: loss / E, bellman: bellman / E, gap: gap / E };
  }

  dispose(): void {
    for (const m of this.members) m.dispose();
  }
}
