import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateEnsemble } from './critic-ensemble.ts';

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
