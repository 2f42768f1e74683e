import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHealth, runHealth, type HealthFinding } from './health.ts';
import type { EpochMetrics } from './metrics.ts';
import { epochRow } from '../../test/fixtures/epoch-metrics.ts';

/** One epoch of 10 episodes; the filter and critic fields are NaN unless given (a learner without them). */
function m(epoch: number, avgReward: number, avgFailures: number, extra: Partial<EpochMetrics> = {}): EpochMetrics {
  return epochRow(epoch, { avgReward, avgFailures, ...extra });
}

const CSC = { chi: 0.05, algo: 'csc' } as const;

const byTopic = (fs: readonly HealthFinding[], topic: string): HealthFinding => {
  const x = fs.find((f) => f.topic === topic);
  assert.ok(x !== undefined, `no ${topic} finding in ${JSON.stringify(fs)}`);
  return x;
};

// Rewards with a small wobble, so the standard errors are not zero.
const wobble = (e: number): number => (e % 2 === 0 ? 0.5 : -0.5);

test('a rising reward with failures at χ or below and a calibrated, accepting filter is all ok', () => {
  const filter: Partial<EpochMetrics> = ({ filterExhaustedFraction: 0.001, filterFirstAcceptRate: 0.97, criticPredictedFailure: 0.02, observedFailureRate: 0.015, epsilon: 0.01 });
  const run = Array.from({ length: 12 }, (_, e) => m(e, 2 * e + wobble(e), e < 4 ? 0.2 : 0.0, filter));
  const fs = runHealth(run, CSC);
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
  assert.match(byTopic(fs, 'failures').message, /0\.000, at or below χ = 0\.05 \(at or below χ in 4 of the last third's 4 epochs with episodes/);
});

test('a flat reward under an active λ with failures at χ or below says the learner may be safe by not acting', () => {
  const run = Array.from({ length: 9 }, (_, e) => m(e, wobble(e), 0, { lambda: 0.3 }));
  const r = byTopic(runHealth(run, CSC), 'reward');
  assert.equal(r.level, 'warn');
  assert.match(r.message, /^reward did not rise/);
  assert.match(r.message, /λ at 0\.300 .* not doing the task/);
  // Without λ the same flat reward is reported, without the hint.
  const plain = byTopic(runHealth(run.map((x) => ({ ...x, lambda: 0 })), CSC), 'reward');
  assert.equal(plain.level, 'warn');
  assert.doesNotMatch(plain.message, /not doing the task/);
});

test('a falling reward is reported as falling', () => {
  const run = Array.from({ length: 9 }, (_, e) => m(e, 20 - 2 * e + wobble(e), 0));
  assert.match(byTopic(runHealth(run, CSC), 'reward').message, /^reward fell/);
});

test('a rise within two standard errors is not called a rise', () => {
  // First third 0, 10, 0 (mean 3.33, sd 5.8); last third 10, 0, 10 (mean 6.67): difference 3.33 < 2 × 4.7.
  const rewards = [0, 10, 0, 5, 5, 5, 10, 0, 10];
  const r = byTopic(runHealth(rewards.map((x, e) => m(e, x, 0)), CSC), 'reward');
  assert.equal(r.level, 'warn');
  assert.match(r.message, /within 2 standard errors \(4\.71\)/);
});

test('failures above χ in the last third are a warning, weighted by episodes', () => {
  // Last third: epochs 6-8 with 10, 10 and 20 episodes failing 0.0, 0.0, 0.2 → 4 / 40 = 0.1.
  const run = Array.from({ length: 9 }, (_, e) => m(e, e + wobble(e), e === 8 ? 0.2 : 0, e === 8 ? { episodes: 20 } : {}));
  const f = byTopic(runHealth(run, CSC), 'failures');
  assert.equal(f.level, 'warn');
  assert.match(f.message, /0\.100, above χ = 0\.05 \(at or below χ in 2 of the last third's 3 epochs with episodes\)/);
  assert.equal(byTopic(runHealth(run, { chi: 0.1, algo: 'csc' }), 'failures').level, 'ok');
});

test('an exact-step run above χ says which CPO case its steps took in the epochs above χ', () => {
  // 12 epochs: the last third is epochs 8-11. Epoch 8 sits at χ (not counted); 9, 10 and 11 are
  // above it, in cases 1, 1 and 0. Epoch 3, above χ in case 1 with ν* 9, lies outside the last
  // third. The median ν* of the two case-1 epochs is (0.2 + 0.4)/2, and epoch 11's λ (0.8) is not in it.
  const failures = [0.05, 0.05, 0.05, 0.3, 0.05, 0.05, 0.05, 0.05, 0.05, 0.3, 0.3, 0.3];
  const cases = [3, 3, 2, 1, 2, 2, 2, 2, 2, 1, 1, 0];
  const nus = [0, 0, 0, 9, 0, 0, 0, 0, 0, 0.2, 0.4, 0.8];
  const run = Array.from({ length: 12 }, (_, e) => m(e, e + wobble(e), failures[e]!, { cpoCase: cases[e]!, lambda: nus[e]! }));
  const f = byTopic(runHealth(run, { ...CSC, policyUpdate: 'cpo' }), 'failures');
  assert.equal(f.level, 'warn');
  assert.match(f.message, /in the 3 epochs above χ that logged a CPO case, the step recovered \(case 0\) in 1, expected its trust region to reach χ \(case 1\) in 2, ν\* median 0\.300, had no cost gradient \(case 4\) in 0$/);
  // Without case-1 epochs no ν* is given; a feasible case (χ changed by a resume) is counted apart;
  // an epoch without episodes is not above χ.
  const other = run.map((x, e) => (e === 9 ? { ...x, cpoCase: 4 } : e === 10 ? { ...x, cpoCase: 2 } : e === 8 ? { ...x, episodes: 0, avgFailures: Number.NaN, cpoCase: 1 } : x));
  assert.match(byTopic(runHealth(other, { ...CSC, policyUpdate: 'cpo' }), 'failures').message, /in the 3 epochs above χ that logged a CPO case, the step recovered \(case 0\) in 1, expected its trust region to reach χ \(case 1\) in 0, had no cost gradient \(case 4\) in 1, and took a feasible case \(2 or 3: χ changed by a resume\?\) in 1$/);
  // A run that logged no case (the Lagrangian step) says nothing of it.
  const plain = byTopic(runHealth(run.map((x) => ({ ...x, cpoCase: Number.NaN })), CSC), 'failures');
  assert.doesNotMatch(plain.message, /CPO case/);
});

test('a filter that falls back or overrides π, and a critic that under- or over-predicts, are warnings', () => {
  const exhausted = Array.from({ length: 9 }, (_, e) => m(e, e, 0, { filterExhaustedFraction: 0.2, filterFirstAcceptRate: 0.9 }));
  assert.match(byTopic(runHealth(exhausted, CSC), 'filter').message, /no candidate had Q_C ≤ ε at 20 % of steps after epoch 5/);
  const overridden = Array.from({ length: 9 }, (_, e) => m(e, e, 0, { filterExhaustedFraction: 0, filterFirstAcceptRate: 0.3 }));
  const o = byTopic(runHealth(overridden, CSC), 'filter');
  assert.equal(o.level, 'warn');
  assert.match(o.message, /only 30 % of steps in the last third: the filter, not π, chose the actions/);
  const optimistic = Array.from({ length: 9 }, (_, e) => m(e, e, 0, { criticPredictedFailure: 0.01, observedFailureRate: e < 6 ? 0.05 : 0 }));
  const c = byTopic(runHealth(optimistic, CSC), 'critic');
  assert.equal(c.level, 'warn');
  // Epochs 0-5 predicted 0.01 < observed 0.05: 6 of 9 not conservative.
  assert.match(c.message, /fewer failures than followed in 67 % of epochs/);
  const pessimistic = Array.from({ length: 9 }, (_, e) => m(e, e, 0, { criticPredictedFailure: 0.5, observedFailureRate: 0.01 }));
  assert.match(byTopic(runHealth(pessimistic, CSC), 'critic').message, /more than 3× the failures that followed \(\+ 0\.02\) in 100 % of epochs/);
});

test('a learner without a filter or critic gets no filter or critic finding', () => {
  const run = Array.from({ length: 9 }, (_, e) => m(e, e + wobble(e), 0));
  assert.deepEqual(
    runHealth(run, CSC).map((f) => f.topic),
    ['reward', 'failures'],
  );
});

test('too few epochs, or thirds without finished episodes, give notes rather than verdicts', () => {
  assert.deepEqual(runHealth([m(0, 1, 0), m(1, 2, 0)], CSC), [{ level: 'note', topic: 'run', message: '2 epochs: too few to judge trends (9 or more)' }]);
  const noEpisodes = Array.from({ length: 9 }, (_, e) => m(e, NaN, NaN, { episodes: 0 }));
  const fs = runHealth(noEpisodes, CSC);
  assert.equal(byTopic(fs, 'reward').level, 'note');
  assert.equal(byTopic(fs, 'failures').level, 'note');
});

test('with 10 epochs the thirds are epochs 0-2 and 7-9; shares below 10 % get one decimal', () => {
  const run = Array.from({ length: 10 }, (_, e) => m(e, e < 3 ? wobble(e) : e > 6 ? 10 + wobble(e) : 50, 0, { filterExhaustedFraction: 0.0032, filterFirstAcceptRate: 0.995 }));
  const fs = runHealth(run, CSC);
  // First third: 0.5, -0.5, 0.5 (mean 0.17); last: 9.5, 10.5, 9.5 (mean 9.83); epochs 3-6 count for neither.
  assert.match(byTopic(fs, 'reward').message, /^reward rose: 0\.17 in the first third of the epochs → 9\.83 in the last$/);
  assert.equal(byTopic(fs, 'filter').message, "filter: π's first sample passed at 100 % of steps in the last third; fallback at 0.3 % of steps after epoch 5");
});

test('a filter metric the run did not log is left out of the ok line, not printed as NaN', () => {
  const run = Array.from({ length: 9 }, (_, e) => m(e, e + wobble(e), 0, { filterFirstAcceptRate: 0.96 }));
  assert.equal(byTopic(runHealth(run, CSC), 'filter').message, "filter: π's first sample passed at 96 % of steps in the last third");
});

test('the not-acting hint needs failures at or below χ and a CSC learner', () => {
  // λ active but failures above χ: the flat reward is reported without the hint.
  const failing = Array.from({ length: 9 }, (_, e) => m(e, wobble(e), 0.2, { lambda: 0.5 }));
  assert.doesNotMatch(byTopic(runHealth(failing, CSC), 'reward').message, /not doing the task/);
  // CPO logs ν* as λ and V_C as the prediction: no filter-only advice, and V_C named as what it is.
  const cpo = Array.from({ length: 9 }, (_, e) => m(e, wobble(e), 0, { lambda: 0.5, criticPredictedFailure: 0.001, observedFailureRate: 0.05 }));
  const fs = runHealth(cpo, { chi: 0.05, algo: 'cpo' });
  assert.doesNotMatch(byTopic(fs, 'reward').message, /filter-only/);
  assert.equal(byTopic(fs, 'critic').message, 'cost value V_C: it predicted fewer failures than followed in 100 % of epochs: not conservative, so the learner sees less risk than there is');
  // A falling reward under CSC's active λ with no failures carries the hint.
  const falling = Array.from({ length: 9 }, (_, e) => m(e, 20 - 2 * e + wobble(e), 0, { lambda: 0.5 }));
  assert.match(byTopic(runHealth(falling, CSC), 'reward').message, /^reward fell: .*not doing the task/);
});

test('λ still rising late with failures at or below χ is reported with its risk estimate; not when failures explain it', () => {
  // Last third: epochs 6-8; λ rises in 7 and 8 (2 of 3 > half), policyRisk 0.2, 0.3, 0.4 (median 0.3).
  const lambdas = [0, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.4];
  const run = lambdas.map((lambda, e) => m(e, e + wobble(e), 0, { lambda, policyRisk: e >= 6 ? 0.2 + 0.1 * (e - 6) : 0 }));
  assert.equal(
    byTopic(runHealth(run, CSC), 'lambda').message,
    "λ rose in 2 of the last third's 3 epochs, to 0.400, while failures stayed at or below χ: its estimate of π's unfiltered risk (`policyRisk`, median 0.300 in the last third) reads above χ, so λ weighs risk more than the failures seen ask for",
  );
  // The same λ with failures above χ in the last third: λ answers the failures, nothing to report.
  const failing = run.map((x) => ({ ...x, avgFailures: 0.2 }));
  assert.ok(!runHealth(failing, CSC).some((f) => f.topic === 'lambda'));
  // Rising in only 1 of 3 epochs, or a learner other than CSC: nothing.
  const once = run.map((x, e) => ({ ...x, lambda: e === 8 ? 0.3 : Math.min(x.lambda, 0.3) }));
  assert.ok(!runHealth(once, CSC).some((f) => f.topic === 'lambda'));
  assert.ok(!runHealth(run, { chi: 0.05, algo: 'cpo' }).some((f) => f.topic === 'lambda'));
});

test('formatHealth writes one aligned line per finding', () => {
  const text = formatHealth([
    { level: 'ok', topic: 'reward', message: 'reward rose' },
    { level: 'warn', topic: 'failures', message: 'too many' },
  ]);
  assert.equal(text, '  ok    reward rose\n  warn  too many');
});

test('with lambdaAdvantage observed, λ is reported only when it rose over the last third, and as the failures it integrates; with policyUpdate cpo not at all', () => {
  // Last third: epochs 6–8, failures 0.1, 0, 0 per episode (mean 0.033 ≤ χ); λ steps up in epoch 6
  // and down in 7 and 8, but ends above where the third began.
  const up = [0, 0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.29, 0.28].map((lambda, e) => m(e, e + wobble(e), e === 6 ? 0.1 : 0, { lambda, policyRisk: 0.3 }));
  assert.equal(
    byTopic(runHealth(up, { ...CSC, lambdaAdvantage: 'observed' }), 'lambda').message,
    "λ rose over the last third, 0.200 → 0.280, while its failures per episode (0.033) were at or below χ: with `lambdaAdvantage: observed` λ integrates each epoch's failures beyond χ, and 1 of the last third's 3 epochs had failures above it",
  );
  // The same with a net fall over the third: rising in 2 of 3 epochs is the integral's noise, not reported.
  const down = [0, 0.1, 0.2, 0.2, 0.2, 0.3, 0.25, 0.26, 0.27].map((lambda, e) => m(e, e + wobble(e), 0, { lambda, policyRisk: 0.3 }));
  assert.ok(byTopic(runHealth(down, CSC), 'lambda') !== undefined, 'the default reading reports it');
  assert.ok(!runHealth(down, { ...CSC, lambdaAdvantage: 'observed' }).some((f) => f.topic === 'lambda'));
  // policyUpdate cpo logs each epoch's ν* as λ: nothing carried over to report.
  assert.ok(!runHealth(up, { ...CSC, policyUpdate: 'cpo' }).some((f) => f.topic === 'lambda'));
});
