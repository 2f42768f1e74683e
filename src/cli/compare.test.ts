import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readMetrics, readStatus } from '../runs/run-folder.ts';
import { compareCommand, parseCompareArgs, runCompare, type CompareEvent, type CompareOptions } from './compare.ts';
import type { CommandIo } from './plot.ts';

const FAKE_TRAIN = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'runs', 'fake-train.ts');
const COMPARE_ENTRY = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'runs', 'compare-entry.ts');
const TRAIN = [process.execPath, '--import', import.meta.resolve('tsx'), FAKE_TRAIN];
const made: string[] = [];
after(async () => {
  for (const d of made) await rm(d, { recursive: true, force: true });
});

async function launchesIn(dir: string): Promise<number> {
  try {
    return (await readFile(join(dir, 'launches.log'), 'utf8')).trim().split('\n').length;
  } catch {
    return 0;
  }
}

test('compare runs the grid, then on re-runs resumes only the interrupted runs and skips finished ones', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'csc-compare-'));
  made.push(outDir);
  const base: CompareOptions = {
    env: 'point-nav',
    algos: ['csc', 'trpo'],
    seeds: [0, 1],
    chis: [0.05],
    epochs: 6,
    parallel: 2,
    outDir,
    trainCommand: TRAIN,
  };
  const events: CompareEvent[] = [];
  const onEvent = (e: CompareEvent): void => {
    events.push(e);
  };

  // 1st: seed 1 of each algorithm stops after epoch 1, as if Ctrl-C'd.
  const r1 = await runCompare({ ...base, extraArgs: ['--stop-after', '1', '--stop-seed', '1'], onEvent, plot: false });
  assert.equal(events.filter((e) => e.kind === 'start').length, 4);
  assert.deepEqual(
    r1.outcomes.map((o) => [o.job.algo, o.job.seed, o.exitCode, o.state]).sort(),
    [
      ['csc', 0, 0, 'done'],
      ['csc', 1, 130, 'interrupted'],
      ['trpo', 0, 0, 'done'],
      ['trpo', 1, 130, 'interrupted'],
    ],
  );
  assert.deepEqual(r1.unfinished.map((j) => `${j.algo}-s${j.seed}`).sort(), ['csc-s1', 'trpo-s1']);

  // 2nd: only the two interrupted runs are launched, with --resume.
  events.length = 0;
  const r2 = await runCompare({ ...base, onEvent });
  const starts = events.flatMap((e) => (e.kind === 'start' ? [e] : []));
  assert.deepEqual(starts.map((e) => `${e.job.algo}-s${e.job.seed}`).sort(), ['csc-s1', 'trpo-s1']);
  assert.ok(starts.every((e) => e.resume && e.argv.includes('--resume')));
  assert.deepEqual(events.filter((e) => e.kind === 'skip').length, 2);
  assert.deepEqual(r2.unfinished, []);
  for (const j of r2.jobs) {
    assert.equal((await readStatus(j.dir))?.state, 'done', j.dir);
    assert.equal(await launchesIn(j.dir), j.seed === 1 ? 2 : 1, `launches of ${j.dir}`);
    const m = await readMetrics(j.dir);
    assert.deepEqual(
      m.map((x) => x.epoch),
      [0, 1, 2, 3, 4, 5],
      `${j.dir}: resumed without duplicate or missing rows`,
    );
    assert.equal(m.at(-1)?.totalEpisodes, 24);
  }

  // Summary, hand-worked from fake-train's formulas over 6 epochs (failure when (epoch + seed) % k = 0,
  // k = 8 for csc, 2 for trpo; reward = epoch + seed/10; 4 episodes, 0.5 s and 2000 steps per epoch).
  const csc = r2.groups.find((g) => g.group === 'CSC');
  const trpo = r2.groups.find((g) => g.group === 'Base (TRPO)');
  assert.ok(csc !== undefined && trpo !== undefined);
  assert.deepEqual(csc.cumulativeFailures, { mean: 0.5, std: Math.SQRT1_2, n: 2 });
  assert.deepEqual(trpo.cumulativeFailures, { mean: 3, std: 0, n: 2 });
  assert.ok(Math.abs(csc.finalAvgReward.mean - 5.05) < 1e-12);
  // Trailing 5-epoch failure rate < 0.05: csc seed 1 at epoch 4 (20 episodes), seed 0 at epoch 5
  // (its one failure, at epoch 0, leaves the window: 24 episodes); trpo fails every other epoch.
  assert.equal(csc.reachedChi, 2);
  assert.equal(csc.episodesUntilBelowChi.mean, 22);
  assert.equal(trpo.reachedChi, 0);
  assert.deepEqual(csc.envStepsPerS, { mean: 4000, std: 0, n: 2 });
  assert.deepEqual(csc.wallS, { mean: 3, std: 0, n: 2 });
  const md = await readFile(r2.summaryFiles.md, 'utf8');
  assert.match(md, /\| CSC \| 2 \| 0\.5 ± 0\.7 \| 5\.05 ± 0\.07 \| 22 ± 3 \(2\/2\) \| 3\.0 ± 0\.0 \| 4000 ± 0 \|/);
  assert.match(md, /\| Base \(TRPO\) \| 2 \| 3\.0 ± 0\.0 \| .* \| never \(0\/2\) \|/);
  const json: unknown = JSON.parse(await readFile(r2.summaryFiles.json, 'utf8'));
  assert.ok(typeof json === 'object' && json !== null && 'groups' in json && Array.isArray(json.groups) && json.groups.length === 2);
  assert.ok((await stat(join(outDir, 'figure.png'))).size > 10_000);

  // 3rd: nothing left to do.
  events.length = 0;
  const r3 = await runCompare({ ...base, onEvent, plot: false });
  assert.equal(events.filter((e) => e.kind === 'start').length, 0);
  assert.equal(r3.skipped.length, 4);
});

