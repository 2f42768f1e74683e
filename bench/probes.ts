/**
 * Summary of single-run probes (docs/results.md, "Why CSC does not learn the push"): for each run
 * folder, the config fields that differ from the default (and those a `--resume` changed, with the
 * epoch from which), cumulative failures, final average
 * reward (as `csc compare` reports it: the mean over the last 10 % of epochs), the best 3-epoch
 * average reward, how often the filter accepted π's first sample after epoch 5, and λ at
 * the end. Reads finished run folders only (it trains nothing); writes JSON and prints a
 * markdown table.
 *
 *   node --import tsx bench/probes.ts --name NAME [--at-steps N] RUN_DIR...   → bench/results/probes-NAME.json
 *
 * `--at-steps N` adds the same failures and final reward as they stood after N env steps, so runs
 * continued past a comparison's budget can be read at that budget too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG } from '../src/algos/config.ts';
import { readConfig, readMetrics } from '../src/runs/run-folder.ts';
import { readRunInfo, summarizeRun } from '../src/runs/summary.ts';

const { values, positionals } = parseArgs({ options: { name: { type: 'string' }, 'at-steps': { type: 'string' } }, allowPositionals: true });
const atSteps = values['at-steps'] === undefined ? undefined : Number(values['at-steps']);
if (atSteps !== undefined && !(atSteps > 0)) throw new Error(`--at-steps ${values['at-steps']}: expected a positive number of env steps`);
if (values.name === undefined || positionals.length === 0) {
  console.error('usage: node --import tsx bench/probes.ts --name NAME RUN_DIR...');
  process.exit(2);
}

/** Fields that make a run what it is, left out of the "changes" column. */
const IDENTITY = new Set(['env', 'seed', 'epochs', 'numEnvs', 'stepsPerEpoch', 'algo']);

const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

const rows = [];
for (const dir of positionals) {
  const config = (await readConfig(dir)) as Record<string, unknown>;
  const m = await readMetrics(dir);
  if (m.length === 0) throw new Error(`${dir}: metrics.jsonl has no rows`);
  // What the run started with (config.json holds the config after its last `--resume`), then what
  // each resume changed, as `KEY from epoch N`.
  const resumes = Array.isArray(config.resumes) ? (config.resumes as { atEpoch: number; changed: Record<string, { from: unknown; to: unknown }> }[]) : [];
  const started: Record<string, unknown> = { ...config };
  for (const r of [...resumes].reverse()) for (const [k, c] of Object.entries(r.changed)) started[k] = c.from;
  const changes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(started)) {
    if (IDENTITY.has(k) || !(k in DEFAULT_CONFIG)) continue;
    if (JSON.stringify(v) !== JSON.stringify((DEFAULT_CONFIG as unknown as Record<string, unknown>)[k])) changes[k] = v;
  }
  for (const r of resumes) for (const [k, c] of Object.entries(r.changed)) if (!IDENTITY.has(k)) changes[`${k} from epoch ${r.atEpoch}`] = c.to;
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 2; i < m.length; i++) best = Math.max(best, mean([m[i - 2]!.avgReward, m[i - 1]!.avgReward, m[i]!.avgReward]));
  const last = m[m.length - 1]!;
  const info = await readRunInfo(dir);
  const summary = summarizeRun(info, '', m);
  const upTo = atSteps === undefined ? [] : m.filter((r) => r.totalEnvSteps <= atSteps);
  const at = upTo.length === 0 ? undefined : summarizeRun(info, '', upTo);
  rows.push({
    run: basename(dir),
    dir,
    env: config.env,
    seed: config.seed,
    algo: config.algo,
    epochs: m.length,
    envSteps: last.totalEnvSteps,
    changes,
    cumulativeFailures: last.cumulativeFailures,
    finalAvgReward: round(summary.finalAvgReward),
    best3EpochReward: round(best),
    firstAcceptAfterEpoch5: round(mean(m.slice(6).map((r) => r.filterFirstAcceptRate ?? Number.NaN))),
    lambdaEnd: round(last.lambda, 3),
    ...(at === undefined ? {} : { atSteps: { envSteps: at.totalEnvSteps, cumulativeFailures: at.cumulativeFailures, finalAvgReward: round(at.finalAvgReward) } }),
  });
}

mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
const out = join(import.meta.dirname, 'results', `probes-${values.name}.json`);
writeFileSync(out, `${JSON.stringify({ bench: 'probes', date: new Date().toISOString(), runs: rows }, null, 2)}\n`);
const atHead = atSteps === undefined ? '' : ` failures at ${atSteps} steps | reward at ${atSteps} steps |`;
console.log(`| run | changes from the default | seed | env steps | cumulative failures | final avg reward | best 3-epoch reward | π's first sample accepted (after epoch 5) | λ at the end |${atHead}`);
console.log(`|---|---|---:|---:|---:|---:|---:|---:|---:|${atSteps === undefined ? '' : '---:|---:|'}`);
for (const r of rows) {
  const ch = Object.entries(r.changes).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') || '–';
  const csc = (x: number): string => (r.algo === 'csc' && Number.isFinite(x) ? String(x) : '–');
  const atCols = atSteps === undefined ? '' : r.atSteps === undefined ? ' – | – |' : ` ${r.atSteps.cumulativeFailures} | ${r.atSteps.finalAvgReward} |`;
  console.log(`| \`${r.run}\` | ${ch} | ${String(r.seed)} | ${r.envSteps} | ${r.cumulativeFailures} | ${r.finalAvgReward} | ${r.best3EpochReward} | ${csc(r.firstAcceptAfterEpoch5)} | ${csc(r.lambdaEnd)} |${atCols}`);
}
console.log(`wrote ${out}`);
