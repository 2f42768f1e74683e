import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { METRIC_FIELDS, type EpochMetrics } from './metrics.ts';
import {
  METRICS_CSV_HEADER,
  RunFileFormatError,
  RunFolder,
  RunFolderError,
  defaultRunDirName,
  latestCheckpoint,
  listCheckpoints,
  metricsCsvRow,
  metricsJsonLine,
  parseMetricsJsonLine,
  readMetrics,
  readMetricsCsv,
  readRunEnvArgs,
  readStatus,
  writeCheckpointDir,
} from './run-folder.ts';

const made: string[] = [];
after(async () => {
  for (const d of made) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'csc-runfolder-'));
  made.push(d);
  return d;
}

function row(epoch: number, over: Partial<EpochMetrics> = {}): EpochMetrics {
  return {
    epoch,
    episodes: 4,
    totalEpisodes: 4 * (epoch + 1),
    envSteps: 2000,
    totalEnvSteps: 2000 * (epoch + 1),
    avgReward: 0.1 + 0.2 * epoch, // 0.30000000000000004 at epoch 1: needs full precision
    avgFailures: 0.25,
    cumulativeFailures: epoch + 1,
    lambda: 1e-7 * epoch,
    epsilon: NaN,
    filterAcceptRate: NaN,
    filterExhaustions: 0,
    kl: 0.0093,
    lineSearchTries: 2,
    lineSearchAccepted: epoch % 2 === 0,
    criticLoss: -1.5e-300,
    criticPredictedFailure: 0.125,
    observedFailureRate: 1 / 3,
    droppedEpisodes: 0,
    wallS: 1.25,
    stepsPerS: 1600.5,
    filterExhaustedFraction: 0.125,
    filterFirstAcceptRate: 0.75,
    actionDeviation: 0.875,
    calibrationError: NaN,
    policyRisk: 0.0625,
    avgFailuresWindow: 0.03125,
    rewardAdvantageSpread: 0.5,
    costTermSpread: 2.25,
    criticGap: 0.125,
    cqlAlpha: 0.375,
    cpoCase: 1,
    ...over,
  };
}

/** What the CSV keeps of a row: every scalar, not the reliability curve. */
function scalars(m: EpochMetrics): EpochMetrics {
  const { calibration: _curve, ...rest } = m;
  return rest;
}

async function folderWith(rows: number): Promise<RunFolder> {
  const f = await RunFolder.create(await tmp());
  await f.writeConfig({ env: 'point-nav', algo: 'csc', seed: 0, chi: 0.05 });
  for (let e = 0; e < rows; e++) await f.appendMetrics(row(e));
  return f;
}

const CURVE = [
  { lo: 0, hi: 0.01, count: 3, predicted: 0.005, observed: 0 },
  { lo: 0.01, hi: 1, count: 0, predicted: NaN, observed: NaN },
];

test('metrics round-trip exactly through JSONL and CSV, NaN included, CSV header written once', async () => {
  const f = await RunFolder.create(await tmp());
  const want = [row(0, { calibration: CURVE }), row(1), row(2)];
  for (const m of want) await f.appendMetrics(m);
  assert.deepEqual(await readMetrics(f.dir), want);
  assert.deepEqual(await readMetricsCsv(f.dir), want.map(scalars));
  const csv = await readFile(f.path('metrics.csv'), 'utf8');
  const lines = csv.trimEnd().split('\n');
  assert.equal(lines[0], METRIC_FIELDS.join(','));
  assert.equal(lines.filter((l) => l === METRICS_CSV_HEADER).length, 1);
  // NaN is an empty cell in CSV and null in JSON; full precision survives as text.
  assert.match(lines[2] ?? '', /,0\.30000000000000004,/);
  assert.match(lines[2] ?? '', /,,,/);
  const jsonl = (await readFile(f.path('metrics.jsonl'), 'utf8')).split('\n');
  assert.match(jsonl[0] ?? '', /"epsilon":null,"filterAcceptRate":null/);
});

