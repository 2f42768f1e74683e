import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, type LearnerConfig, resolveConfig } from './config.ts';

test('the paper preset is Algorithm 1 with the hyper-parameters of Appendix A.6', () => {
  const c = resolveConfig({}, 'paper');
  assert.equal(c.criticLr, 2e-4);
  assert.equal(c.gamma, 0.99);
  assert.equal(c.lambdaLr, 4e-2);
  assert.equal(c.maxKl, 0.01);
  assert.equal(c.cqlAlpha, 0.5);
  assert.equal(c.lineSearchBeta0, 0.7);
  assert.equal(c.lineSearchTries, 20);
  assert.equal(c.ensembleSize, 20);
  assert.equal(c.filterCandidates, 100);
  assert.equal(c.epsilonRule, 'paper');
  assert.equal(c.filterThreshold, 'q');
  assert.equal(c.filterFallback, 'lowest');
  assert.equal(c.criticTarget, 'policy');
  assert.equal(c.criticInitFailure, 0.5);
  assert.equal(c.criticBellmanLoss, 'mse');
  assert.equal(c.criticNStep, 1);
  assert.equal(c.failureWindowEpisodes, 0);
  assert.equal(c.lambdaAdvantage, 'fresh');
  assert.equal(c.exhaustedInGradient, true);
  // Overrides still win over the preset.
  assert.equal(resolveConfig({ criticNStep: 4 }, 'paper').criticNStep, 4);
});

/** The config fields whose value differs from DEFAULT_CONFIG's. */
const changedFromDefault = (c: LearnerConfig): string[] =>
  Object.keys(DEFAULT_CONFIG).filter((k) => JSON.stringify(c[k as keyof LearnerConfig]) !== JSON.stringify(DEFAULT_CONFIG[k as keyof LearnerConfig]));

test('the filter-only preset is the default with λ held at 0 and no CQL term, nothing else', () => {
  const c = resolveConfig({}, 'filter-only');
  const changed = changedFromDefault(c);
  assert.deepEqual(changed.sort(), ['cqlAlpha', 'lambdaLr']);
  assert.equal(c.lambdaInit, 0);
  assert.equal(c.lambdaLr, 0);
  assert.equal(c.cqlAlpha, 0);
});

test('the observed-cost preset is the default with Â_C and λ from the observed failures and CQL’s lift bounded, nothing else', () => {
  const c = resolveConfig({}, 'observed-cost');
  const changed = changedFromDefault(c);
  assert.deepEqual(changed.sort(), ['costAdvantageSource', 'cqlAlphaLr', 'lambdaAdvantage']);
  assert.equal(c.costAdvantageSource, 'observed');
  assert.equal(c.lambdaAdvantage, 'observed');
  assert.equal(c.cqlAlphaLr, 0.1);
});

test('the default keeps the paper’s γ, δ, η_λ, α, K and line search, and departs where docs/algorithm.md says', () => {
  const c = resolveConfig();
  const p = resolveConfig({}, 'paper');
  for (const k of ['gamma', 'lambdaLr', 'maxKl', 'cqlAlpha', 'lineSearchBeta0', 'lineSearchTries', 'filterCandidates', 'chi'] as const) assert.equal(c[k], p[k], k);
  assert.equal(c.epsilonRule, 'fixed');
  assert.equal(c.epsilonFixed, 0.1);
  assert.equal(c.criticTarget, 'filtered');
  assert.ok(c.criticInitFailure < 0.05);
  assert.throws(() => resolveConfig({}, 'fast' as never), /preset "fast": expected one of/);
});

for (const [field, value, pattern] of [
  ['chi', 1.5, /config.chi = 1.5: expected in \[0, 1\)/],
  ['gamma', 1, /config.gamma = 1: expected in \(0, 1\)/],
  ['numEnvs', 0, /config.numEnvs = 0/],
  ['maxKl', Number.NaN, /config.maxKl = null: expected > 0/],
  ['algo', 'ppo', /config.algo = "ppo": expected one of csc, trpo, qensemble/],
  ['policyHidden', [], /config.policyHidden = \[\]: expected a non-empty list/],
  ['bogus', 1, /unknown config field 'bogus'/],
  ['lambdaDecay', 1, /config.lambdaDecay = 1: expected in \[0, 1\) \(the share of λ forgotten per epoch\)/],
  ['lambdaWarmupEpochs', 2.5, /config.lambdaWarmupEpochs = 2.5: expected an integer ≥ 0 \(epochs before λ starts to move\)/],
  ['lambdaAdvantage', 'paper', /config.lambdaAdvantage = "paper": expected one of fresh, behaviour, observed/],
  ['lambdaRiskCritic', 'cql', /config.lambdaRiskCritic = "cql": expected one of conservative, plain/],
  ['advantageMix', 'scaled', /config.advantageMix = "scaled": expected one of paper, normalised/],
  ['rejectedInGradient', 1, /config.rejectedInGradient = 1: expected true or false/],
  ['costAdvantageSource', 'gae', /config.costAdvantageSource = "gae": expected one of critic, observed/],
  ['policyUpdate', 'exact', /config.policyUpdate = "exact": expected one of lagrangian, cpo/],
  ['cqlAlphaLr', -0.1, /config.cqlAlphaLr = -0.1: expected ≥ 0 \(0 = α fixed\)/],
  ['cqlGapTarget', 1, /config.cqlGapTarget = 1: expected in \(−1, 1\) \(a gap between two failure probabilities\)/],
] as const) {
  test(`a bad ${field} is refused with the field, the value and what was expected`, () => {
    assert.throws(() => resolveConfig({ [field]: value }), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
  });
}

test('rejectedInGradient needs the paper mix: the turned-away proposals carry −λ′Â_C unstandardised', () => {
  assert.throws(() => resolveConfig({ rejectedInGradient: true, advantageMix: 'normalised' }), /config.rejectedInGradient = true needs advantageMix 'paper' \(got "normalised"\)/);
  assert.equal(resolveConfig({ rejectedInGradient: true }).rejectedInGradient, true);
  assert.throws(() => resolveConfig({ rejectedInGradient: true, costAdvantageSource: 'observed' }), /config.rejectedInGradient = true needs costAdvantageSource 'critic' \(got "observed"\): a rejected proposal never ran/);
});

test('policyUpdate cpo is a csc option on the observed failures, with the paper mix', () => {
  assert.equal(resolveConfig({ policyUpdate: 'cpo', costAdvantageSource: 'observed' }).policyUpdate, 'cpo');
  assert.throws(() => resolveConfig({ policyUpdate: 'cpo' }), /config.policyUpdate = 'cpo' needs costAdvantageSource 'observed' \(got "critic"\): its constraint is in failures per episode/);
  assert.throws(() => resolveConfig({ policyUpdate: 'cpo', costAdvantageSource: 'observed', algo: 'trpo' }), /config.policyUpdate = 'cpo' is an option of algo 'csc' \(got "trpo"\)/);
  assert.throws(() => resolveConfig({ policyUpdate: 'cpo', costAdvantageSource: 'observed', advantageMix: 'normalised' }), /advantageMix has no effect; leave it 'paper' \(got "normalised"\)/);
});

test('stepsPerEpoch must split evenly over the envs, and the message proposes a fix', () => {
  assert.throws(() => resolveConfig({ numEnvs: 16, stepsPerEpoch: 1000 }), /not a multiple of numEnvs = 16; use 1008/);
  assert.equal(resolveConfig({ numEnvs: 8, stepsPerEpoch: DEFAULT_CONFIG.stepsPerEpoch }).numEnvs, 8);
});
