import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../core/rng.ts';
import { initBackend } from './backend.ts';
import { SquashedGaussianPolicy, squashedGaussianLogProb } from './squashed-policy.ts';

before(async () => {
  await initBackend('auto');
});

/** ∫ N(u; μ, σ) du over [lo, hi] by Simpson's rule (float64). */
function gaussianMass(lo: number, hi: number, mu: number, sigma: number): number {
  const pdf = (u: number): number => Math.exp(-0.5 * ((u - mu) / sigma) ** 2) / (sigma * Math.sqrt(2 * Math.PI));
  const m = 200;
  const h = (hi - lo) / m;
  let s = pdf(lo) + pdf(hi);
  for (let i = 1; i < m; i++) s += (i % 2 === 1 ? 4 : 2) * pdf(lo + i * h);
  return (s * h) / 3;
}

test('the tanh log-density equals a numerical change of variables: P(a ∈ [a−h, a+h]) / 2h', () => {
  // Per dimension (μ, log σ, a); the density of a = tanh(u) is the Gaussian mass of
  // [atanh(a − h), atanh(a + h)] over 2h — no Jacobian formula involved.
  const dims = [
    [0.3, -0.4, 0.5],
    [-1.2, 0.3, -0.95],
    [0.0, 0.0, 0.0],
    [1.5, -1.0, 0.99],
  ] as const;
  const h = 1e-4;
  let expected = 0;
  for (const [mu, ls, a] of dims) expected += Math.log(gaussianMass(Math.atanh(a - h), Math.atanh(a + h), mu, Math.exp(ls)) / (2 * h));
  const got = tf.tidy(() => {
    const u = tf.tensor2d([dims.map(([, , a]) => Math.atanh(a))]);
    const mean = tf.tensor2d([dims.map(([mu]) => mu)]);
    const logStd = tf.tensor2d([dims.map(([, ls]) => ls)]);
    return squashedGaussianLogProb(u, mean, logStd).dataSync()[0]!;
  });
  assert.ok(Math.abs(got - expected) < 1e-4, `log π = ${got}, numerical ${expected}`);
});

test('the tanh correction stays exact where 1 − tanh²(u) underflows in float32', () => {
  // u = 9: 1 − tanh²(9) ≈ 6.1e-8, below float32's resolution near 1 (tanh rounds to 1 → log 0).
  // Exact: log(1 − tanh² u) = −2 log cosh u.
  const u = 9;
  const logCosh = u - Math.LN2 + Math.log1p(Math.exp(-2 * u));
  const expected = -0.5 * u * u - 0.5 * Math.log(2 * Math.PI) + 2 * logCosh; // μ = 0, σ = 1
  const got = tf.tidy(() => squashedGaussianLogProb(tf.tensor2d([[u]]), tf.tensor2d([[0]]), tf.tensor2d([[0]])).dataSync()[0]!);
  assert.ok(Number.isFinite(got) && Math.abs(got - expected) < 1e-4, `${got} vs ${expected}`);
});

test('samples land inside the action box and log σ is clipped to [−20, 2]', () => {
  const p = new SquashedGaussianPolicy({ obsSize: 2, actSize: 2, hidden: [8], activation: 'tanh', actLow: [-2, 0], actHigh: [2, 1] }, new Rng(3));
  const rng = new Rng(4);
  const noise = rng.fillNormal(new Float32Array(50 * 2)).map((v) => 3 * v);
  const obs = rng.fillNormal(new Float32Array(50 * 2));
  const acts = p.act(obs, 50, noise);
  for (let i = 0; i < 50; i++) {
    assert.ok(acts[2 * i]! > -2 && acts[2 * i]! < 2, `a0 = ${acts[2 * i]}`);
    assert.ok(acts[2 * i + 1]! > 0 && acts[2 * i + 1]! < 1, `a1 = ${acts[2 * i + 1]}`);
  }
  // log σ beyond the bounds is clipped: a bias of −50 gives σ = e⁻²⁰.
  p.net.vars.at(-1)!.assign(tf.tensor1d([0, 0, -50, 50]));
  const { logStd } = tf.tidy(() => ({ logStd: p.distribution(tf.tensor2d([[0, 0]])).logStd.arraySync()[0]! }));
  assert.deepEqual(logStd, [-20, 2]);
  p.dispose();
});