test('a metrics.jsonl line written before the filter diagnostics existed reads them as NaN', () => {
  const { filterExhaustedFraction: _a, filterFirstAcceptRate: _g, actionDeviation: _b, calibrationError: _c, policyRisk: _d, avgFailuresWindow: _e, rewardAdvantageSpread: _h, costTermSpread: _i, criticGap: _j, cqlAlpha: _k, cpoCase: _l, calibration: _f, ...old } = row(0);
  const back = parseMetricsJsonLine(JSON.stringify(old), 'metrics.jsonl', 1);
  assert.ok(Number.isNaN(back.filterExhaustedFraction) && Number.isNaN(back.policyRisk) && Number.isNaN(back.avgFailuresWindow));
  assert.ok(Number.isNaN(back.rewardAdvantageSpread) && Number.isNaN(back.costTermSpread) && Number.isNaN(back.criticGap) && Number.isNaN(back.cqlAlpha) && Number.isNaN(back.cpoCase));
  assert.equal(back.calibration, undefined);
  assert.throws(() => parseMetricsJsonLine(JSON.stringify({ ...old, calibration: [{ lo: 'x' }] }), 'm.jsonl', 3), /m\.jsonl:3.*calibration\[0\]\.lo: expected a number or null/);
});

test('config and status are written and read back', async () => {
  const f = await folderWith(0);
  assert.deepEqual(await f.readConfig(), { env: 'point-nav', algo: 'csc', seed: 0, chi: 0.05 });
  assert.equal(await f.readStatus(), undefined);
  await f.writeStatus('running', -1);
  await f.writeStatus('failed', 7, 'NaN in policy loss');
  const s = await readStatus(f.dir);
  assert.equal(s?.state, 'failed');
  assert.equal(s.epoch, 7);
  assert.equal(s.message, 'NaN in policy loss');
  assert.ok(!Number.isNaN(Date.parse(s.updatedAt)));
  f.writeStatusSync('interrupted', 8, 'SIGINT');
  assert.equal((await f.readStatus())?.state, 'interrupted');
  assert.deepEqual((await readdir(f.dir)).sort(), ['config.json', 'status.json'], 'no temp files left behind');
});

test('the env args a run was trained with read back; old or missing runs give undefined; a malformed field is named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-envargs-'));
  assert.equal(await readRunEnvArgs(dir), undefined, 'not a run folder');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ env: 'laikago-walk' }));
  assert.equal(await readRunEnvArgs(dir), undefined, 'a run from before the field');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ env: 'laikago-walk', envArgs: { gait_hz: 2, sim: 'x', flag: true } }));
  assert.deepEqual(await readRunEnvArgs(dir), { gait_hz: 2, sim: 'x', flag: true });
  for (const bad of [[1], { a: { b: 1 } }, 'gait_hz=2']) {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ envArgs: bad }));
    await assert.rejects(readRunEnvArgs(dir), (e: unknown) => e instanceof RunFileFormatError && /envArgs: expected an object of strings, numbers and booleans/.test(e.message), JSON.stringify(bad));
  }
});

test('a malformed status.json is named with what was wrong', async () => {
  const f = await folderWith(0);
  await writeFile(f.path('status.json'), JSON.stringify({ state: 'paused', epoch: 1, updatedAt: 'x' }));
  await assert.rejects(readStatus(f.dir), (e: unknown) => {
    assert.ok(e instanceof RunFileFormatError);
    assert.match(e.message, /status\.json: "state": expected one of running, done, interrupted, failed, got string "paused"/);
    return true;
  });
});

test('a last line cut short by a killed writer is dropped, and reported', async () => {
  const f = await folderWith(2);
  await appendFile(f.path('metrics.jsonl'), '{"epoch":2,"episodes":4,"totalEpi');
  await appendFile(f.path('metrics.csv'), '2,4,8,20');
  const cut: string[] = [];
  const onTruncatedLine = (file: string, line: number): void => {
    cut.push(`${file}:${line}`);
  };
  assert.deepEqual(await readMetrics(f.dir, { onTruncatedLine }), [row(0), row(1)]);
  assert.deepEqual(await readMetricsCsv(f.dir, { onTruncatedLine }), [row(0), row(1)]);
  assert.deepEqual(cut, [`${f.path('metrics.jsonl')}:3`, `${f.path('metrics.csv')}:4`]);
});

