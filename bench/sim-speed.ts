/**
 * Raw in-process stepping speed of the robot envs, before and after a change to `sim/csc_sim`
 * (issue 11, item 2): `python -m csc_sim bench` (single-env `Env.step` with auto-reset, random
 * actions) on the `csc_sim` of a base commit (extracted with `git archive`) and on the working
 * tree's, interleaved round by round so that a change in the machine's load hits both alike.
 * sim/tests/test_golden.py is what shows the two simulate the same thing.
 *
 *   node --import tsx bench/sim-speed.ts --base COMMIT [--rounds 5] [--envs car-nav,...]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { simPython } from '../src/bridge/supervisor.ts';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    envs: { type: 'string', default: 'panda-push-topple,laikago-walk,car-nav' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results', 'sim-speed.json') },
  },
});
if (values.base === undefined) throw new Error('--base COMMIT is required: the commit whose csc_sim is the "before"');
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds ${values.rounds}: expected an integer >= 1`);
/** Steps per measurement: about 1.5 s of stepping for each env on an idle core. */
const STEPS: Record<string, number> = { 'panda-push-topple': 200, 'panda-push-boundary': 200, 'laikago-walk': 2000, 'laikago-stand': 2000, 'car-nav': 10000 };
const envs = values.envs.split(',');

const git = (...args: string[]): string => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
const baseCommit = git('rev-parse', values.base);
const headCommit = git('rev-parse', 'HEAD');
const dirty = git('status', '--porcelain', '--', 'sim/csc_sim') !== '';
const baseDir = mkdtempSync(join(tmpdir(), 'csc-sim-speed-'));
execFileSync('bash', ['-c', `git archive ${baseCommit} sim/csc_sim | tar -x -C ${baseDir}`], { cwd: REPO_ROOT });
// both trees are timed by the same harness (this tree's bench.py); only the envs differ
execFileSync('cp', [join(REPO_ROOT, 'sim', 'csc_sim', 'bench.py'), join(baseDir, 'sim', 'csc_sim', 'bench.py')]);

interface Sample {
  readonly stepsPerS: number;
  readonly cpuStepsPerS: number;
}

function bench(simDir: string, env: string): Sample {
  const r = spawnSync(simPython(), ['-m', 'csc_sim', 'bench', '--env', env, '--steps', String(STEPS[env] ?? 1000), '--num-envs', '1'], {
    cwd: simDir,
    env: { ...process.env, PYTHONPATH: simDir, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`csc_sim bench --env ${env} in ${simDir} failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const out = JSON.parse(line) as { single: { stepsPerS: number; cpuStepsPerS?: number } };
  // the base commit's bench may predate the CPU-time field: time it with this tree's bench.py
  if (out.single.cpuStepsPerS === undefined) throw new Error(`${simDir}: csc_sim bench reports no cpuStepsPerS`);
  return { stepsPerS: out.single.stepsPerS, cpuStepsPerS: out.single.cpuStepsPerS };
}

const loadavgStart = loadavg()[0];
const samples: Record<string, { before: Sample[]; after: Sample[] }> = {};
try {
  for (let round = 0; round < rounds; round++) {
    for (const env of envs) {
      const s = (samples[env] ??= { before: [], after: [] });
      s.before.push(bench(join(baseDir, 'sim'), env));
      s.after.push(bench(join(REPO_ROOT, 'sim'), env));
      process.stderr.write(`round ${round + 1}/${rounds} ${env}: CPU-time steps/s before ${s.before.at(-1)!.cpuStepsPerS.toFixed(1)} after ${s.after.at(-1)!.cpuStepsPerS.toFixed(1)}\n`);
    }
  }
} finally {
  rmSync(baseDir, { recursive: true, force: true });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const results = envs.map((env) => {
  const s = samples[env]!;
  const before = median(s.before.map((x) => x.cpuStepsPerS));
  const after = median(s.after.map((x) => x.cpuStepsPerS));
  return {
    env,
    steps: STEPS[env],
    beforeStepsPerS: before,
    afterStepsPerS: after,
    speedup: after / before,
    beforeMsPerStep: 1000 / before,
    afterMsPerStep: 1000 / after,
    wallBeforeStepsPerS: median(s.before.map((x) => x.stepsPerS)),
    wallAfterStepsPerS: median(s.after.map((x) => x.stepsPerS)),
    samples: s,
  };
});
const report = {
  bench: 'sim-speed',
  what: 'raw single-env Env.step rate from CPU time (python -m csc_sim bench, --num-envs 1; wall-time rates beside it), median of the rounds; before = csc_sim at baseCommit, after = the working tree, both timed by the working tree\'s bench.py',
  date: new Date().toISOString(),
  baseCommit,
  commit: headCommit,
  workingTreeDirty: dirty,
  rounds,
  host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadavg1mStart: loadavgStart, loadavg1mEnd: loadavg()[0] },
  results,
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
for (const r of results) {
  process.stdout.write(`${r.env}: ${r.beforeStepsPerS.toFixed(1)} -> ${r.afterStepsPerS.toFixed(1)} steps/s (x${r.speedup.toFixed(2)})\n`);
}
