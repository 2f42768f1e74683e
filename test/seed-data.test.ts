import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LearnerConfig, resolveConfig } from '../src/algos/config.ts';
import { CscLearner } from '../src/algos/csc.ts';
import { PointNavVecEnv, pointNavSpec } from '../src/envs/point-nav.ts';
import { type BackendInfo, initBackend } from '../src/nn/backend.ts';
import { removeReplay } from '../src/runs/replay-file.ts';
import { type SeedTransition, createSeedData, loadSeedData } from '../src/runs/seed-data.ts';
import { seedLearner, train } from '../src/runs/train.ts';

let backend: BackendInfo;
before(async () => {
  backend = await initBackend('auto');
});

const small = (o: Partial<LearnerConfig> = {}): LearnerConfig =>
  resolveConfig({ numEnvs: 4, stepsPerEpoch: 400, epochs: 1, criticUpdatesPerEpoch: 40, criticBatch: 64, filterCandidates: 10, filterProbe: 2, valueEpochs: 1, policyHidden: [16], valueHidden: [16], criticHidden: [16], ...o });

/** Failures hand-labelled at real point-nav start states (the A.10 setting: a few marked tuples). */
async function failureFile(dir: string, n: number): Promise<{ path: string; obs: Float32Array; act: Float32Array }> {
  const spec = pointNavSpec();
  const obs = await new PointNavVecEnv(n).reset(777);
  const act = new Float32Array(n * 2).map((_, i) => (i % 2 === 0 ? 0.8 : -0.6));
  const path = join(dir, 'failures.jsonl');
  const sink = await createSeedData(path, { env: spec.id, obsSize: spec.obsSize, actSize: spec.actSize });
  for (let i = 0; i < n; i++) {
    const s = obs.slice(i * 17, (i + 1) * 17);
    await sink.write({ obs: s, action: act.slice(i * 2, i * 2 + 2), reward: -1, failure: 1, terminated: true, truncated: false, nextObs: s });
  }
  await sink.close();
  return { path, obs, act };
}

test('--seed-data teaches the safety critics the seeded failures: Q_C on them rises above the unseeded critic', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-seeded-'));
  const n = 300;
  const { path, obs, act } = await failureFile(dir, n);
  for (const algo of ['csc', 'qensemble'] as const) {
    const q: number[] = [];
    for (const seeded of [false, true]) {
      const cfg = small({ algo, ensembleSize: 3, criticLr: 3e-3, criticUpdatesPerEpoch: 100 });
      const learner = new CscLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
      if (seeded) {
        const s = await seedLearner(learner, path, learner.spec);
        assert.equal(s.records, n);
        assert.equal(learner.replay!.size, n);
      }
      await learner.start();
      await learner.runEpoch();
      const pred = learner.critic!.predict(obs, act, n);
      q.push(pred.reduce((a, b) => a + b, 0) / n);
      learner.dispose();
    }
    const [without, withSeed] = q as [number, number];
    assert.ok(withSeed > without + 0.15, `${algo}: mean Q_C on the seeded failures: ${without.toFixed(3)} unseeded, ${withSeed.toFixed(3)} seeded`);
  }
});

test('train() records what seeded the run, re-seeds on resume, and refuses changed or unfit data', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-seeded-'));
  const { path } = await failureFile(dir, 50);
  const out = join(dir, 'run');
  const cfg = small({ algo: 'sac', epochs: 1, sacWarmupSteps: 100, sacBatch: 32, sacUpdatesPerStep: 0.1 });
  await train({ config: cfg, backend, out, resume: false, checkpointEvery: 1, progress: 'quiet', seedData: path });
  const record = JSON.parse(await readFile(join(out, 'seed-data.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(record.path, path);
  assert.equal(record.records, 50);
  assert.equal(record.failures, 50);
  assert.match(String(record.sha256), /^[0-9a-f]{64}$/);
  const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.seedData, path);
  // A resume continues with the D_env saved in the checkpoint, seeded tuples included: the file is not read again.
  const resumed = await train({ config: { ...cfg, epochs: 2 }, backend, out, resume: true, checkpointEvery: 1, progress: 'quiet' });
  assert.equal(resumed.epochs, 2);
  await assert.rejects(train({ config: { ...cfg, epochs: 3 }, backend, out, resume: true, checkpointEvery: 1, progress: 'quiet', seedData: path }), /a resumed run re-seeds from the file its seed-data\.json names/);
  await appendFile(path, '\n');
  assert.equal((await train({ config: { ...cfg, epochs: 3 }, backend, out, resume: true, checkpointEvery: 1, progress: 'quiet' })).epochs, 3);
  // A checkpoint without a saved D_env re-seeds from the same bytes; a changed file is refused by name.
  await removeReplay(join(out, 'checkpoints', 'epoch-000002'));
  await assert.rejects(train({ config: { ...cfg, epochs: 4 }, backend, out, resume: true, checkpointEvery: 1, progress: 'quiet' }), /failures\.jsonl: the seed-data file changed since the run was seeded/);
  // Unfit data and on-policy learners fail before any run folder is made.
  const trpoOut = join(dir, 'trpo');
  await assert.rejects(train({ config: small({ algo: 'trpo' }), backend, out: trpoOut, resume: false, checkpointEvery: 1, progress: 'quiet', seedData: path }), /algo trpo has no replay buffer to seed/);
  const toy = join(dir, 'toy.jsonl');
  await (await createSeedData(toy, { env: 'toy', obsSize: 3, actSize: 2 })).close();
  await assert.rejects(train({ config: small(), backend, out: trpoOut, resume: false, checkpointEvery: 1, progress: 'quiet', seedData: toy }), /toy\.jsonl: header has obsSize 3, actSize 2 \(env toy\), but env point-nav has obsSize 17/);
  await assert.rejects(access(trpoOut), /ENOENT/);
});

test('--record-transitions writes every transition a run takes, whatever the algorithm', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-rec-train-'));
  const file = join(dir, 'trpo.jsonl');
  const r = await train({ config: small({ algo: 'trpo', epochs: 2, chi: 0 }), backend, out: join(dir, 'run'), resume: false, checkpointEvery: 1, progress: 'quiet', recordTransitions: file });
  const m = r.last!;
  assert.equal(r.recordedTransitions, m.totalEnvSteps);
  const src = await loadSeedData(file, pointNavSpec());
  assert.equal((src.header.source as { algo: string }).algo, 'trpo');
  let records = 0;
  let failures = 0;
  let ended = 0;
  for await (const t of src.transitions()) {
    records++;
    failures += t.failure;
    ended += t.terminated || t.truncated ? 1 : 0;
  }
  assert.deepEqual({ records, failures, ended }, { records: m.totalEnvSteps, failures: m.cumulativeFailures, ended: m.totalEpisodes });
});