test('an unterminated CSV row is dropped even when it parses (cut inside its last number); a whole JSON line is kept', async () => {
  const f = await folderWith(1);
  const whole = metricsCsvRow(row(1));
  await appendFile(f.path('metrics.csv'), whole.slice(0, -2)); // "…,1600.5" cut to "…,1600"
  assert.deepEqual(await readMetricsCsv(f.dir), [row(0)]);
  await appendFile(f.path('metrics.jsonl'), metricsJsonLine(row(1))); // complete, newline missing
  assert.deepEqual(await readMetrics(f.dir), [row(0), row(1)]);
});

test('bad lines anywhere else fail with file, line and what was expected', async () => {
  const cases: { name: string; lines: string[]; err: RegExp }[] = [
    { name: 'broken JSON mid-file', lines: ['{"epoch":0', JSON.stringify(row(1))], err: /metrics\.jsonl:1: not valid JSON/ },
    {
      name: 'wrong type',
      lines: [JSON.stringify({ ...row(0), avgReward: 'high' })],
      err: /metrics\.jsonl:1: field "avgReward": expected a number or null, got string "high"/,
    },
    {
      name: 'missing field',
      lines: [JSON.stringify(row(0)), JSON.stringify({ ...row(1), kl: undefined })],
      err: /metrics\.jsonl:2: field "kl": expected a number or null, got nothing \(field missing\)/,
    },
    { name: 'not an object', lines: ['[1,2]'], err: /metrics\.jsonl:1: expected a JSON object, got an array/ },
    {
      name: 'duplicate epoch',
      lines: [JSON.stringify(row(0)), JSON.stringify(row(1)), JSON.stringify(row(1))],
      err: /metrics\.jsonl:3: epoch 1 does not follow epoch 1/,
    },
    { name: 'blank line', lines: [JSON.stringify(row(0)), '', JSON.stringify(row(1))], err: /metrics\.jsonl:2: empty line/ },
  ];
  for (const c of cases) {
    const dir = await tmp();
    await writeFile(join(dir, 'metrics.jsonl'), c.lines.map((l) => `${l}\n`).join(''));
    await assert.rejects(readMetrics(dir), (e: unknown) => {
      assert.ok(e instanceof RunFileFormatError, c.name);
      assert.match(e.message, c.err, c.name);
      return true;
    });
  }
});

test('a CSV with the wrong header or a bad cell fails clearly', async () => {
  const dir = await tmp();
  await writeFile(join(dir, 'metrics.csv'), 'epoch,reward\n0,1\n');
  await assert.rejects(readMetricsCsv(dir), /metrics\.csv:1: header does not match METRIC_FIELDS/);
  const cells = METRIC_FIELDS.map((f) => (f === 'lineSearchAccepted' ? 'yes' : '1'));
  await writeFile(join(dir, 'metrics.csv'), `${METRICS_CSV_HEADER}\n${cells.join(',')}\n`);
  await assert.rejects(readMetricsCsv(dir), /metrics\.csv:2: column "lineSearchAccepted": expected true or false, got "yes"/);
});

