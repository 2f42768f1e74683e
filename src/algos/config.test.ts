import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, resolveConfig } from './config.ts';

test('defaults are the paper hyper-parameters (Appendix A.6)', () => {
  const c = resolveConfig();
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
});

for (const [field, value, pattern] of [
  ['chi', 1.5, /config.chi = 1.5: expected in \[0, 1\)/],
  ['gamma', 1, /config.gamma = 1: expected in \(0, 1\)/],
  ['numEnvs', 0, /config.numEnvs = 0/],
  ['maxKl', Number.NaN, /config.maxKl = null: expected > 0/],
  ['algo', 'ppo', /config.algo = "ppo": expected one of csc, trpo, qensemble/],
  ['policyHidden', [], /config.policyHidden = \[\]: expected a non-empty list/],
  ['bogus', 1, /unknown config field 'bogus'/],
] as const) {
  test(`a bad ${field} is refused with the field, the value and what was expected`, () => {
    assert.throws(() => resolveConfig({ [field]: value }), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
  });
}

test('stepsPerEpoch must split evenly over the envs, and the message proposes a fix', () => {
  assert.throws(() => resolveConfig({ numEnvs: 16, stepsPerEpoch: 1000 }), /not a multiple of numEnvs = 16; use 1008/);
  assert.equal(resolveConfig({ numEnvs: 8, stepsPerEpoch: DEFAULT_CONFIG.stepsPerEpoch }).numEnvs, 8);
});
