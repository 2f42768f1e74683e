import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.ts';
import { lambdaEpochStep, updateLambda } from './lagrange.ts';

const base = { lambda: 1, lr: 0.04, gamma: 0.99, chi: 0.05, meanCostAdvantage: 0 };

test('λ rises when the constraint is violated (failures above χ)', () => {
  // V̂_C = 0.3 > χ = 0.05: χ′ = −0.25, λ ← 1 + 0.04·(0 + 0.25) = 1.01
  assert.ok(Math.abs(updateLambda({ ...base, avgFailures: 0.3 }) - 1.01) < 1e-12);
});

test('λ falls when the constraint holds with slack, and never goes below 0', () => {
  // V̂_C = 0 < χ: χ′ = 0.05, λ ← 1 − 0.04·0.05 = 0.998
  assert.ok(Math.abs(updateLambda({ ...base, avgFailures: 0 }) - 0.998) < 1e-12);
  assert.equal(updateLambda({ ...base, lambda: 0.001, avgFailures: 0, chi: 0.5 }), 0);
  assert.equal(updateLambda({ ...base, lambda: 0, avgFailures: 0 }), 0);
});

test('a positive mean cost advantage, scaled by 1/(1−γ), pushes λ up', () => {
  // E[Â_C] = 0.01 → 0.01/0.01 = 1; constraint exactly met (V̂_C = χ): λ ← 1 + 0.04·1 = 1.04
  assert.ok(Math.abs(updateLambda({ ...base, avgFailures: 0.05, meanCostAdvantage: 0.01 }) - 1.04) < 1e-9);
});


test('non-finite inputs are rejected with the field named', () => {
  assert.throws(() => updateLambda({ ...base, avgFailures: NaN }), /avgFailures is NaN/);
});

test('λ never falls in an epoch whose failures exceed χ, whatever the noise in E[Â_C] or the window', () => {
  const r = new Rng(11);
  for (let i = 0; i < 20_000; i++) {
    const chi = r.range(0, 0.3);
    const lambda = r.range(0, 2);
    const epochFailures = chi + r.range(1e-6, 1);
    const step = lambdaEpochStep({
      lambda,
      lr: 0.04,
      gamma: 0.99,
      chi,
      epochFailures,
      windowFailures: r.range(0, 1) < 0.5 ? null : r.range(0, 1),
      meanCostAdvantage: r.normal() * 0.01, // ±1 per episode after ×1/(1−γ): far more than χ
      advantage: 'behaviour',
    });
    assert.ok(step.lambda > lambda, `λ ${lambda} → ${step.lambda} with failures ${epochFailures} > χ ${chi}`);
    assert.ok(step.policyRisk >= epochFailures, 'V̂_C^π is never below the failures seen');
  }
  // The printed form with a negative sample mean of E[Â_C] can lower λ in such an epoch: the
  // reason `behaviour` floors it.
  const printed = lambdaEpochStep({ lambda: 1, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: 0.1, windowFailures: null, meanCostAdvantage: -0.002, advantage: 'fresh' });
  assert.ok(printed.lambda < 1);
});

test('λ falls with slack: window and epoch both below χ, π no riskier than the behaviour', () => {
  const step = lambdaEpochStep({ lambda: 1, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: 0, windowFailures: 0.02, meanCostAdvantage: 0, advantage: 'behaviour' });
  // bracket = 0.02 − 0.05 = −0.03 → λ = 1 − 0.0012
  assert.ok(Math.abs(step.lambda - 0.9988) < 1e-12);
  assert.ok(Math.abs(step.policyRisk - 0.02) < 1e-12);
  // π riskier than the filtered behaviour by E[Â_C] = 1e-3 per step → +0.1 per episode: λ rises.
  const risky = lambdaEpochStep({ lambda: 1, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: 0, windowFailures: 0.02, meanCostAdvantage: 1e-3, advantage: 'behaviour' });
  assert.ok(Math.abs(risky.policyRisk - 0.12) < 1e-9);
  assert.ok(risky.lambda > 1);
});
