import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHealth, runHealth, type HealthFinding } from './health.ts';
import type { EpochMetrics } from './metrics.ts';
import { epochRow } from '../../test/fixtures/epoch-metrics.ts';

/** One epoch of 10 episodes; the filter and critic fields are NaN unless given (a learner without them). */
function m(epoch: number, avgReward: number, avgFailures: number, extra: Partial<EpochMetrics> = {}): EpochMetrics {
  return epochRow(epoch, { avgReward, avgFailures, ...extra });
}

const byTopic = (fs: readonly HealthFinding[], topic: string): HealthFinding => {
  const x = fs.find((f) => f.topic === topic);
  assert.ok(x !== undefined, `no ${topic} finding in ${JSON.stringify(fs)}`);
  return x;
};

// Rewards with a small wobble, so the standard errors are not zero.
const wobble = (e: number): number => (e % 2 === 0 ? 0.5 : -0.5);

test('a rising reward with failures at χ or below and a calibrated, accepting filter is all ok', () => {
  const filter = (e: number): Partial<EpochMetrics> => ({ filterExhaustedFraction: 0.001, filterFirstAcceptRate: 0.97, criticPredictedFailure: 0.02, observedFailureRate: 0.015, epsilon: 0.01 + 0 * e });
  const run = Array.from({ length: 12 }, (_, e) => m(e, 2 * e + wobble(e), e < 4 ? 0.2 : 0.0, filter(e)));
  const fs = runHealth(run, 0.05);
  assert.deepEqual(
    fs.map((f) => [f.topic, f.level]),
    [
      ['reward', 'ok'],
      ['failures', 'ok'],
      ['filter', 'ok'],
      ['critic', 'ok'],
    ],
  );
  // Thirds of 12 epochs: epochs 0-3 (mean reward 3.0) and 8-11 (mean 19.0).
  assert.match(byTopic(fs, 'reward').message, /3\.00 in the first third of the epochs → 19\.00 in the last/);
  assert.match(byTopic(fs, 'failures').message, /0\.000, at or below χ = 0\.05 \(at or below χ in 4 of those 4 epochs/);
});

test('a flat reward under an active λ with failures at χ or below says the learner may be safe by not acting', () => {
  const run = Array.from({ length: 9 }, (_, e) => m(e, wobble(e), 0, { lambda: 0.3 }));
  const r = byTopic(runHealth(run, 0.05), 'reward');
  assert.equal(r.level, 'warn');
  assert.match(r.message, /^reward did not rise/);
  assert.match(r.message, /λ at 0\.300 .* not doing the task/);
  // Without λ the same flat reward is reported, without the hint.
  const plain = byTopic(runHealth(run.map((x) => ({ ...x, lambda: 0 })), 0.05), 'reward');
  assert.equal(plain.level, 'warn');
  assert.doesNotMatch(plain.message, /not doing the task/);
});

test('a falling reward is reported as falling', () => {
  const run = Array.from({ length: 9 }, (_, e) => m(e, 20 - 2 * e + wobble(e), 0));
  assert.match(byTopic(runHealth(run, 0.05), 'reward').message, /^reward fell/);
});

test('a rise within two standard errors is not called a rise', () => {
  // First third 0, 10, 0 (mean 3.33, sd 5.8); last third 10, 0, 10 (mean 6.67): difference 3.33 < 2 × 4.7.
  const rewards = [0, 10, 0, 5, 5, 5, 10, 0, 10];
  const r = byTopic(runHealth(rewards.map((x, e) => m(e, x, 0)), 0.05), 'reward');
  assert.equal(r.level, 'warn');
  assert.match(r.message, /within 2 standard errors \(4\.71\)/);
});

test('failures above χ in the last third are a warning, weighted by episodes', () => {
  // Last third: epochs 6-8 with 10, 10 and 20 episodes failing 0.0, 0.0, 0.2 → 4 / 40 = 0.1.
  const run = Array.from({ length: 9 }, (_, e) => m(e, e + wobble(e), e === 8 ? 0.2 : 0, e === 8 ? { episodes: 20 } : {}));
  const f = byTopic(runHealth(run, 0.05), 'failures');
  assert.equal(f.level, 'warn');
  assert.match(f.message, /0\.100, above χ = 0\.05 \(at or below χ in 2 of those 3 epochs\)/);
  assert.equal(byTopic(runHealth(run, 0.1), 'failures').level, 'ok');
});

test('a filter that falls back or overrides π, and a critic that under- or over-predicts, are warnings', () => {
  const exhausted = Array.from({ length: 9 }, (_, e) => m(e, e, 0, { filterExhaustedFraction: 0.2, filterFirstAcceptRate: 0.9 }));
  assert.match(byTopic(runHealth(exhausted, 0.05), 'filter').message, /no candidate had Q_C ≤ ε at 20 % of steps after epoch 5/);
  const overridden = Array.from({ length: 9 }, (_, e) => m(e, e, 0, { filterExhaustedFraction: 0, filterFirstAcceptRate: 0.3 }));
  const o = byTopic(runHealth(overridden, 0.05), 'filter');
  assert.equal(o.level, 'warn');
  assert.match(o.message, /only 30 % of steps in the last third: the filter, not π, chose the actions/);
  const optimistic = Array.from({ length: 9 }, (_, e) => m(e, e, 0, { criticPredictedFailure: 0.01, observedFailureRate: e < 6 ? 0.05 : 0 }));
  const c = byTopic(runHealth(optimistic, 0.05), 'critic');
  assert.equal(c.level, 'warn');
  // Epochs 0-5 predicted 0.01 < observed 0.05: 6 of 9 not conservative.
  assert.match(c.message, /fewer failures than followed in 67 % of epochs/);
  const pessimistic = Array.from({ length: 9 }, (_, e) => m(e, e, 0, { criticPredictedFailure: 0.5, observedFailureRate: 0.01 }));
  assert.match(byTopic(runHealth(pessimistic, 0.05), 'critic').message, /more than 3× the failures that followed \(\+ 0\.02\) in 100 % of epochs/);
});

test('a learner without a filter or critic gets no filter or critic finding', () => {
  const run = Array.from({ length: 9 }, (_, e) => m(e, e + wobble(e), 0));
  assert.deepEqual(
    runHealth(run, 0.05).map((f) => f.topic),
    ['reward', 'failures'],
  );
});

test('too few epochs, or thirds without finished episodes, give notes rather than verdicts', () => {
  assert.deepEqual(runHealth([m(0, 1, 0), m(1, 2, 0)], 0.05), [{ level: 'note', topic: 'run', message: '2 epochs: too few to judge trends (6 or more)' }]);
  const noEpisodes = Array.from({ length: 6 }, (_, e) => m(e, NaN, NaN, { episodes: 0 }));
  const fs = runHealth(noEpisodes, 0.05);
  assert.equal(byTopic(fs, 'reward').level, 'note');
  assert.equal(byTopic(fs, 'failures').level, 'note');
});

test('formatHealth writes one aligned line per finding', () => {
  const text = formatHealth([
    { level: 'ok', topic: 'reward', message: 'reward rose' },
    { level: 'warn', topic: 'failures', message: 'too many' },
  ]);
  assert.equal(text, '  ok    reward rose\n  warn  too many');
});
