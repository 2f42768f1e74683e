import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.ts';
import { type CandidateCritic, type FilterRule, fallbackCandidate, filterActions, filteredValue, paperEpsilon } from './safety-filter.ts';

/** A critic whose Q_C is the first action component: candidates are judged by their value. */
const byFirstComponent: CandidateCritic = (_obs, n, actions, k) => {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n * k; i++) out[i] = actions[i * 2]!;
  return out;
};

const base = {
  n: 1,
  obs: new Float32Array(3),
  mean: Float32Array.from([0, 0]),
  std: Float32Array.from([1, 1]),
  actLow: [-10, -10],
  actHigh: [10, 10],
  candidates: 100,
  probe: 4,
};

function candidatesOf(seed: number, k: number): number[] {
  // The same draws the filter makes: state 0, candidates 0..k−1, two normals each.
  const r = new Rng(seed);
  return Array.from({ length: k }, () => {
    const v = r.normal();
    r.normal();
    return v;
  });
}

test('executes the first candidate in sampling order whose Q_C ≤ ε', () => {
  const first = candidatesOf(1, 100);
  const eps = -0.5;
  const expected = first.findIndex((v) => v <= eps);
  assert.ok(expected > 0, 'the fixture needs a first candidate that fails');
  const out = filterActions({ ...base, epsilon: eps, critic: byFirstComponent, rng: new Rng(1) });
  assert.equal(out.tried[0], expected + 1);
  assert.equal(out.exhausted[0], 0);
  assert.ok(Math.abs(out.actions[0]! - first[expected]!) < 1e-6);
  assert.ok(out.qc[0]! <= eps);
});

test('when no candidate passes it executes the lowest-Q_C one and counts the exhaustion', () => {
  const first = candidatesOf(2, 100);
  const out = filterActions({ ...base, epsilon: -100, critic: byFirstComponent, rng: new Rng(2) });
  assert.equal(out.exhausted[0], 1);
  assert.equal(out.tried[0], 100);
  assert.ok(Math.abs(out.actions[0]! - Math.min(...first)) < 1e-6);
});

test('the decision does not depend on how candidates are batched (probe size)', () => {
  const n = 8;
  const run = (probe: number): number[] => {
    const r = new Rng(9);
    const mean = Float32Array.from({ length: n * 2 }, () => r.normal());
    const out = filterActions({ ...base, n, obs: new Float32Array(n * 3), mean, probe, epsilon: -1.2, critic: byFirstComponent, rng: new Rng(10) });
    return [...out.actions, ...out.tried, ...out.exhausted];
  };
  assert.deepEqual(run(1), run(100));
  assert.deepEqual(run(1), run(7));
});

test('actions are clipped to the bounds but the raw sample is kept for log π', () => {
  const out = filterActions({ ...base, mean: Float32Array.from([5, 5]), actLow: [-1, -1], actHigh: [1, 1], candidates: 1, epsilon: 100, critic: byFirstComponent, rng: new Rng(3) });
  assert.equal(out.actions[0], 1);
  assert.ok(out.rawActions[0]! > 1);
});

test('a NaN Q_C never passes and never wins the fallback', () => {
  const nanFirst: CandidateCritic = (_o, n, _a, k) => Float32Array.from({ length: n * k }, (_, i) => (i === 0 ? NaN : 0.5));
  const out = filterActions({ ...base, candidates: 3, probe: 3, epsilon: 0.1, critic: nanFirst, rng: new Rng(4) });
  assert.equal(out.exhausted[0], 1);
  assert.equal(out.qc[0], 0.5);
});

test('ε = (1 − γ)(χ − V̂_C^old), worked by hand', () => {
  assert.ok(Math.abs(paperEpsilon(0.99, 0.05, 0) - 5e-4) < 1e-15);
  assert.ok(Math.abs(paperEpsilon(0.99, 0.05, 0.25) - -2e-3) < 1e-15);
});