test('compare judges each run it summarises and lists the warnings in summary.md', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'csc-compare-health-'));
  made.push(outDir);
  // fake-train, seed 3, 9 epochs (thirds of 3): rewards rise by 1 an epoch; TRPO fails when
  // (epoch + 3) is even, so once (epoch 7) in the last third's 12 episodes: 0.083 > χ; CSC's one
  // failure (epoch 5) falls outside the last third.
  const r = await runCompare({ env: 'point-nav', algos: ['csc', 'trpo'], seeds: [3], chis: [0.05], epochs: 9, parallel: 2, outDir, trainCommand: TRAIN, plot: false });
  assert.deepEqual(
    r.health.map((h) => `${basename(h.dir)} ${h.findings.map((f) => `${f.topic}:${f.level}`).join(' ')}`).sort(),
    ['csc-chi0.05-s3 reward:ok failures:ok', 'trpo-chi0.05-s3 reward:ok failures:warn'],
  );
  const md = await readFile(r.summaryFiles.md, 'utf8');
  assert.match(md, /What the runs' metrics flag[^\n]*\n\n- \S*trpo-chi0\.05-s3: failures per episode in the last third: 0\.083, above χ = 0\.05 \(at or below χ in 2 of the last third's 3 epochs with episodes\)\n/);
  assert.doesNotMatch(md, /csc-chi0\.05-s3:/);
  const json = JSON.parse(await readFile(r.summaryFiles.json, 'utf8')) as { health: { dir: string; findings: unknown[] }[] };
  assert.deepEqual(json.health.map((h) => h.findings.length), [2, 2]);
});

test('the command prints progress and exits 1 while runs are unfinished, 0 when all are done', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'csc-compare-cmd-'));
  made.push(outDir);
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
  const argv = ['--env', 'point-nav', '--algos', 'csc', '--seeds', '1', '--epochs', '2', '--out', outDir, '--no-plot'];
  const code1 = await compareCommand([...argv, '--', '--stop-after', '0'], io, { trainCommand: TRAIN });
  assert.equal(code1, 1, err.join(''));
  assert.match(err.join(''), /1 run\(s\) unfinished; run the same command again/);
  const code2 = await compareCommand(argv, io, { trainCommand: TRAIN });
  assert.equal(code2, 0, err.join(''));
  const text = out.join('');
  assert.match(text, /csc compare: 1 run in .* \(1 at a time\)/);
  assert.match(text, /resume +.*csc-chi0\.05-s0/);
  assert.match(text, /\| CSC \| 1 \|/);
});

