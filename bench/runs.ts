/**
 * Run-folder and figure costs, so the training loop's per-epoch bookkeeping can be weighed against
 * an epoch (seconds): metrics append (two fsynced appends), status write (atomic), checkpoint dir
 * (tiny payload, so the rename/fsync overhead shows), reading metrics back, and figure rendering
 * (SVG and PNG) for the fixture comparison and for long runs. Writes bench/results/runs.json.
 *
 *   node --import tsx bench/runs.ts [--rows 2000] [--repeats 5]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EpochMetrics } from '../src/runs/metrics.ts';
import { multiRunSpec, renderSvg, svgToPng, type PlotRun } from '../src/runs/plot.ts';
import { RunFolder, readMetrics } from '../src/runs/run-folder.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000' },
    repeats: { type: 'string', default: '5' },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'runs.json') },
  },
});
const rows = Number(values.rows);
const repeats = Number(values.repeats);

function row(epoch: number, seed: number): EpochMetrics {
  const p = 1 - Math.exp(-epoch / (rows / 5));
  return {
    epoch,
    episodes: 4,
    totalEpisodes: 4 * (epoch + 1),
    envSteps: 2000,
    totalEnvSteps: 2000 * (epoch + 1),
    avgReward: 20 * p + Math.sin(epoch + seed),
    avgFailures: 0.3 * (1 - p),
    cumulativeFailures: epoch,
    lambda: 0.1,
    epsilon: 5e-4,
    filterAcceptRate: 0.9,
    filterExhaustions: 3,
    kl: 0.009,
    lineSearchTries: 1,
    lineSearchAccepted: true,
    criticLoss: 0.1,
    criticPredictedFailure: 0.01,
    observedFailureRate: 0.001,
    droppedEpisodes: 0,
    wallS: 1,
    stepsPerS: 2000,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const dir = await mkdtemp(join(tmpdir(), 'csc-bench-runs-'));
try {
  const folder = await RunFolder.create(join(dir, 'run'));
  await folder.writeConfig({ env: 'bench', algo: 'csc', seed: 0, chi: 0.05 });
  const appendUs: number[] = [];
  for (let e = 0; e < rows; e++) appendUs.push(1000 * (await timeMs(() => folder.appendMetrics(row(e, 0)))));
  const statusUs: number[] = [];
  for (let i = 0; i < 50; i++) statusUs.push(1000 * (await timeMs(() => folder.writeStatus('running', i))));
  const ckptMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    ckptMs.push(await timeMs(() => folder.writeCheckpointDir(i, (d) => writeFile(join(d, 'w.bin'), new Uint8Array(64 * 1024)), { keepLast: 2 })));
  }
  const readMs: number[] = [];
  for (let i = 0; i < repeats; i++) readMs.push(await timeMs(() => readMetrics(folder.dir)));

  const figures: { name: string; runs: number; epochsPerRun: number; svgMs: number; pngMs: number; pngBytes: number }[] = [];
  for (const [name, nRuns, epochs] of [
    ['6 runs × 30 epochs (fixture-sized comparison)', 6, 30],
    [`3 runs × ${rows} epochs`, 3, rows],
  ] as const) {
    const runs: PlotRun[] = Array.from({ length: nRuns }, (_, i) => ({
      group: i % 2 === 0 ? 'CSC' : 'TRPO',
      metrics: Array.from({ length: epochs }, (_, e) => row(e, i)),
    }));
    const svgMs: number[] = [];
    const pngMs: number[] = [];
    let pngBytes = 0;
    for (let i = 0; i < repeats; i++) {
      let svg = '';
      svgMs.push(await timeMs(async () => (svg = await renderSvg(multiRunSpec(runs, { title: 'bench', chi: 0.05 })))));
      pngMs.push(await timeMs(() => Promise.resolve((pngBytes = svgToPng(svg).length))));
    }
    figures.push({ name, runs: nRuns, epochsPerRun: epochs, svgMs: median(svgMs), pngMs: median(pngMs), pngBytes });
  }

  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = undefined;
  }
  const result = {
    bench: 'runs',
    commit,
    date: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg1m: loadavg()[0], node: process.version },
    settings: { rows, repeats },
    results: {
      appendMetricsUs: { median: median(appendUs), p99: [...appendUs].sort((a, b) => a - b)[Math.floor(appendUs.length * 0.99)] },
      writeStatusUs: { median: median(statusUs) },
      writeCheckpointDir64KiBMs: { median: median(ckptMs) },
      readMetricsMs: { rows, median: median(readMs) },
      figures,
    },
  };
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result.results, null, 2)}\nwrote ${values.out}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
