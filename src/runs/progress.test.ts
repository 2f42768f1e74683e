import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { EpochMetrics } from './metrics.ts';
import { epochRow } from '../../test/fixtures/epoch-metrics.ts';
import { ProgressReporter, formatDurationS, formatEpochLine } from './progress.ts';

function row(epoch: number, wallS: number): EpochMetrics {
  return epochRow(epoch, {
    episodes: 4,
    totalEpisodes: 4 * (epoch + 1),
    envSteps: 2000,
    totalEnvSteps: 2000 * (epoch + 1),
    avgReward: 12.3456,
    avgFailures: 0.25,
    cumulativeFailures: 5,
    lambda: 0.031,
    kl: 0.009,
    criticLoss: 0.1,
    criticPredictedFailure: 0.1,
    observedFailureRate: 0.01,
    wallS,
    stepsPerS: 10432.4,
  });
}

function capture(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean; columns?: number }; text: () => string } {
  const stream: PassThrough & { isTTY?: boolean; columns?: number } = new PassThrough();
  stream.isTTY = isTTY;
  stream.columns = 160; // cli-progress cuts the line at the terminal's width
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return { stream, text: () => chunks.join('') };
}

test('durations read compactly', () => {
  const table: [number, string][] = [
    [0, '0s'],
    [42.4, '42s'],
    [187, '3m07s'],
    [7500, '2h05m'],
    [NaN, '?'],
  ];
  for (const [s, want] of table) assert.equal(formatDurationS(s), want, `${s}`);
});

test('plain mode writes one line per epoch with the documented fields and an ETA from wall times', async () => {
  const out = capture(false);
  const p = new ProgressReporter({ totalEpochs: 10, stream: out.stream, label: 'csc s0' });
  assert.equal(p.mode, 'plain');
  p.update(row(0, 2));
  p.update(row(1, 4)); // mean 3 s/epoch, 8 left → 24 s
  p.log('checkpoint saved');
  p.stop();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(out.text().split('\n'), [
    '[csc s0] epoch 1/10 episodes 4 (+4) avgReward 12.346 avgFailures 0.250 cumFailures 5 λ 0.0310 steps/s 10432 ETA 18s',
    '[csc s0] epoch 2/10 episodes 8 (+4) avgReward 12.346 avgFailures 0.250 cumFailures 5 λ 0.0310 steps/s 10432 ETA 24s',
    'checkpoint saved',
    '',
  ]);
});

test('NaN metrics print as "-" rather than NaN', () => {
  const line = formatEpochLine({ ...row(0, 1), avgReward: NaN, lambda: NaN }, 5, NaN);
  assert.match(line, /avgReward - .* λ - .* ETA \?$/);
});

test('quiet mode writes nothing; auto picks the bar on a TTY', async () => {
  const q = capture(false);
  const quiet = new ProgressReporter({ totalEpochs: 3, stream: q.stream, mode: 'quiet' });
  quiet.update(row(0, 1));
  quiet.log('hello');
  quiet.stop();
  const t = capture(true);
  const bar = new ProgressReporter({ totalEpochs: 3, stream: t.stream });
  assert.equal(bar.mode, 'bar');
  bar.update(row(0, 1));
  bar.stop();
  await new Promise((r) => setImmediate(r));
  assert.equal(q.text(), '');
  assert.match(t.text(), /epoch 1\/3 ETA 2s \| R 12\.35 \| fail 0\.250 \| episodes 4 \| λ 0\.031 \| 10432 steps\/s/);
});

test('a bad total is API misuse and throws', () => {
  assert.throws(() => new ProgressReporter({ totalEpochs: 0 }), /totalEpochs must be an integer ≥ 1, got 0/);
});
