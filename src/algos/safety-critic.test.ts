import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayBuffer } from '../core/replay.ts';
import { Rng } from '../core/rng.ts';
import { initBackend } from '../nn/backend.ts';
import { alphaStep, SafetyCritic, type SafetyCriticConfig } from './safety-critic.ts';

before(async () => {
  await initBackend('auto');
});

/**
 * A fixed offline dataset: s ∼ U[−1, 1], data actions a ∼ U[−1, 0], failure c = 1 when s > 0.6
 * (terminal). The "policy" acts around a = +0.6, away from the data's actions.
 */
function dataset(rng: Rng): ReplayBuffer {
  const buf = new ReplayBuffer(2000, 1, 1);
  for (let i = 0; i < 2000; i++) {
    const s = rng.range(-1, 1);
    const a = rng.range(-1, 0);
    const s2 = Math.max(-1, Math.min(1, s + 0.1 * a));
    const c = s2 > 0.6 ? 1 : 0;
    buf.add([s], [a], [s2], 0, c, c === 1);
  }
  return buf;
}

function train(alpha: number, lagrange: Pick<SafetyCriticConfig, 'alphaLr' | 'gapTarget'> = {}): { critic: SafetyCritic; gap: number } {
  const rng = new Rng(3);
  const buf = dataset(rng);
  const critic = new SafetyCritic({ obsSize: 1, actSize: 1, hidden: [32, 32], activation: 'tanh', lr: 3e-3, alpha, gamma: 0.9, targetTau: 0.05, ...lagrange }, new Rng(4));
  const m = 2;
  const atObs = new Float32Array(64 * m);
  const atNextObs = new Float32Array(64 * m);
  for (let step = 0; step < 300; step++) {
    const batch = buf.sample(64, rng);
    for (let i = 0; i < atObs.length; i++) {
      atObs[i] = 0.6 + 0.2 * rng.normal();
      atNextObs[i] = 0.6 + 0.2 * rng.normal();
    }
    critic.update(batch, { atObs, atNextObs, m });
  }
  // E_{a∼π}Q_C − E_{a∼D}Q_C on a fresh batch, measured the same way for both critics.
  const batch = buf.sample(64, rng);
  const sRep = Float32Array.from({ length: 64 * m }, (_, i) => batch.obs[Math.floor(i / m)]!);
  const mean = (x: Float32Array): number => x.reduce((t, v) => t + v, 0) / x.length;
  const gap = mean(critic.predict(sRep, atObs, 64 * m)) - mean(critic.predict(batch.obs, batch.actions, 64));
  return { critic, gap };
}

test('CQL(ζ) over-estimates Q_C of policy actions compared with the same critic trained with α = 0', () => {
  const cql = train(0.5);
  const plain = train(0);
  const n = 200;
  const r = new Rng(99);
  const obs = Float32Array.from({ length: n }, () => r.range(-1, 1));
  const acts = Float32Array.from({ length: n }, () => 0.6 + 0.2 * r.normal());
  const mean = (x: Float32Array): number => x.reduce((s, v) => s + v, 0) / x.length;
  const qCql = mean(cql.critic.predict(obs, acts, n));
  const qPlain = mean(plain.critic.predict(obs, acts, n));
  assert.ok(qCql > qPlain + 0.05, `E_π Q_C: CQL ${qCql.toFixed(3)} vs α=0 ${qPlain.toFixed(3)}`);
  // The CQL term widens the gap between policy and data actions; α = 0 does not push it.
  assert.ok(cql.gap > plain.gap, `gap ${cql.gap} vs ${plain.gap}`);
  // Q_C stays a probability.
  for (const q of cql.critic.predict(obs, acts, n)) assert.ok(q >= 0 && q <= 1);
  cql.critic.dispose();
  plain.critic.dispose();
});

test('alphaStep: projected step of CQL’s α on the gap within [0, cap], by hand', () => {
  // clip(α + η(τ − g), 0, cap): a gap above τ lowers α, one below raises it back, never past the cap or below 0.
  assert.equal(alphaStep(0.5, 0.03, 0.01, 2, 0.5), 0.5 + 2 * (0.01 - 0.03));
  assert.equal(alphaStep(0.2, 0.002, 0.01, 10, 0.5), 0.2 + 10 * (0.01 - 0.002));
  assert.equal(alphaStep(0.45, 0, 0.01, 10, 0.5), 0.5);
  assert.equal(alphaStep(0.01, 0.2, 0.01, 1, 0.5), 0);
  assert.equal(alphaStep(0.7, 0.9, 0.01, 0, 0.7), 0.7);
});

test('a moving α holds CQL’s gap near τ where the fixed α opens it wide, and stays at its cap while the gap is below τ', () => {
  const fixed = train(2);
  const held = train(2, { alphaLr: 5, gapTarget: 0.02 });
  assert.ok(held.critic.alpha < 2, `α went ${held.critic.alpha}, expected below its start 2 (the gap was above τ)`);
  assert.ok(fixed.gap > 0.1 && held.gap < fixed.gap / 2, `gap: fixed α ${fixed.gap.toFixed(3)}, moving α ${held.gap.toFixed(3)} (τ = 0.02)`);
  assert.ok(Math.abs(held.gap - 0.02) < 0.05, `moving-α gap ${held.gap.toFixed(3)}, τ = 0.02`);
  // τ above any gap this critic opens: α never leaves its cap, and the critic is the fixed-α one.
  const capped = train(2, { alphaLr: 5, gapTarget: 1 });
  assert.equal(capped.critic.alpha, 2);
  assert.ok(Math.abs(capped.gap - fixed.gap) < 1e-6, `gap ${capped.gap} vs ${fixed.gap}`);
  assert.throws(() => new SafetyCritic({ obsSize: 1, actSize: 1, hidden: [4], activation: 'tanh', lr: 1e-3, alpha: 0.5, gamma: 0.9, targetTau: 0.05, alphaLr: 1 }, new Rng(0)), /gapTarget/);
  for (const c of [fixed, held, capped]) c.critic.dispose();
});

