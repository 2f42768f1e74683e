/**
 * Learning benchmark (issues 2 and 4, "Measure"): algorithms × seeds on one env with the same
 * step budget, through `csc compare` (each run its own `csc train` process and run folder), then
 * the comparison's summary is saved to bench/results/learning-<env>[-<tag>].json with the figure
 * copied to docs/figures/ for docs/results.md.
 *
 *   node --import tsx bench/learning.ts [--env point-nav] [--algos csc,trpo] [--seeds 3] [--chis 0.05]
 *                                       [--epochs 16] [--tag NAME] [--out DIR] [-- extra train flags]
 *
 * `--out` names the comparison folder (default runs/bench-<name>); pointing it at an existing
 * `csc compare` folder re-uses its finished runs (compare skips them) and only re-summarises.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const dashdash = process.argv.indexOf('--');
const own = dashdash < 0 ? process.argv.slice(2) : process.argv.slice(2, dashdash);
const extra = dashdash < 0 ? [] : process.argv.slice(dashdash + 1);
const { values } = parseArgs({
  args: own,
  options: {
    env: { type: 'string', default: 'point-nav' },
    algos: { type: 'string', default: 'csc,trpo' },
    seeds: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '16' },
    tag: { type: 'string', default: '' },
    chis: { type: 'string', default: '0.05' },
    parallel: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const name = `learning-${values.env.replace(/[^a-zA-Z0-9_-]/g, '_')}${values.tag === '' ? '' : `-${values.tag}`}`;
const out = values.out ?? join('runs', `bench-${name}`);
const args = ['bin/csc.mjs', 'compare', '--env', values.env, '--algos', values.algos, '--seeds', values.seeds, '--epochs', values.epochs, '--chis', values.chis, '--parallel', values.parallel, '--out', out];
if (extra.length > 0) args.push('--', ...extra);
const started = Date.now();
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
const summary: unknown = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
const commit = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
mkdirSync('bench/results', { recursive: true });
mkdirSync('docs/figures', { recursive: true });
writeFileSync(
  join('bench/results', `${name}.json`),
  `${JSON.stringify({ bench: 'learning', commit, date: new Date().toISOString(), wallS: (Date.now() - started) / 1000, command: ['csc', ...args.slice(1)].join(' '), summary }, null, 2)}\n`,
);
// The comparison draws `figure.png` for one χ, else one figure per algorithm (`figure-ALGO.png`,
// grouped by χ) and per χ with several algorithms (`figure-chiX.png`): each is copied, its suffix kept.
const figures = readdirSync(out).filter((f) => /^figure(-[^.]+)?\.png$/.test(f));
if (figures.length === 0) throw new Error(`${out}: the comparison wrote no figure*.png`);
for (const f of figures) {
  const target = join('docs/figures', `${name}${f.slice('figure'.length)}`);
  copyFileSync(join(out, f), target);
  console.log(`wrote ${target}`);
}
console.log(`wrote bench/results/${name}.json`);
