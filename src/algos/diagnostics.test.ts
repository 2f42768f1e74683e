import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paperEpsilon } from './safety-filter.ts';
import { CALIBRATION_EDGES, FailureWindow, advantageTermSpread, calibration, resolvedAfter, standardisedDistance } from './diagnostics.ts';

test('the failure window is the mean of the last `size` episodes, oldest dropped first', () => {
  const w = new FailureWindow(4);
  assert.equal(w.mean(0.05), 0.05, 'empty: the given fallback (χ before the first epoch)');
  for (const f of [1, 0, 0]) w.push(f);
  assert.equal(w.mean(0), 1 / 3);
  w.push(0);
  w.push(0); // the failure leaves the window
  assert.equal(w.mean(0), 0);
  assert.deepEqual(w.toJSON(), [0, 0, 0, 0]);
  const back = new FailureWindow(3);
  back.restore([1, 1, 0, 1], 'ck');
  assert.deepEqual(back.toJSON(), [1, 0, 1], 'a longer saved window keeps its newest episodes');
  assert.throws(() => { back.restore([2], 'ck'); }, /ck: meta\.failureWindow .* expected a list of 0\/1/);
});

test('one failure cannot flip the paper ε negative once the window holds ≥ 20 episodes (χ = 0.05)', () => {
  const w = new FailureWindow(100);
  for (let i = 0; i < 19; i++) w.push(0);
  w.push(1);
  assert.ok(paperEpsilon(0.99, 0.05, w.mean(0.05)) >= 0);
  // …while the previous epoch alone (16 episodes, one failure) would: 1/16 > χ.
  assert.ok(paperEpsilon(0.99, 0.05, 1 / 16) < 0);
});

test('calibration on a hand-built rollout: resolved rows only, discounted outcomes, binned', () => {
  // One env (N = 1), T = 4, γ = 0.5: an episode of 3 steps ending in failure, then one step of
  // an unfinished episode (unresolved: 1 step follows it, fewer than resolvedAfter(0.5) = 7).
  const R = {
    failure: Uint8Array.from([0, 0, 1, 0]),
    done: Uint8Array.from([0, 0, 1, 0]),
    dropped: Uint8Array.from([0, 0, 0, 0]),
    qc: Float32Array.from([0.2, 0.4, 0.9, 0.0]),
  };
  assert.equal(resolvedAfter(0.5), 7);
  const cal = calibration(R, [0, 1, 2, 3], 4, 1, 0.5);
  // Observed G: 0.25, 0.5, 1 for rows 0..2. Predicted 0.2, 0.4, 0.9.
  assert.ok(Math.abs(cal.predicted - 0.5) < 1e-6);
  assert.ok(Math.abs(cal.observed - 1.75 / 3) < 1e-9);
  // 0.2 falls in [0.1, 0.3); 0.4 and 0.9 in [0.3, 1].
  assert.deepEqual(CALIBRATION_EDGES, [0.01, 0.03, 0.1, 0.3, 1]);
  const byBin = cal.bins.map((b) => b.count);
  assert.deepEqual(byBin, [0, 0, 0, 1, 2]);
  assert.ok(Math.abs(cal.bins[4]!.predicted - 0.65) < 1e-6);
  assert.ok(Math.abs(cal.bins[4]!.observed - 0.75) < 1e-9);
  // error = 1/3·|0.2 − 0.25| + 2/3·|0.65 − 0.75|
  assert.ok(Math.abs(cal.error - (0.05 / 3 + (2 / 3) * 0.1)) < 1e-6);
  // A dropped row is left out; no resolved row at all gives NaN summaries.
  assert.ok(Number.isNaN(calibration({ ...R, dropped: Uint8Array.from([1, 1, 1, 1]) }, [0, 1, 2, 3], 4, 1, 0.5).predicted));
});

test('standardisedDistance is the RMS of |a − μ|/σ over action dimensions', () => {
  const d = standardisedDistance(Float32Array.from([0, 0, 3, -4]), Float32Array.from([0, 0, 1, 0]), Float32Array.from([1, 2]), 1, 2);
  // row 1: (3 − 1)/1 = 2, (−4 − 0)/2 = −2 → √((4 + 4)/2) = 2
  assert.ok(Math.abs(d - 2) < 1e-7);
});

test('the spread of each advantage term: population std over the gradient rows only, the cost term weighted by λ′', () => {
  // rows 0, 2, 3 (row 1 is left out of the gradient): Â_R = 1, 3, 5 → mean 3, std √(8/3);
  // Â_C = 0.01, 0.03, −0.01 → mean 0.01, std √(0.0008/3); λ′ = 100 → ×100
  const advR = new Float32Array([1, 99, 3, 5]);
  const advC = new Float32Array([0.01, 7, 0.03, -0.01]);
  const s = advantageTermSpread(advR, advC, 100, [0, 2, 3]);
  assert.ok(Math.abs(s.reward - Math.sqrt(8 / 3)) < 1e-6, `${s.reward}`);
  assert.ok(Math.abs(s.cost - 100 * Math.sqrt(0.0008 / 3)) < 1e-5, `${s.cost}`);
  const trpo = advantageTermSpread(advR, null, 0, [0, 2, 3]);
  assert.ok(Number.isNaN(trpo.cost) && Math.abs(trpo.reward - s.reward) < 1e-12, 'no critic: no cost term');
  assert.ok(Number.isNaN(advantageTermSpread(advR, advC, 100, []).reward), 'no rows: NaN, not 0');
});
