import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ReplayBuffer } from '../core/replay.ts';
import { pointNavSpec } from '../envs/point-nav.ts';
import { SeedDataError, type SeedTransition, SeedRecordFields, createSeedData, formatFloat32, loadSeedData, seedReplayBuffer } from './seed-data.ts';

const spec = { id: 'toy', obsSize: 3, actSize: 2 };

const transitions: SeedTransition[] = [
  { obs: Float32Array.of(0.1, -1e-30, 3.4e38), action: Float32Array.of(-1, 1), reward: 0.1 + 0.2, failure: 0, terminated: false, truncated: false, nextObs: Float32Array.of(0.2, 0, -7.25) },
  { obs: Float32Array.of(1 / 3, 2 / 3, 1), action: Float32Array.of(0.5, -0.25), reward: -1e-9, failure: 1, terminated: true, truncated: false, nextObs: Float32Array.of(Math.PI, Math.E, -0) },
  { obs: Float32Array.of(0, 0, 0), action: Float32Array.of(0, 0), reward: 12345.678, failure: 0, terminated: false, truncated: true, nextObs: Float32Array.of(1, 2, 3) },
];

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'csc-seed-'));
}

async function readAll(path: string, s = spec): Promise<SeedTransition[]> {
  const src = await loadSeedData(path, s);
  const out: SeedTransition[] = [];
  for await (const t of src.transitions()) out.push(t);
  return out;
}

test('a seed-data file round-trips exactly, as .jsonl and as .jsonl.gz', async () => {
  const dir = await tmp();
  for (const name of ['a.jsonl', 'a.jsonl.gz']) {
    const path = join(dir, name);
    const sink = await createSeedData(path, { env: 'toy', obsSize: 3, actSize: 2, source: { note: 'test' } });
    for (const t of transitions) await sink.write(t);
    assert.equal(await sink.close(), 3);
    const back = await readAll(path);
    assert.deepEqual(back, transitions, name);
    assert.equal(back[0]!.reward, 0.1 + 0.2, 'float64 rewards keep every bit');
    const src = await loadSeedData(path);
    assert.deepEqual(src.header, { format: 'csc-seed-data', version: 1, env: 'toy', obsSize: 3, actSize: 2, source: { note: 'test' } });
    src.close();
  }
  // Plain JSON Lines anyone can read: a header object, then objects with exactly the documented fields.
  const lines = (await readFile(join(dir, 'a.jsonl'), 'utf8')).trimEnd().split('\n');
  assert.equal(lines.length, 4);
  for (const l of lines.slice(1)) assert.deepEqual(Object.keys(JSON.parse(l) as object), [...SeedRecordFields]);
  assert.equal(gunzipSync(await readFile(join(dir, 'a.jsonl.gz'))).toString('utf8'), await readFile(join(dir, 'a.jsonl'), 'utf8'));
  // No temp files are left behind.
  assert.deepEqual((await readdir(dir)).sort(), ['a.jsonl', 'a.jsonl.gz']);
});

test('float32 values are written with the fewest digits that read back exactly', () => {
  for (const [v, s] of [
    [0.1, '0.1'],
    [1 / 3, '0.33333334'],
    [-7.25, '-7.25'],
    [0, '0'],
    [1e-30, '1e-30'],
  ] as const) {
    assert.equal(formatFloat32(v), s);
    assert.equal(Math.fround(Number(s)), Math.fround(v));
  }
});

const HEADER = '{"format":"csc-seed-data","version":1,"env":"toy","obsSize":3,"actSize":2}';
const GOOD = '{"obs":[0,0,0],"action":[0,0],"reward":0,"failure":0,"terminated":false,"truncated":false,"next_obs":[0,0,0]}';
const withField = (k: string, v: string): string => GOOD.replace(new RegExp(`"${k}":(\\[[^\\]]*\\]|[^,}]*)`), `"${k}":${v}`);

