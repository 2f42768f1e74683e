/**
 * Short seeded runs on point-nav whose metrics must move the right way. Seeds fix every random
 * draw, so these are deterministic for a given code version; they fail when learning breaks
 * (a sign error in the policy step, a critic that stops learning), not by chance.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type LearnerConfig, type Preset, resolveConfig } from '../src/algos/config.ts';
import { CscLearner } from '../src/algos/csc.ts';
import { PointNavVecEnv } from '../src/envs/point-nav.ts';
import { initBackend } from '../src/nn/backend.ts';
import type { EpochMetrics } from '../src/runs/metrics.ts';

before(async () => {
  await initBackend('auto');
});

async function run(algo: 'csc' | 'trpo', epochs: number, preset: Preset = 'default', o: Partial<LearnerConfig> = {}): Promise<EpochMetrics[]> {
  const cfg = resolveConfig({ algo, seed: 3, epochs, numEnvs: 8, stepsPerEpoch: 4000, filterCandidates: 32, filterProbe: 4, ...o }, preset);
  const learner = new CscLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await learner.start();
  const out: EpochMetrics[] = [];
  for (let e = 0; e < epochs; e++) out.push(await learner.runEpoch());
  learner.dispose();
  return out;
}

let trpo: EpochMetrics[] = [];

test('TRPO on point-nav: average reward rises over a few epochs', async () => {
  trpo = await run('trpo', 6);
  const first = trpo[0]!.avgReward;
  const last = (trpo[4]!.avgReward + trpo[5]!.avgReward) / 2;
  assert.ok(last > first + 3, `avg reward ${first.toFixed(2)} → ${last.toFixed(2)}`);
  assert.ok(trpo.every((x) => x.kl <= 0.01), 'every accepted step within δ');
});

test('CSC on point-nav fails far less than TRPO on the same seed and step budget', async () => {
  const csc = await run('csc', 6);
  const cscFailures = csc.at(-1)!.cumulativeFailures;
  const trpoFailures = trpo.at(-1)!.cumulativeFailures;
  assert.ok(trpoFailures > 20, `the fixture needs TRPO to fail (${trpoFailures})`);
  assert.ok(cscFailures < trpoFailures / 2, `cumulative failures: CSC ${cscFailures} vs TRPO ${trpoFailures}`);
  assert.ok(csc.every((x) => x.filterExhaustions <= x.envSteps && x.filterAcceptRate >= 0 && x.filterAcceptRate <= 1));
});

test('once the critic has trained, the filter accepts most first candidates; the paper preset’s does not', async () => {
  const csc = await run('csc', 5);
  const late = csc.slice(2);
  for (const m of late) {
    assert.ok((m.filterFirstAcceptRate ?? 0) > 0.8, `epoch ${m.epoch}: first candidate accepted at ${m.filterFirstAcceptRate} of steps`);
    assert.ok((m.filterExhaustedFraction ?? 1) < 0.05, `epoch ${m.epoch}: fell back at ${m.filterExhaustedFraction} of steps`);
  }
  // Its predictions mean something: near the observed failure, not the untrained 0.5.
  assert.ok(late.every((m) => m.criticPredictedFailure < 0.25), `predicted ${late.map((m) => m.criticPredictedFailure.toFixed(3)).join(', ')}`);
  // Algorithm 1 as printed, same seed and budget: ε ≤ 5e-4 and a critic starting at 0.5 reject
  // nearly every candidate: the failure mode this default fixes.
  const paper = await run('csc', 3, 'paper');
  assert.ok(paper.slice(1).every((m) => (m.filterFirstAcceptRate ?? 1) < 0.2), `paper preset first-accept ${paper.map((m) => m.filterFirstAcceptRate).join(', ')}`);
});

test('the filter-only preset: λ stays 0 through epochs that fail above χ, while the filter still acts', async () => {
  const filterOnly = await run('csc', 2, 'filter-only');
  assert.ok(filterOnly.some((m) => m.avgFailures > 0.05), `the fixture needs an epoch above χ: ${filterOnly.map((m) => m.avgFailures).join(', ')}`);
  assert.ok(filterOnly.every((m) => m.lambda === 0), `λ ${filterOnly.map((m) => m.lambda).join(', ')}`);
  assert.ok(filterOnly.slice(1).some((m) => (m.filterFirstAcceptRate ?? 1) < 1), 'the filter rejected some of π’s first samples');
});

test('lambdaWarmupEpochs: λ holds through the warm-up although epochs fail above χ, then the dual update starts', async () => {
  const warm = await run('csc', 3, 'default', { lambdaWarmupEpochs: 2 });
  assert.ok(warm.slice(0, 2).some((m) => m.avgFailures > 0.05), `the fixture needs a warm-up epoch above χ: ${warm.map((m) => m.avgFailures).join(', ')}`);
  assert.deepEqual(warm.slice(0, 2).map((m) => m.lambda), [0, 0]);
  assert.ok(warm[2]!.lambda > 0, `λ after the warm-up ${warm[2]!.lambda}: the window still holds the failures above χ`);
});