test('advantage variant: accepts the first candidate whose Q_C is at most ε above the candidates’ mean', () => {
  const first = candidatesOf(5, 100);
  const mean = first.reduce((a, b) => a + b, 0) / first.length;
  const eps = 0.3;
  const expected = first.findIndex((v) => v <= mean + eps);
  const out = filterActions({ ...base, epsilon: eps, threshold: 'advantage', critic: byFirstComponent, rng: new Rng(5) });
  assert.equal(out.tried[0], expected + 1);
  assert.equal(out.exhausted[0], 0);
  assert.ok(Math.abs(out.actions[0]! - first[expected]!) < 1e-6);
  // With the paper's rule and the same ε, an acceptable candidate is one with Q_C ≤ 0.3 outright.
  const paper = filterActions({ ...base, epsilon: eps, critic: byFirstComponent, rng: new Rng(5) });
  assert.equal(paper.tried[0], first.findIndex((v) => v <= eps) + 1);
});

test('fallback `last` executes the last resample, `sample-lowest` one of the pool lowest', () => {
  const first = candidatesOf(2, 100);
  const last = filterActions({ ...base, epsilon: -100, fallback: 'last', critic: byFirstComponent, rng: new Rng(2) });
  assert.equal(last.exhausted[0], 1);
  assert.ok(Math.abs(last.actions[0]! - first[99]!) < 1e-6);
  const pool = [...first].sort((a, b) => a - b).slice(0, 10);
  const seen = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    // The same 100 draws (Rng(2)), then the pool pick from what follows: vary it by re-seeding the pick.
    const q = Float32Array.from(first);
    const k = fallbackCandidate(q, 'sample-lowest', 10, new Rng(seed));
    assert.ok(pool.includes(first[k]!), `candidate ${k} (${first[k]}) is not among the 10 lowest`);
    seen.add(k);
  }
  assert.ok(seen.size > 3, `sample-lowest should spread over the pool, saw ${seen.size} distinct`);
  assert.equal(fallbackCandidate(Float32Array.from([0.3, 0.1, 0.1, 0.5]), 'lowest', 10, new Rng(0)), 1, 'lowest: the first of equals');
  assert.equal(fallbackCandidate(Float32Array.from([0.3, 0.1]), 'sample-lowest', 1, new Rng(0)), 1, 'a pool of 1 is the lowest');
});

test('filteredValue: the mean of the passing samples, else the fallback’s value, worked by hand', () => {
  const rule: FilterRule = { epsilon: 0.2, threshold: 'q', fallback: 'lowest', fallbackPool: 50, candidates: 100 };
  // Row 0: 0.1 and 0.15 pass → 0.125. Row 1: none passes → lowest 0.3. m = 4.
  const q = Float32Array.from([0.1, 0.9, 0.15, 0.5, 0.3, 0.8, 0.6, 0.4]);
  const v = filteredValue(q, 2, 4, rule);
  assert.ok(Math.abs(v[0]! - 0.125) < 1e-7);
  assert.ok(Math.abs(v[1]! - 0.3) < 1e-7);
  // `last`: a plain sample of π → the mean of all four, 0.525.
  assert.ok(Math.abs(filteredValue(q, 2, 4, { ...rule, fallback: 'last' })[1]! - 0.525) < 1e-7);
  // `sample-lowest` with a pool of 50 of 100: the lowest ⌈4·50/100⌉ = 2 → (0.3 + 0.4)/2.
  assert.ok(Math.abs(filteredValue(q, 2, 4, { ...rule, fallback: 'sample-lowest' })[1]! - 0.35) < 1e-7);
  // Advantage threshold: pass when q ≤ ε + mean(row); row 1 mean 0.525 → limit 0.725 → 0.3, 0.6, 0.4 pass.
  assert.ok(Math.abs(filteredValue(q, 2, 4, { ...rule, threshold: 'advantage' })[1]! - (0.3 + 0.6 + 0.4) / 3) < 1e-7);
  // When every sample passes, it is E_{a′∼π}: the plain mean.
  assert.ok(Math.abs(filteredValue(q, 2, 4, { ...rule, epsilon: 1 })[0]! - 0.4125) < 1e-7);
});
