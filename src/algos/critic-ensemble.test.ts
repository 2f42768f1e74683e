import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { ReplayBatch } from '../core/replay.ts';
import { Rng } from '../core/rng.ts';
import { initBackend } from '../nn/backend.ts';
import { CriticEnsemble, aggregateEnsemble } from './critic-ensemble.ts';
import { type PolicySamples, SafetyCritic, type SafetyCriticConfig } from './safety-critic.ts';

before(async () => {
  await initBackend('auto');
});

test('ensemble aggregation is mean + κ·std, clipped to [0, 1], worked by hand', () => {
  // Members for two pairs: pair 0 → [0.1, 0.3] (mean 0.2, std 0.1); pair 1 → [0.9, 0.9].
  const preds = [Float32Array.from([0.1, 0.9]), Float32Array.from([0.3, 0.9])];
  const k1 = aggregateEnsemble(preds, 1);
  assert.ok(Math.abs(k1[0]! - 0.3) < 1e-6);
  assert.ok(Math.abs(k1[1]! - 0.9) < 1e-6);
  const k0 = aggregateEnsemble(preds, 0);
  assert.ok(Math.abs(k0[0]! - 0.2) < 1e-6);
  // Large disagreement is clipped at 1.
  const wide = aggregateEnsemble([Float32Array.from([0]), Float32Array.from([1])], 3);
  assert.equal(wide[0], 1);
  assert.throws(() => aggregateEnsemble([], 1), /no member/);
});

const CONFIG: SafetyCriticConfig = { obsSize: 5, actSize: 2, hidden: [8, 8], activation: 'tanh', lr: 1e-2, alpha: 0, gamma: 0.9, targetTau: 0.1 };
const E = 3;

function close(actual: Float32Array, expected: Float32Array, what: string, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

function uniform(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(lo, hi));
}

/** The ensemble and E separate α = 0 SafetyCritics holding the same weights (online and target). */
function ensembleAndReferences(maxBatchedActivations?: number): { ens: CriticEnsemble; refs: SafetyCritic[] } {
  const ens = new CriticEnsemble(CONFIG, E, 1, new Rng(3), maxBatchedActivations);
  const refs = Array.from({ length: E }, (_, e) => new SafetyCritic(CONFIG, new Rng(100 + e), `ref${e}`));
  const nets = ens.net.getMemberFlats();
  // Targets different from the online nets, so that the test sees which one a term uses.
  const targets = nets.map((f) => f.map((v, i) => v + 0.05 * Math.sin(i)));
  ens.target.setMemberFlats(targets);
  refs.forEach((r, e) => {
    r.net.setFlat(nets[e]!);
    r.target.setFlat(targets[e]!);
  });
  return { ens, refs };
}

test('members start as E separate critics built in order from the same seed would, and leave the seed in the same state', () => {
  const a = new Rng(11);
  const b = new Rng(11);
  const ens = new CriticEnsemble(CONFIG, E, 1, a);
  const separate = Array.from({ length: E }, (_, e) => new SafetyCritic(CONFIG, b, `qc${e}`));
  ens.net.getMemberFlats().forEach((f, e) => { assert.deepEqual(f, separate[e]!.net.getFlat()); });
  ens.target.getMemberFlats().forEach((f, e) => { assert.deepEqual(f, separate[e]!.target.getFlat()); });
  assert.deepEqual(a.state(), b.state());
  ens.dispose();
  for (const s of separate) s.dispose();
});

test('one ensemble call predicts what its members predict one by one, aggregated (to 1e-5)', () => {
  // 7 states × 6 candidates × 8 units per call: the 20-state pass below takes 3 calls.
  const { ens, refs } = ensembleAndReferences(7 * 6 * 8);
  const rng = new Rng(5);
  const n = 7;
  const obs = uniform(rng, n * CONFIG.obsSize);
  const act = uniform(rng, n * CONFIG.actSize);
  close(ens.predict(obs, act, n), aggregateEnsemble(refs.map((r) => r.predict(obs, act, n)), 1), 'predict');
  const k = 6;
  const cand = uniform(rng, n * k * CONFIG.actSize);
  close(ens.predictCandidates(obs, n, cand, k), aggregateEnsemble(refs.map((r) => r.predictCandidates(obs, n, cand, k)), 1), 'predictCandidates');
  // Enough states × candidates that the pass is split into several calls.
  const bigN = 20;
  const bigK = 6;
  const bigObs = uniform(rng, bigN * CONFIG.obsSize);
  const bigCand = uniform(rng, bigN * bigK * CONFIG.actSize);
  close(ens.predictCandidates(bigObs, bigN, bigCand, bigK), aggregateEnsemble(refs.map((r) => r.predictCandidates(bigObs, bigN, bigCand, bigK)), 1), 'predictCandidates (split)');
  ens.dispose();
  for (const r of refs) r.dispose();
});