test('the Bellman target learns the failure probability where the data is', () => {
  const { critic } = train(0);
  // States right of 0.7 with data-like actions fail at once: Q_C ≈ 1; states near −0.8 never reach
  // s > 0.6 under a ≤ 0: Q_C ≈ 0.
  const hi = critic.predict(Float32Array.from([0.9]), Float32Array.from([-0.5]), 1)[0]!;
  const lo = critic.predict(Float32Array.from([-0.8]), Float32Array.from([-0.5]), 1)[0]!;
  assert.ok(hi > 0.7, `Q_C(0.9) = ${hi}`);
  assert.ok(lo < 0.2, `Q_C(−0.8) = ${lo}`);
  critic.dispose();
});

test('predictCandidates (split first layer) equals predict on the concatenated pairs', () => {
  const critic = new SafetyCritic({ obsSize: 3, actSize: 2, hidden: [8, 8], activation: 'tanh', lr: 1e-3, alpha: 0.5, gamma: 0.9, targetTau: 0.1 }, new Rng(8));
  const r = new Rng(9);
  const n = 4;
  const k = 5;
  const obs = Float32Array.from({ length: n * 3 }, () => r.normal());
  const acts = Float32Array.from({ length: n * k * 2 }, () => r.normal());
  const repObs = new Float32Array(n * k * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) repObs.set(obs.subarray(i * 3, i * 3 + 3), (i * k + c) * 3);
  const a = critic.predictCandidates(obs, n, acts, k);
  const b = critic.predict(repObs, acts, n * k);
  for (let i = 0; i < n * k; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `${i}: ${a[i]} vs ${b[i]}`);
  critic.dispose();
});

test('the head starts at initFailure: an untrained critic predicts “rarely fails” everywhere', () => {
  const critic = new SafetyCritic({ obsSize: 3, actSize: 2, hidden: [16, 16], activation: 'tanh', lr: 1e-3, alpha: 0.5, gamma: 0.99, targetTau: 0.05, initFailure: 0.01 }, new Rng(5));
  const r = new Rng(6);
  const n = 64;
  const q = critic.predict(Float32Array.from({ length: n * 3 }, () => r.normal()), Float32Array.from({ length: n * 2 }, () => r.normal()), n);
  // Hidden units add a spread around the bias; the mean sits near 0.01, far from the zero-bias 0.5.
  const mean = q.reduce((a, b) => a + b, 0) / n;
  assert.ok(mean > 0.003 && mean < 0.03, `mean initial Q_C ${mean}`);
  const plain = new SafetyCritic({ obsSize: 3, actSize: 2, hidden: [16, 16], activation: 'tanh', lr: 1e-3, alpha: 0.5, gamma: 0.99, targetTau: 0.05 }, new Rng(5));
  const q0 = plain.predict(Float32Array.from({ length: 3 }, () => 0.1), Float32Array.from({ length: 2 }, () => 0.1), 1)[0]!;
  assert.ok(Math.abs(q0 - 0.5) < 0.2, 'without initFailure the head starts at a zero bias (0.5 ± hidden spread)');
  assert.throws(() => new SafetyCritic({ ...critic.config, initFailure: 1 }, new Rng(1)), /initFailure must be in \(0, 1\)/);
  critic.dispose();
  plain.dispose();
});

/**
 * Terminal transitions that fail with probability 0.03: both Bellman terms are minimised by
 * Q_C = 0.03, but from a head at 0.5 the squared error's gradient (scaled by σ′ = Q(1−Q)) stalls
 * as Q_C falls, while the cross-entropy's does not. After the same number of steps the
 * cross-entropy critic is within 0.01 of 0.03 and closer than the squared-error one.
 */
test('cross-entropy Bellman term reaches a rare failure probability that the squared error approaches slowly', () => {
  const rng = new Rng(21);
  const buf = new ReplayBuffer(4000, 1, 1);
  for (let i = 0; i < 4000; i++) {
    const c = rng.range(0, 1) < 0.03 ? 1 : 0;
    buf.add([rng.range(-1, 1)], [rng.range(-1, 1)], [0], 0, c, true);
  }
  const fit = (bellmanLoss: 'mse' | 'bce'): number => {
    const critic = new SafetyCritic({ obsSize: 1, actSize: 1, hidden: [16], activation: 'tanh', lr: 3e-3, alpha: 0, gamma: 0.99, targetTau: 0.05, bellmanLoss }, new Rng(22));
    const r = new Rng(23);
    const samples = { atObs: new Float32Array(128), atNextObs: new Float32Array(128), m: 1 };
    for (let step = 0; step < 600; step++) critic.update(buf.sample(128, r), samples);
    const q = critic.predict(Float32Array.from({ length: 50 }, (_, i) => -1 + i / 25), new Float32Array(50), 50);
    critic.dispose();
    return q.reduce((a, b) => a + b, 0) / 50;
  };
  const bce = fit('bce');
  const mse = fit('mse');
  assert.ok(Math.abs(bce - 0.03) < 0.01, `cross-entropy critic ${bce} (squared error ${mse})`);
  assert.ok(Math.abs(mse - 0.03) > Math.abs(bce - 0.03), `squared error ${mse} should still be further from 0.03 than ${bce}`);
});
