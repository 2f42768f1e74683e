import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EpochMetrics } from './metrics.ts';
import { epochRow } from '../../test/fixtures/epoch-metrics.ts';
import { PANELS, PlotError, alignRuns, interpolate, multiRunSpec, renderSvg, singleRunSpec, writeFigure, type PlotRun } from './plot.ts';
import { readMetrics } from './run-folder.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'runs');

function m(epoch: number, totalEpisodes: number, avgReward: number): EpochMetrics {
  return epochRow(epoch, { episodes: 1, totalEpisodes, envSteps: 1, totalEnvSteps: epoch + 1, avgReward, stepsPerS: 1 });
}

/** PNG signature, then IHDR width and height (big-endian u32 at bytes 16 and 20). */
function pngSize(png: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

function lineMarksInPanel(svg: string, panel: number): number {
  return svg.split(`class="mark-line role-mark concat_${panel}_layer_1_marks"`).length - 1;
}

async function fixtureRuns(): Promise<PlotRun[]> {
  const runs: PlotRun[] = [];
  for (const algo of ['csc', 'trpo']) {
    for (const seed of [0, 1, 2]) {
      const dir = join(FIXTURES, `${algo}-chi0.05-s${seed}`);
      runs.push({ group: algo.toUpperCase(), metrics: await readMetrics(dir), source: dir });
    }
  }
  return runs;
}

test('linear interpolation against hand-worked values, clamped at the ends', () => {
  const xs = [0, 10, 20, 20, 30];
  const ys = [0, 1, 3, 5, 6];
  const table: [number, number][] = [
    [-5, 0],
    [0, 0],
    [5, 0.5],
    [15, 2],
    [20, 5], // an epoch that finished no episode repeats x; the later point wins
    [25, 5.5],
    [99, 6],
  ];
  for (const [x, want] of table) assert.equal(interpolate(xs, ys, x), want, `x=${x}`);
});

test('seeds with different epoch boundaries are aligned on the episode range they all cover', () => {
  const runs: PlotRun[] = [
    { group: 'A', metrics: [m(0, 2, 1), m(1, 4, 2), m(2, 6, 3)] },
    { group: 'A', metrics: [m(0, 3, 0), m(1, 6, 6)] },
  ];
  // Grid: [max(2,3), min(6,6)] = [3, 6] with min(100, 3 epochs) = 3 points → 3, 4.5, 6.
  // Seed 1 there: 1.5, 2.25, 3; seed 2: 0, 3, 6.
  const std = alignRuns(runs).filter((p) => p.panel === 'avgReward');
  assert.deepEqual(
    std.map((p) => p.episodes),
    [3, 4.5, 6],
  );
  assert.deepEqual(
    std.map((p) => p.mean),
    [0.75, 2.625, 4.5],
  );
  // Sample std of {1.5, 0} = 1.5/√2.
  assert.ok(Math.abs(std[0]!.hi - (0.75 + 1.5 / Math.SQRT2)) < 1e-12);
  assert.ok(Math.abs(std[0]!.lo - (0.75 - 1.5 / Math.SQRT2)) < 1e-12);
  const mm = alignRuns(runs, { band: 'minmax' }).filter((p) => p.panel === 'avgReward');
  assert.deepEqual(
    mm.map((p) => [p.lo, p.hi]),
    [
      [0, 1.5],
      [2.25, 3],
      [3, 6],
    ],
  );
  assert.ok(std.every((p) => p.seeds === 2));
});

test('the band of a failure panel is clipped at 0, the reward band is not', () => {
  const a = [m(0, 1, -1), m(1, 2, -1)].map((x) => ({ ...x, avgFailures: 0 }));
  const b = [m(0, 1, 1), m(1, 2, 1)].map((x) => ({ ...x, avgFailures: 0.2 }));
  const pts = alignRuns([
    { group: 'A', metrics: a },
    { group: 'A', metrics: b },
  ]);
  const fail = pts.find((p) => p.panel === 'avgFailures');
  const reward = pts.find((p) => p.panel === 'avgReward');
  assert.ok(fail !== undefined && reward !== undefined);
  assert.equal(fail.lo, 0); // 0.1 − 0.1414… would be negative
  assert.ok(Math.abs(fail.hi - (0.1 + 0.2 / Math.SQRT2)) < 1e-12);
  assert.ok(Math.abs(reward.lo + Math.SQRT2) < 1e-12); // 0 − √2
});

test('epochs without a finished episode (NaN reward, or 0 failures of 0 episodes) are bridged, not averaged in', () => {
  const empty = { ...m(1, 1, NaN), episodes: 0, avgFailures: 0 };
  const pts = alignRuns([{ group: 'A', metrics: [{ ...m(0, 1, 2), avgFailures: 0.5 }, empty, { ...m(2, 3, 4), avgFailures: 0.25 }] }], { gridPoints: 3 });
  assert.deepEqual(
    pts.filter((p) => p.panel === 'avgReward').map((p) => p.mean),
    [2, 3, 4],
  );
  assert.deepEqual(
    pts.filter((p) => p.panel === 'avgFailures').map((p) => p.mean),
    [0.5, 0.375, 0.25],
  );
});

test('bad plot input fails with a message that says which run and why', () => {
  assert.throws(() => alignRuns([]), PlotError);
  assert.throws(() => alignRuns([{ group: 'csc', metrics: [], source: 'runs/x' }]), /runs\/x: no metrics rows to plot/);
  assert.throws(
    () =>
      alignRuns([
        { group: 'csc', metrics: [m(0, 1, 0), m(1, 2, 0)] },
        { group: 'csc', metrics: [m(0, 5, 0), m(1, 9, 0)] },
      ]),
    /group "csc": its seeds' episode ranges do not overlap \(latest start 5, earliest end 2\)/,
  );
});

test('multi-run figure from fixture run folders: three titled panels, one line per group, a real PNG', async () => {
  const runs = await fixtureRuns();
  const dir = await mkdtemp(join(tmpdir(), 'csc-plot-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const prefix = join(dir, 'fig');
  const files = await writeFigure(prefix, multiRunSpec(runs, { title: 'point-nav', chi: 0.05, groupTitle: 'Algorithm' }));
  const svg = await readFile(files.svg, 'utf8');
  for (const p of PANELS) assert.ok(svg.includes(`>${p.title}</text>`), `panel title "${p.title}"`);
  for (let i = 0; i < PANELS.length; i++) assert.equal(lineMarksInPanel(svg, i), 2, `panel ${i}: one line per group`);
  assert.ok(svg.includes('>CSC</text>') && svg.includes('>TRPO</text>'), 'legend entries');
  assert.ok(svg.includes('>Episodes</text>'), 'x-axis title');
  assert.ok(svg.includes('χ = 0.05'), 'χ rule label');
  const png = new Uint8Array(await readFile(files.png));
  const { width, height } = pngSize(png);
  assert.ok(width > 1500 && width < 4000 && height > 500 && height < 2000, `PNG ${width}×${height}`);
  assert.ok(png.length > 20_000, `PNG of ${png.length} bytes is too small to hold three plotted panels`);
});

test('single-run figure has the three panels, one line each, and no legend', async () => {
  const [first] = await fixtureRuns();
  const svg = await renderSvg(singleRunSpec(first!.metrics, { title: 'csc s0' }));
  for (const p of PANELS) assert.ok(svg.includes(`>${p.title}</text>`), p.title);
  for (let i = 0; i < PANELS.length; i++) assert.equal(lineMarksInPanel(svg, i), 1);
  assert.ok(!svg.includes('role-legend'), 'no legend for a single run');
});

test('panel titles line up even when a tick label sits at the top edge of one panel', async () => {
  // Failures peak at 0.97: the 1.0 tick lands a few pixels under the panel's top.
  const rows = [0.25, 0.97, 0.8].map((f, e) => ({ ...m(e, 10 * (e + 1), [-3, 5, 14.5][e]!), avgFailures: f, cumulativeFailures: e + 1 }));
  const svg = await renderSvg(singleRunSpec(rows, { title: 'alignment' }));
  const ys = [...svg.matchAll(/class="mark-group role-title"><g transform="translate\([-\d.]+,([-\d.]+)\)"/g)].map((x) => Number(x[1]));
  assert.equal(ys.length, 4, 'three panel titles and the figure title');
  assert.deepEqual(ys.slice(0, 3), [ys[0], ys[0], ys[0]], `panel title offsets ${ys.slice(0, 3).join(', ')}`);
});