test('a checkpoint writer that throws mid-write leaves the previous checkpoint intact', async () => {
  const f = await folderWith(3);
  await f.writeCheckpointDir(1, async (d) => {
    await writeFile(join(d, 'weights.bin'), 'epoch one');
  });
  await assert.rejects(
    f.writeCheckpointDir(2, async (d) => {
      await writeFile(join(d, 'weights.bin'), 'half of epoch tw');
      throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.deepEqual(
    (await listCheckpoints(f.dir)).map((c) => c.epoch),
    [1],
  );
  assert.deepEqual(await readdir(f.path('checkpoints')), ['epoch-000001', 'latest'], 'temp dir removed');
  assert.equal(await readFile(f.path('checkpoints/latest'), 'utf8'), 'epoch-000001\n');
  assert.equal(await readFile(f.path('checkpoints/epoch-000001/weights.bin'), 'utf8'), 'epoch one');
});

test('a temp dir left by a killed writer is ignored; re-writing an epoch replaces it; keepLast prunes', async () => {
  const f = await folderWith(0);
  for (const e of [0, 1, 2]) {
    await writeCheckpointDir(f.dir, e, (d) => writeFile(join(d, 'w'), `v${e}`));
  }
  await writeFile(join(f.dir, 'checkpoints', 'epoch-000099'), 'a file, not a checkpoint dir');
  await mkdir(join(f.dir, 'checkpoints', '.tmp-epoch-000003-1-abcd'));
  assert.equal((await latestCheckpoint(f.dir))?.epoch, 2);
  await writeCheckpointDir(f.dir, 2, (d) => writeFile(join(d, 'w'), 'v2 again'));
  assert.equal(await readFile(join(f.dir, 'checkpoints/epoch-000002/w'), 'utf8'), 'v2 again');
  await writeCheckpointDir(f.dir, 3, (d) => writeFile(join(d, 'w'), 'v3'), { keepLast: 2 });
  assert.deepEqual(
    (await listCheckpoints(f.dir)).map((c) => c.epoch),
    [2, 3],
  );
});

test('resume picks the newest checkpoint that has its metrics row and cuts both files back to it', async () => {
  const f = await folderWith(5); // epochs 0..4
  await appendFile(f.path('metrics.jsonl'), '{"epoch":5,"epi'); // killed mid-append
  for (const e of [1, 3]) await f.writeCheckpointDir(e, (d) => writeFile(join(d, 'w'), `v${e}`));
  // A checkpoint ahead of the metrics (saved before its row reached disk) cannot be resumed exactly.
  await mkdir(f.path('checkpoints/epoch-000007'));

  const reopened = await RunFolder.open(f.dir);
  const r = await reopened.prepareResume();
  assert.equal(r.checkpoint?.epoch, 3);
  assert.equal(r.nextEpoch, 4);
  assert.deepEqual(r.metrics, [row(0), row(1), row(2), row(3)]);
  assert.deepEqual(await readMetrics(f.dir), r.metrics);
  assert.deepEqual(await readMetricsCsv(f.dir), r.metrics);
  // The checkpoint ahead of the metrics is gone, so it can never pass for one of the resumed run.
  assert.deepEqual(
    (await listCheckpoints(f.dir)).map((c) => c.epoch),
    [1, 3],
  );
  assert.equal(await readFile(f.path('checkpoints/latest'), 'utf8'), 'epoch-000003\n');

  await reopened.appendMetrics(row(4, { avgReward: 9 }));
  const after = await readMetrics(f.dir);
  assert.deepEqual(
    after.map((m) => m.epoch),
    [0, 1, 2, 3, 4],
  );
  assert.equal(after.at(-1)?.avgReward, 9);
  assert.deepEqual(await readMetricsCsv(f.dir), after);
});

test('resume without any checkpoint starts over with empty metrics', async () => {
  const f = await folderWith(2);
  const r = await (await RunFolder.open(f.dir)).prepareResume();
  assert.equal(r.checkpoint, undefined);
  assert.equal(r.nextEpoch, 0);
  assert.deepEqual(await readMetrics(f.dir), []);
  await f.appendMetrics(row(0));
  assert.deepEqual(await readMetricsCsv(f.dir), [row(0)]);
});

test('create refuses a folder holding a run; open refuses a folder without config.json', async () => {
  const f = await folderWith(1);
  await assert.rejects(RunFolder.create(f.dir), (e: unknown) => {
    assert.ok(e instanceof RunFolderError);
    assert.match(e.message, /already holds a run; pass --resume/);
    return true;
  });
  await assert.rejects(RunFolder.open(await tmp()), /no config\.json: not a run folder/);
});

test('default run folder names are sortable and path-safe', () => {
  const now = new Date(Date.UTC(2026, 10, 25, 5, 10, 7));
  assert.equal(defaultRunDirName({ env: 'point-nav', algo: 'csc', seed: 3, now }), 'point-nav-csc-s3-20261125-051007');
  assert.equal(defaultRunDirName({ env: 'gym:Hopper/v4', algo: 'trpo', seed: 0, now }), 'gym_Hopper_v4-trpo-s0-20261125-051007');
});

test('writeFileAtomic replaces content and leaves no temp file', async () => {
  const dir = await tmp();
  const p = join(dir, 'a.json');
  await writeFileAtomic(p, 'one');
  await writeFileAtomic(p, new TextEncoder().encode('two'));
  assert.equal(await readFile(p, 'utf8'), 'two');
  assert.deepEqual(await readdir(dir), ['a.json']);
});