test('Python\'s standard library reads our files and writes files we read (the snippet of docs/seed-data.md)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-seed-py-'));
  const ours = join(dir, 'ours.jsonl.gz');
  const sink = await createSeedData(ours, { env: 'toy', obsSize: 3, actSize: 2 });
  await sink.write({ obs: Float32Array.of(0.1, 0.2, 0.3), action: Float32Array.of(1, -1), reward: 0.5, failure: 1, terminated: true, truncated: false, nextObs: Float32Array.of(0, 0, 1) });
  await sink.close();
  const theirs = join(dir, 'theirs.jsonl.gz');
  const script = [
    'import gzip, json, sys',
    'with gzip.open(sys.argv[1], "rt") as f:',
    '    header, *records = (json.loads(line) for line in f if line.strip())',
    'with gzip.open(sys.argv[2], "wt") as f:',
    '    f.write(json.dumps(header) + "\\n")',
    '    for r in records:',
    '        r["reward"] = r["reward"] * 2',
    '        f.write(json.dumps(r) + "\\n")',
    'print(header["env"], len(records), records[0]["obs"])',
  ].join('\n');
  const py = spawnSync('sim/.venv/bin/python', ['-c', script, ours, theirs], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout.trim(), 'toy 1 [0.1, 0.2, 0.3]');
  const src = await loadSeedData(theirs, { id: 'toy', obsSize: 3, actSize: 2 });
  const back: SeedTransition[] = [];
  for await (const x of src.transitions()) back.push(x);
  assert.deepEqual(back, [{ obs: Float32Array.of(0.1, 0.2, 0.3), action: Float32Array.of(1, -1), reward: 1, failure: 1, terminated: true, truncated: false, nextObs: Float32Array.of(0, 0, 1) }]);
});

const csc = (...args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, ['bin/csc.mjs', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('csc record writes a run\'s filtered rollouts as seed data, and csc train --seed-data seeds from it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-record-'));
  const run = join(dir, 'csc-run');
  const t = csc('train', '--epochs', '1', '--num-envs', '4', '--steps-per-epoch', '400', '--set', 'criticUpdatesPerEpoch=5', '--set', 'filterCandidates=10', '--set', 'filterProbe=2', '--progress', 'quiet', '--out', run);
  assert.equal(t.code, 0, t.err);
  const file = join(dir, 'rollouts.jsonl.gz');
  const r = csc('record', '--run', run, '--episodes', '3', '--num-envs', '2', '--out', file);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as { records: number; episodes: number; failures: number; filter: boolean; env: string };
  assert.equal(summary.filter, true);
  assert.equal(summary.env, 'point-nav');
  assert.ok(summary.episodes >= 3);
  const src = await loadSeedData(file, pointNavSpec());
  assert.equal((src.header.source as { algo: string }).algo, 'csc');
  const records: SeedTransition[] = [];
  for await (const x of src.transitions()) records.push(x);
  assert.equal(records.length, summary.records);
  assert.equal(records.filter((x) => x.terminated || x.truncated).length, summary.episodes);
  assert.equal(records.reduce((s, x) => s + x.failure, 0), summary.failures);
  // Consecutive transitions of env 0 chain: s′ of one step is s of the next (until an episode ends).
  assert.deepEqual(Array.from(records[0]!.nextObs), Array.from(records[2]!.obs));
  const seededRun = join(dir, 'sac-run');
  const s = csc('train', '--algo', 'sac', '--epochs', '1', '--num-envs', '4', '--steps-per-epoch', '200', '--set', 'sacWarmupSteps=100', '--set', 'sacBatch=32', '--set', 'policyHidden=16', '--set', 'criticHidden=16', '--progress', 'quiet', '--seed-data', file, '--record-transitions', join(dir, 'sac.jsonl'), '--out', seededRun);
  assert.equal(s.code, 0, s.err);
  assert.match(s.err, /; 200 transitions recorded to .*sac\.jsonl/);
  const seeded = JSON.parse(await readFile(join(seededRun, 'seed-data.json'), 'utf8')) as { records: number };
  assert.equal(seeded.records, summary.records);
  const bad = csc('record', '--run', run, '--out', join(dir, 'x.csv'));
  assert.equal(bad.code, 1);
  assert.match(bad.err, /x\.csv: unknown seed-data file type/);
  assert.match(csc('record').err, /--run is required/);
});