test('compare arguments: seeds as a count or a list, defaults, train flags after --, clear errors', () => {
  const now = new Date(Date.UTC(2026, 10, 25, 6, 0, 0));
  const o = parseCompareArgs(['--env', 'gym:Hopper-v4', '--algos', 'csc,trpo', '--', '--lr', '3e-4'], now);
  assert.ok(o !== 'help');
  assert.deepEqual(o.seeds, [0, 1, 2]);
  assert.deepEqual(o.chis, [0.05]);
  assert.equal(o.parallel, 1);
  assert.equal(o.outDir, join('runs', 'compare-gym_Hopper-v4-20261125-060000'));
  assert.deepEqual(o.extraArgs, ['--lr', '3e-4']);
  const p = parseCompareArgs(['--env', 'e', '--algos', 'csc', '--seeds', '0,4,7', '--chis', '0,0.1', '--parallel', '3', '--epochs', '9']);
  assert.ok(p !== 'help');
  assert.deepEqual([p.seeds, p.chis, p.parallel, p.epochs], [[0, 4, 7], [0, 0.1], 3, 9]);
  assert.equal(parseCompareArgs(['-h']), 'help');
  const bad: [string[], RegExp][] = [
    [['--algos', 'csc'], /--env is required/],
    [['--env', 'e'], /--algos is required/],
    [['--env', 'e', '--algos', 'csc,,trpo'], /--algos: "" is not an algorithm name/],
    [['--env', 'e', '--algos', 'csc', '--seeds', '0'], /--seeds: expected a count ≥ 1/],
    [['--env', 'e', '--algos', 'csc', '--chis', '0.1,-1'], /--chis: "-1" is not a threshold χ ≥ 0/],
    [['--env', 'e', '--algos', 'csc,csc'], /--algos: repeated value/],
    [['--env', 'e', '--algos', 'csc', '--parallel', '0'], /--parallel: expected an integer ≥ 1, got "0"/],
    [['--env', 'e', '--algos', 'csc', 'extra'], /unexpected argument "extra" \(train flags go after --\)/],
  ];
  for (const [argv, want] of bad) assert.throws(() => parseCompareArgs(argv), want, argv.join(' '));
});

async function waitFor(what: string, cond: () => Promise<boolean>, limitMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('SIGTERM to compare is passed to its trainings, which stop as interrupted runs; a re-run resumes them', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'csc-compare-sig-'));
  made.push(outDir);
  const flags = ['--env', 'point-nav', '--algos', 'csc,trpo', '--seeds', '1', '--epochs', '40', '--parallel', '2', '--out', outDir, '--no-plot'];
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), COMPARE_ENTRY, ...flags, '--', '--epoch-ms', '100'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((res) => child.once('close', (code) => {
    res(code);
  }));
  const dirs = ['csc', 'trpo'].map((a) => join(outDir, `${a}-chi0.05-s0`));
  // Both trainings are past start-up (they have written an epoch) before the signal.
  await waitFor('both trainings to write an epoch', async () => {
    for (const d of dirs) if ((await readMetrics(d).catch(() => [])).length === 0) return false;
    return true;
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /csc compare: SIGTERM; waiting for running trainings to save and stop/);
  for (const d of dirs) {
    const s = await readStatus(d);
    assert.equal(s?.state, 'interrupted', d);
    assert.ok(s.epoch < 39, `${d} stopped early (epoch ${s.epoch})`);
  }

  const r = await runCompare({ env: 'point-nav', algos: ['csc', 'trpo'], seeds: [0], chis: [0.05], epochs: 40, outDir, trainCommand: TRAIN, plot: false });
  assert.deepEqual(r.unfinished, []);
  assert.ok(r.outcomes.every((o) => o.resumed));
  for (const d of dirs) {
    await access(join(d, 'launches.log'));
    assert.equal(await launchesIn(d), 2);
    assert.deepEqual(
      (await readMetrics(d)).map((m) => m.epoch),
      Array.from({ length: 40 }, (_, i) => i),
    );
  }
});

test('end to end with the real `csc train`: a tiny TRPO comparison leaves a finished run folder, a summary and a figure', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'csc-compare-e2e-'));
  made.push(outDir);
  const r = await runCompare({
    env: 'point-nav',
    algos: ['trpo'],
    seeds: [0],
    chis: [0.05],
    epochs: 2,
    outDir,
    extraArgs: ['--steps-per-epoch', '1000', '--num-envs', '4', '--progress', 'plain'],
  });
  const log = await readFile(join(outDir, 'trpo-chi0.05-s0', 'train.log'), 'utf8');
  assert.deepEqual(r.unfinished, [], log);
  assert.equal(r.outcomes[0]?.exitCode, 0, log);
  assert.match(log, /\[trpo s0\] epoch 2\/2 episodes/);
  const m = await readMetrics(join(outDir, 'trpo-chi0.05-s0'));
  assert.deepEqual(
    m.map((x) => [x.epoch, x.totalEnvSteps]),
    [
      [0, 1000],
      [1, 2000],
    ],
  );
  assert.equal(r.groups[0]?.group, 'Base (TRPO)');
  assert.ok((await stat(join(outDir, 'figure.png'))).size > 10_000);
});