test('a malformed file fails naming the file, the line, the record, the field and what was expected', async () => {
  const dir = await tmp();
  const cases: [string, string, RegExp][] = [
    ['empty', '', /bad\.jsonl: the file is empty; expected a header line/],
    ['not JSON', `${HEADER}\n${GOOD}\n{"obs": [0,0,`, /bad\.jsonl:3: not valid JSON/],
    ['wrong format', '{"format":"other","version":1}', /bad\.jsonl:1: header: field 'format' is string "other", expected "csc-seed-data"/],
    ['newer version', HEADER.replace('"version":1', '"version":2'), /bad\.jsonl:1: header: version 2 is not supported; this reader reads version 1/],
    ['bad size', HEADER.replace('"obsSize":3', '"obsSize":0'), /header: field 'obsSize' is number 0, expected a positive integer/],
    ['missing field', `${HEADER}\n${GOOD.replace('"reward":0,', '')}`, /bad\.jsonl:2: record 1: field 'reward' is nothing \(the field is missing\), expected a finite number/],
    ['unknown field', `${HEADER}\n${GOOD.replace('"next_obs"', '"next_ob"')}`, /bad\.jsonl:2: record 1: unknown field 'next_ob'; a record has exactly obs, action, reward, failure, terminated, truncated, next_obs/],
    ['short obs', `${HEADER}\n${GOOD}\n\n${withField('obs', '[1,2]')}`, /bad\.jsonl:4: record 2: field 'obs' is a list of 2 values, expected 3 numbers \(the header's obsSize\)/],
    ['string in action', `${HEADER}\n${withField('action', '[0,"x"]')}`, /record 1: field 'action'\[1\] is string "x", expected a finite float32 number/],
    ['too big for float32', `${HEADER}\n${withField('next_obs', '[0,1e39,0]')}`, /field 'next_obs'\[1\] is number 1e\+39, expected a finite float32 number/],
    ['failure 2', `${HEADER}\n${withField('failure', '2')}`, /field 'failure' is number 2, expected 0 or 1/],
    ['failure not terminal', `${HEADER}\n${withField('failure', '1')}`, /'failure' is 1 but 'terminated' is false; a failure always ends the episode/],
    ['terminated as 1', `${HEADER}\n${withField('terminated', '1')}`, /field 'terminated' is number 1, expected true or false/],
    ['record not an object', `${HEADER}\n[1,2,3]`, /record 1: expected an object with fields obs, action/],
  ];
  for (const [what, text, message] of cases) {
    const path = join(dir, 'bad.jsonl');
    await writeFile(path, text);
    await assert.rejects(readAll(path), (e: unknown) => e instanceof SeedDataError && message.test(e.message), what);
  }
  await writeFile(join(dir, 'bad.jsonl.gz'), `${HEADER}\n`);
  await assert.rejects(readAll(join(dir, 'bad.jsonl.gz')), /bad\.jsonl\.gz: cannot read .*is it gzip-compressed\?/);
  await assert.rejects(loadSeedData(join(dir, 'seed.csv')), /seed\.csv: unknown seed-data file type; expected a name ending in \.jsonl, \.jsonl\.gz/);
  await assert.rejects(loadSeedData(join(dir, 'missing.jsonl')), /missing\.jsonl: cannot open/);
});

test('observation and action sizes, and the env id, must match the env the data seeds', async () => {
  const dir = await tmp();
  const path = join(dir, 'toy.jsonl');
  await writeFile(path, `${HEADER}\n${GOOD}\n`);
  const pointNav = pointNavSpec();
  await assert.rejects(loadSeedData(path, pointNav), /toy\.jsonl: header has obsSize 3, actSize 2 \(env toy\), but env point-nav has obsSize 17, actSize 2/);
  await assert.rejects(loadSeedData(path, { id: 'other', obsSize: 3, actSize: 2 }), /header says env "toy", but the run's env is "other"/);
  const sink = await createSeedData(join(dir, 'w.jsonl'), { env: 'toy', obsSize: 3, actSize: 2 });
  await assert.rejects(sink.write({ ...transitions[0]!, obs: new Float32Array(4) }), /transition 1 has obs 4, next_obs 3, action 2 values; the header says obsSize 3, actSize 2/);
  await sink.abort();
  assert.deepEqual(await readdir(dir), ['toy.jsonl']);
});

test('seeding a replay buffer adds every record, or none when a record is bad', async () => {
  const dir = await tmp();
  const good = join(dir, 'good.jsonl');
  const sink = await createSeedData(good, { env: 'toy', obsSize: 3, actSize: 2 });
  for (const t of transitions) await sink.write(t);
  await sink.close();
  const buf = new ReplayBuffer(2, 3, 2);
  const summary = await seedReplayBuffer(buf, good, spec);
  assert.deepEqual({ ...summary, sha256: summary.sha256.length }, { path: good, sha256: 64, env: 'toy', records: 3, kept: 2, failures: 1, terminated: 1, truncated: 1 });
  // Capacity 2: the oldest record was overwritten, the last two remain in order.
  const kept = [...buf.entries()];
  assert.deepEqual(kept.map((e) => e.cost), [1, 0]);
  assert.deepEqual(Array.from(kept[1]!.nextObs), [1, 2, 3]);
  const bad = join(dir, 'bad.jsonl');
  await writeFile(bad, `${HEADER}\n${GOOD}\n${GOOD}\n${withField('failure', '7')}\n`);
  const empty = new ReplayBuffer(10, 3, 2);
  await assert.rejects(seedReplayBuffer(empty, bad, spec), /bad\.jsonl:4: record 3: field 'failure'/);
  assert.equal(empty.size, 0);
});

test('a rosbag2 MCAP file of /csc/transition messages seeds like a JSON Lines file; its sizes are checked', async () => {
  const dir = await tmp();
  const path = join(dir, 'robot.mcap');
  const sink = await createSeedData(path, { env: 'toy', obsSize: 3, actSize: 2 });
  for (const t of transitions) await sink.write(t);
  assert.equal(await sink.close(), 3);
  // A bag carries no env id, so a robot log seeds a sim env of the same layout.
  assert.deepEqual(await readAll(path, { id: 'ros:panda', obsSize: 3, actSize: 2 }), transitions);
  await assert.rejects(loadSeedData(path, { id: 'toy', obsSize: 4, actSize: 2 }), (e: unknown) => e instanceof SeedDataError && /obsSize 3, actSize 2.*obsSize 4/.test(e.message));
  // A bag without transitions, and a file that is not MCAP, fail naming the file.
  const { McapRecorder } = await import('../ros/mcap.ts');
  const empty = join(dir, 'empty.mcap');
  const rec = await McapRecorder.open(empty);
  rec.write('/e_stop', 'std_msgs/msg/Bool', { data: true }, 1n);
  await rec.close();
  await assert.rejects(loadSeedData(empty, spec), (e: unknown) => e instanceof SeedDataError && e.message.includes(empty) && e.message.includes('/csc/transition'));
  const junk = join(dir, 'junk.mcap');
  await writeFile(junk, 'not a bag');
  await assert.rejects(loadSeedData(junk, spec), (e: unknown) => e instanceof SeedDataError && e.message.includes(junk));
});
