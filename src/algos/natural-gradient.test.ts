import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.ts';
import { initBackend } from '../nn/backend.ts';
import { GaussianPolicy } from '../nn/policy.ts';
import { backtrackingCoefficients, backtrackingLineSearch, conjugateGradient, naturalGradientStep } from './natural-gradient.ts';

before(async () => {
  await initBackend('auto');
});

test('conjugate gradient solves a known SPD system', () => {
  // A = [[4,1,0],[1,3,1],[0,1,2]], x* = [1,−2,3] → b = A x* = [2,−2,4].
  const A = [
    [4, 1, 0],
    [1, 3, 1],
    [0, 1, 2],
  ];
  const avp = (v: Float32Array): Float32Array => Float32Array.from(A.map((row) => row.reduce((s, a, j) => s + a * v[j]!, 0)));
  const x = conjugateGradient(avp, Float32Array.from([2, -2, 4]), 10);
  [1, -2, 3].forEach((xi, i) => {
    assert.ok(Math.abs(x[i]! - xi) < 1e-5, `x[${i}] = ${x[i]}`);
  });
  // CG on an n×n SPD system converges in ≤ n iterations: 3 is enough, 1 is not.
  const x1 = conjugateGradient(avp, Float32Array.from([2, -2, 4]), 1);
  assert.ok(Math.abs(x1[0]! - 1) > 1e-2);
});

test('backtracking coefficients follow β_j = β_{j−1}(1 − β_{j−1})^j from β_0 = 0.7', () => {
  const b = backtrackingCoefficients(0.7, 4);
  const hand = [0.7, 0.7 * 0.3, 0.21 * 0.79 ** 2, 0.21 * 0.79 ** 2 * (1 - 0.21 * 0.79 ** 2) ** 3];
  hand.forEach((h, i) => {
    assert.ok(Math.abs(b[i]! - h) < 1e-12, `β_${i} = ${b[i]} vs ${h}`);
  });
});

test('line search never accepts KL > δ, and keeps φ_old when all L tries fail', () => {
  const phiOld = Float32Array.from([1, 2]);
  const dir = Float32Array.from([1, 0]);
  const cfg = { beta0: 0.7, maxTries: 20, maxKl: 0.01, requireImprovement: false };
  // KL grows with the step: KL = (Δφ)². Accept first Δ with Δ² ≤ 0.01 → Δ ≤ 0.1.
  const seen: number[] = [];
  const res = backtrackingLineSearch(phiOld, dir, 1, (phi) => {
    const d = phi[0]! - 1;
    seen.push(d * d);
    return { kl: d * d, surrogate: d };
  }, 0, cfg);
  assert.ok(res.accepted);
  assert.ok(res.kl <= 0.01);
  assert.ok(seen.slice(0, -1).every((k) => k > 0.01), 'accepted the first try within δ');
  // β_0=0.7 → 0.49, β_1=0.21 → 0.0441, β_2≈0.131 → 0.0172, β_3≈0.0858 → 0.00736: try 4.
  assert.equal(res.tries, 4);
  // A KL that is always too large: every try fails and φ_old comes back unchanged.
  const never = backtrackingLineSearch(phiOld, dir, 1, () => ({ kl: 1, surrogate: 5 }), 0, cfg);
  assert.equal(never.accepted, false);
  assert.equal(never.tries, 0);
  assert.deepEqual(Array.from(never.params), [1, 2]);
  // NaN KL is never accepted.
  assert.equal(backtrackingLineSearch(phiOld, dir, 1, () => ({ kl: NaN, surrogate: 5 }), 0, cfg).accepted, false);
  // With the improvement check, a step that lowers the surrogate is refused.
  const worse = backtrackingLineSearch(phiOld, dir, 1, () => ({ kl: 0, surrogate: -1 }), 0, { ...cfg, requireImprovement: true });
  assert.equal(worse.accepted, false);
});

test('a natural-gradient step raises the log-probability of positive-advantage actions within δ', () => {
  const rng = new Rng(5);
  const policy = new GaussianPolicy({ obsSize: 2, actSize: 1, hidden: [8], activation: 'tanh', initLogStd: 0 }, rng);
  const n = 256;
  const obs = Float32Array.from({ length: n * 2 }, () => rng.normal());
  // Actions +1 are good (advantage +1), actions −1 bad: the mean must move up.
  const actions = Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : -1));
  const advantages = Float32Array.from(actions);
  const before = policy.meanStd(obs, n).mean.reduce((s, m) => s + m, 0) / n;
  const res = naturalGradientStep(policy, { n, obs, actions, advantages }, { beta0: 0.7, maxTries: 20, maxKl: 0.01, requireImprovement: true, cgIters: 10, cgDamping: 0.1, fvpSubsample: 1 });
  const after = policy.meanStd(obs, n).mean.reduce((s, m) => s + m, 0) / n;
  assert.ok(res.accepted, 'step accepted');
  assert.ok(res.kl <= 0.01 && res.kl > 1e-4, `KL ${res.kl}`);
  assert.ok(after > before + 0.05, `mean moved from ${before} to ${after}`);
  policy.dispose();
});