test('one ensemble update equals each member updated on its own batch (losses, weights, targets; three Adam steps, to 1e-5)', () => {
  const { ens, refs } = ensembleAndReferences();
  const rng = new Rng(6);
  const n = 16;
  const m = 3;
  for (let step = 0; step < 3; step++) {
    const batches: ReplayBatch[] = refs.map(() => ({
      n,
      obs: uniform(rng, n * CONFIG.obsSize),
      actions: uniform(rng, n * CONFIG.actSize),
      nextObs: uniform(rng, n * CONFIG.obsSize),
      rewards: new Float32Array(n),
      costs: Float32Array.from({ length: n }, () => (rng.uniform() < 0.3 ? 1 : 0)),
      terminated: Float32Array.from({ length: n }, () => (rng.uniform() < 0.2 ? 1 : 0)),
      // One-step tuples (NaN: γ) mixed with h-step ones (γ^h), as the n-step writer stores them.
      discounts: Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? Number.NaN : 0.9 ** (1 + (i % 4)))),
    }));
    const samples: PolicySamples[] = refs.map(() => ({ atObs: uniform(rng, n * m * CONFIG.actSize), atNextObs: uniform(rng, n * m * CONFIG.actSize), m }));
    const stats = ens.update(batches, samples);
    const refStats = refs.map((r, e) => r.update(batches[e]!, samples[e]!));
    assert.ok(Math.abs(stats.loss - refStats.reduce((s, r) => s + r.loss, 0) / E) < 1e-5, `step ${step}: loss ${stats.loss}`);
    assert.ok(Math.abs(stats.bellman - refStats.reduce((s, r) => s + r.bellman, 0) / E) < 1e-5);
    assert.ok(Number.isNaN(stats.gap));
    ens.net.getMemberFlats().forEach((f, e) => { close(f, refs[e]!.net.getFlat(), `step ${step} member ${e} net`); });
    ens.target.getMemberFlats().forEach((f, e) => { close(f, refs[e]!.target.getFlat(), `step ${step} member ${e} target`); });
  }
  ens.dispose();
  for (const r of refs) r.dispose();
});

test('updates and predictions leave no tensors behind (the cached member views are replaced, not added)', () => {
  const ens = new CriticEnsemble(CONFIG, E, 1, new Rng(4));
  const rng = new Rng(7);
  const n = 8;
  const m = 2;
  const batch = (): ReplayBatch => ({ n, obs: uniform(rng, n * CONFIG.obsSize), actions: uniform(rng, n * CONFIG.actSize), nextObs: uniform(rng, n * CONFIG.obsSize), rewards: new Float32Array(n), costs: new Float32Array(n), terminated: new Float32Array(n), discounts: new Float32Array(n).fill(Number.NaN) });
  const cycle = (): void => {
    ens.update(Array.from({ length: E }, batch), Array.from({ length: E }, () => ({ atObs: uniform(rng, n * m * CONFIG.actSize), atNextObs: uniform(rng, n * m * CONFIG.actSize), m })));
    ens.predict(uniform(rng, n * CONFIG.obsSize), uniform(rng, n * CONFIG.actSize), n);
    ens.predictCandidates(uniform(rng, n * CONFIG.obsSize), n, uniform(rng, n * 3 * CONFIG.actSize), 3);
  };
  cycle();
  const live = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) cycle();
  assert.equal(tf.memory().numTensors, live);
  ens.dispose();
});

test('members: a checkpoint reads each member\'s current weights, and weights restored into them are used from the next call on', () => {
  const ens = new CriticEnsemble(CONFIG, E, 0.5, new Rng(8));
  const saved = ens.members.map((q) => ({ net: q.net.getFlat(), target: q.target.getFlat() }));
  ens.net.getMemberFlats().forEach((f, e) => { assert.deepEqual(f, saved[e]!.net); });
  // A restore: other weights assigned to the members' variables.
  const other = new CriticEnsemble(CONFIG, E, 0.5, new Rng(9));
  const restored = other.net.getMemberFlats();
  ens.members.forEach((q, e) => {
    q.net.setFlat(restored[e]!);
    q.target.setFlat(restored[e]!);
  });
  const rng = new Rng(10);
  const obs = uniform(rng, 4 * CONFIG.obsSize);
  const act = uniform(rng, 4 * CONFIG.actSize);
  assert.deepEqual(ens.predict(obs, act, 4), other.predict(obs, act, 4));
  ens.net.getMemberFlats().forEach((f, e) => { assert.deepEqual(f, restored[e]); });
  ens.dispose();
  other.dispose();
});
