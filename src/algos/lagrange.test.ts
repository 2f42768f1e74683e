import { test } from 'node:test';
import assert from 'node:assert/strict';
import { updateLambda } from './lagrange.ts';

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
