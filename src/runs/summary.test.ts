import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { EpochMetrics } from './metrics.ts';
import { epochRow } from '../../test/fixtures/epoch-metrics.ts';
import { episodesUntilBelowChi, groupName, meanStd, readRunInfo, summarizeRun, type RunInfo } from './summary.ts';

function m(epoch: number, failures: number, avgReward = epoch): EpochMetrics {
  return epochRow(epoch, { avgReward, avgFailures: failures / 10, wallS: 2, stepsPerS: 50 });
}

const INFO: RunInfo = { dir: 'runs/x', env: 'point-nav', algo: 'csc', seed: 0, chi: 0.05, label: 'x' };

test('episodes until failures < χ needs a full 5-epoch window below χ', () => {
  // Failures per epoch (10 episodes each): 3 0 0 0 0 | 1 0 0 0 0 ...
  const runs = [3, 0, 0, 0, 0, 1, 0, 0, 0, 0].map((f, e) => m(e, f));
  // Windows: e4: 3/50 = 0.06; e5: 1/50 = 0.02 < 0.05 → 60 episodes.
  assert.equal(episodesUntilBelowChi(runs, 0.05), 60);
  // χ = 0.02 is not reached while the single failure at e5 is in the window (e5…e9); never here.
  assert.equal(episodesUntilBelowChi(runs, 0.02), undefined);
  // A lucky first epoch with no failure does not count: the window is not full.
  assert.equal(episodesUntilBelowChi([m(0, 0), m(1, 5), m(2, 5)], 0.05), undefined);
});

test('final reward is the mean of the last 10% of epochs (at least one), skipping NaN', () => {
  const rows = Array.from({ length: 20 }, (_, e) => m(e, 0, e));
  assert.equal(summarizeRun(INFO, 'g', rows).finalAvgReward, 18.5); // epochs 18, 19
  rows[19] = m(19, 0, NaN);
  assert.equal(summarizeRun(INFO, 'g', rows).finalAvgReward, 18);
  const s = summarizeRun(INFO, 'g', rows.slice(0, 3));
  assert.equal(s.finalAvgReward, 2);
  assert.equal(s.wallS, 6);
  assert.equal(s.envStepsPerS, 50);
});

test('mean ± sample std over seeds', () => {
  assert.deepEqual(meanStd([2, 4, 4, 4, 5, 5, 7, 9]), { mean: 5, std: Math.sqrt(32 / 7), n: 8 });
  assert.deepEqual(meanStd([3]), { mean: 3, std: 0, n: 1 });
  assert.deepEqual(meanStd([NaN]), { mean: NaN, std: NaN, n: 0 });
});

test('run identity comes from config.json; the label falls back to the folder name without its seed', async () => {
  const dir = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'runs', 'trpo-chi0.05-s2');
  const info = await readRunInfo(dir);
  assert.deepEqual({ ...info, dir: undefined }, { dir: undefined, env: 'point-nav', algo: 'trpo', seed: 2, chi: 0.05, label: 'trpo-chi0.05' });
  assert.equal(groupName(info, 'algo'), 'Base (TRPO)');
  assert.equal(groupName(info, 'chi'), 'χ = 0.05');
  assert.equal(groupName({ ...INFO, algo: 'newalgo' }, 'algo'), 'newalgo');
});
