/**
 * Start-up of the `csc` command: wall time of `csc --help`, `csc --version` and `csc train --help`
 * (each a fresh `node bin/csc.mjs …` process), against `node -e 0` in the same run. The cases run
 * interleaved, round after round, so a busy machine slows them alike; the JSON keeps the median,
 * min and p90 of each and the medians' excess over `node -e 0`.
 *
 *   node --import tsx bench/startup.ts [--rounds 15] [--compare-bin OTHER/bin/csc.mjs]
 *
 * `--compare-bin` adds `--help` through another checkout's bin/csc.mjs (e.g. a worktree of an
 * older commit) as one more case of the same run. Builds dist/ first (`npm run build`) when it is
 * missing. Goal (issue 12): `csc --help` ≤ 0.3 s above `node -e 0`. Writes
 * bench/results/startup.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const GOAL_EXCESS_S = 0.3;
const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'csc.mjs');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    'compare-bin': { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'startup.json') },
  },
});
const rounds = Number(values.rounds);

if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });

/** One case: a command line and the exit code it must end with. */
interface Case {
  readonly label: string;
  readonly argv: readonly string[];
}
const cases: Case[] = [
  { label: 'node -e 0', argv: ['-e', '0'] },
  { label: 'csc --help', argv: [BIN, '--help'] },
  { label: 'csc --version', argv: [BIN, '--version'] },
  { label: 'csc train --help', argv: [BIN, 'train', '--help'] },
];
if (values['compare-bin'] !== undefined) cases.push({ label: `csc --help (${values['compare-bin']})`, argv: [values['compare-bin'], '--help'] });

function runOnce(c: Case): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, c.argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${c.label}: exit ${String(r.status)}, expected 0; stderr: ${r.stderr}`);
  return seconds;
}

const samples = new Map<string, number[]>(cases.map((c) => [c.label, []]));
for (const c of cases) runOnce(c); // warm the file cache
for (let i = 0; i < rounds; i++) for (const c of cases) samples.get(c.label)!.push(runOnce(c));

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
const baselineS = quantile([...samples.get('node -e 0')!].sort((a, b) => a - b), 0.5);
const results = cases.map((c) => {
  const xs = [...samples.get(c.label)!].sort((a, b) => a - b);
  const medianS = quantile(xs, 0.5);
  return { label: c.label, medianS, minS: xs[0]!, p90S: quantile(xs, 0.9), excessOverNodeS: medianS - baselineS };
});
for (const r of results) console.log(`${r.label.padEnd(40)} median ${r.medianS.toFixed(3)} s  min ${r.minS.toFixed(3)} s  p90 ${r.p90S.toFixed(3)} s  +${r.excessOverNodeS.toFixed(3)} s over node -e 0`);
const help = results.find((r) => r.label === 'csc --help')!;

const result = {
  bench: 'startup',
  commit: (() => {
    try {
      return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  })(),
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg(), node: process.version },
  rounds,
  goalExcessS: GOAL_EXCESS_S,
  goalMet: help.excessOverNodeS <= GOAL_EXCESS_S,
  cases: results,
};
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`csc --help: +${help.excessOverNodeS.toFixed(3)} s over node -e 0 (goal ≤ ${GOAL_EXCESS_S} s): ${result.goalMet ? 'met' : 'not met'}; ${values.out}`);
