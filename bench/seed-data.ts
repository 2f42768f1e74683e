/**
 * Seed-data files (docs/seed-data.md): bytes per transition and write / read-and-validate speed of
 * the JSON Lines format, plain and gzip-compressed, on real point-nav transitions. References in
 * the same run: the same records as msgpack (msgpackr, arrays of numbers) and the raw float32
 * lower bound; and the speed of replay-buffer inserts the records feed.
 *
 *   node --import tsx bench/seed-data.ts [--records 20000]   → bench/results/seed-data.json
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pack, unpack } from 'msgpackr';
import { ReplayBuffer } from '../src/core/replay.ts';
import { Rng } from '../src/core/rng.ts';
import { PointNavVecEnv } from '../src/envs/point-nav.ts';
import { type SeedTransition, createSeedData, loadSeedData } from '../src/runs/seed-data.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '20000' } } });
const n = Number(values.records);
const loadBefore = loadavg()[0]!;

// Real transitions: 16 point-nav envs under uniformly random actions.
const env = new PointNavVecEnv(16);
const rng = new Rng(1);
const spec = env.spec;
const records: SeedTransition[] = [];
let obs = await env.reset(3);
while (records.length < n) {
  const act = Float32Array.from({ length: 16 * 2 }, () => rng.range(-1, 1));
  const r = await env.step(act);
  for (let e = 0; e < 16 && records.length < n; e++) {
    records.push({ obs: obs.slice(e * 17, e * 17 + 17), action: act.slice(e * 2, e * 2 + 2), reward: r.reward[e]!, failure: r.failure[e] === 1 ? 1 : 0, terminated: r.terminated[e] === 1, truncated: r.truncated[e] === 1, nextObs: r.nextObs.slice(e * 17, e * 17 + 17) });
  }
  obs = r.obs;
}

const dir = await mkdtemp(join(tmpdir(), 'csc-bench-seed-'));
const results: Record<string, unknown>[] = [];
for (const name of ['seed.jsonl', 'seed.jsonl.gz']) {
  const path = join(dir, name);
  let t = performance.now();
  const sink = await createSeedData(path, { env: spec.id, obsSize: spec.obsSize, actSize: spec.actSize });
  for (const rec of records) await sink.write(rec);
  await sink.close();
  const writeS = (performance.now() - t) / 1000;
  t = performance.now();
  const src = await loadSeedData(path, spec);
  const buf = new ReplayBuffer(n, spec.obsSize, spec.actSize);
  for await (const x of src.transitions()) buf.add(x.obs, x.action, x.nextObs, x.reward, x.failure, x.terminated);
  const readS = (performance.now() - t) / 1000;
  const bytes = (await stat(path)).size;
  results.push({ format: name.slice(name.indexOf('.')), bytes, bytesPerRecord: bytes / n, writeRecordsPerS: n / writeS, readValidateInsertRecordsPerS: n / readS });
}

// References: msgpack of the same objects, and float32 values with 1-byte flags and a float64 reward.
const plain = records.map((r) => ({ obs: Array.from(r.obs), action: Array.from(r.action), reward: r.reward, failure: r.failure, terminated: r.terminated, truncated: r.truncated, next_obs: Array.from(r.nextObs) }));
let t = performance.now();
const packed = pack(plain);
const packS = (performance.now() - t) / 1000;
t = performance.now();
const unpacked = unpack(packed) as unknown[];
const unpackS = (performance.now() - t) / 1000;
if (unpacked.length !== n) throw new Error('msgpack round trip lost records');
const rawBytesPerRecord = (2 * spec.obsSize + spec.actSize) * 4 + 8 + 3;
const jsonl = await readFile(join(dir, 'seed.jsonl'));

const out = {
  bench: 'seed-data',
  commit: spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim(),
  date: new Date().toISOString(),
  loadAverage: { before: loadBefore, after: loadavg()[0]! },
  env: spec.id,
  records: n,
  results,
  reference: {
    msgpack: { bytesPerRecord: packed.byteLength / n, packRecordsPerS: n / packS, unpackRecordsPerS: n / unpackS, note: 'no validation, whole array in memory' },
    rawFloat32: { bytesPerRecord: rawBytesPerRecord },
    jsonlOverRaw: jsonl.byteLength / n / rawBytesPerRecord,
  },
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/seed-data.json', `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
