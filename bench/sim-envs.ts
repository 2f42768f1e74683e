/**
 * Short training runs on every simulated env (issue 3, item 5): CSC (and TRPO where it is cheap)
 * through the ZeroMQ bridge, each a real `csc train` process with its own run folder; what each
 * run showed (episodes, failures, reward at the start and the end, env steps/s) is read back from
 * its metrics.jsonl and written to bench/results/sim-envs.json. laikago-walk starts from the
 * policy of the laikago-stand run, as the paper does (`--init-policy`).
 *
 *   node --import tsx bench/sim-envs.ts [--only car-nav-csc,...] [--out runs/bench-sim-envs]
 *
 * These are smoke-scale runs (a few thousand steps) that show the whole path works on each
 * simulator and what the first epochs look like; they are not learning results.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EpochMetrics } from '../src/runs/metrics.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    out: { type: 'string', default: join('runs', 'bench-sim-envs') },
  },
});

interface Job {
  readonly name: string;
  readonly env: string;
  readonly algo: string;
  readonly epochs: number;
  readonly numEnvs: number;
  readonly stepsPerEpoch: number;
  readonly extra?: readonly string[];
}

const JOBS: readonly Job[] = [
  { name: 'car-nav-csc', env: 'car-nav', algo: 'csc', epochs: 4, numEnvs: 8, stepsPerEpoch: 4000 },
  { name: 'car-nav-trpo', env: 'car-nav', algo: 'trpo', epochs: 4, numEnvs: 8, stepsPerEpoch: 4000 },
  { name: 'laikago-stand-csc', env: 'laikago-stand', algo: 'csc', epochs: 3, numEnvs: 8, stepsPerEpoch: 4000 },
  { name: 'laikago-walk-csc', env: 'laikago-walk', algo: 'csc', epochs: 3, numEnvs: 8, stepsPerEpoch: 4000, extra: ['--init-policy', 'laikago-stand-csc'] },
  { name: 'panda-push-topple-csc', env: 'panda-push-topple', algo: 'csc', epochs: 2, numEnvs: 4, stepsPerEpoch: 1000 },
  { name: 'panda-push-boundary-trpo', env: 'panda-push-boundary', algo: 'trpo', epochs: 2, numEnvs: 4, stepsPerEpoch: 1000 },
  { name: 'gym-pendulum-csc', env: 'gym:Pendulum-v1', algo: 'csc', epochs: 3, numEnvs: 8, stepsPerEpoch: 4000 },
];

const only = values.only?.split(',');
const jobs = only === undefined ? JOBS : JOBS.filter((j) => only.includes(j.name));
mkdirSync(values.out, { recursive: true });

function readRows(dir: string): EpochMetrics[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as EpochMetrics);
}

const results = [];
for (const job of jobs) {
  const dir = join(values.out, job.name);
  const extra = (job.extra ?? []).map((a, i, all) => (all[i - 1] === '--init-policy' ? join(values.out, a) : a));
  const argv = ['bin/csc.mjs', 'train', '--env', job.env, '--algo', job.algo, '--seed', '0', '--epochs', String(job.epochs), '--num-envs', String(job.numEnvs), '--steps-per-epoch', String(job.stepsPerEpoch), '--progress', 'plain', '--out', dir, ...extra];
  if (existsSync(join(dir, 'config.json'))) argv.push('--resume');
  console.log(`\n== ${job.name}: csc ${argv.slice(1).join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { stdio: 'inherit' });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    results.push({ ...job, ok: false, exitCode: r.status, wallS });
    continue;
  }
  const rows = readRows(dir);
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const steps = rows.reduce((s, m) => s + m.envSteps, 0);
  const trainS = rows.reduce((s, m) => s + m.wallS, 0);
  results.push({
    ...job,
    ok: true,
    wallS,
    episodes: last.totalEpisodes,
    cumulativeFailures: last.cumulativeFailures,
    avgRewardFirst: first.avgReward,
    avgRewardLast: last.avgReward,
    avgFailuresFirst: first.avgFailures,
    avgFailuresLast: last.avgFailures,
    envStepsPerS: steps / trainS,
    droppedEpisodes: rows.reduce((s, m) => s + m.droppedEpisodes, 0),
  });
}

const commit = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
mkdirSync('bench/results', { recursive: true });
const outFile = join('bench', 'results', 'sim-envs.json');
writeFileSync(outFile, `${JSON.stringify({ bench: 'sim-envs', commit, date: new Date().toISOString(), machine: { cpus: cpus().length, loadavg: loadavg() }, results }, null, 2)}\n`);
console.log(`wrote ${outFile}`);
for (const r of results) console.log(JSON.stringify(r));
