/**
 * The paper's figures without a browser: a vega-lite spec is compiled to vega, rendered headless
 * (`renderer: 'none'`) to an SVG string, and rasterised to PNG by resvg.
 *
 * Every figure has the paper's three panels, all against episodes (the paper's x-axis, 500-step
 * episodes): average reward, average episodic failures, cumulative failures (Figures 3–6).
 *
 * Several runs per group (seeds): each seed's curve is linearly interpolated onto a common grid of
 * episode counts, because seeds cross epoch boundaries at different episode counts (an epoch is a
 * fixed number of env steps, so the episodes it finishes vary). A group's grid spans the range every
 * one of its seeds covers, [max of first totalEpisodes, min of last totalEpisodes], so each point
 * averages all seeds and no seed is extrapolated. The line is the mean over seeds; the band is ±1
 * standard deviation (sample, n−1) by default, or min–max (`band: 'minmax'`); on the two failure
 * panels its lower edge is clipped at 0, since failure counts cannot be negative.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { LayerSpec } from 'vega-lite/types_unstable/spec/layer.d.ts';
import type { UnitSpec } from 'vega-lite/types_unstable/spec/unit.d.ts';
import type { Field } from 'vega-lite/types_unstable/channeldef.d.ts';
import { parse, View } from 'vega';
import { Resvg } from '@resvg/resvg-js';
import type { EpochMetrics } from './metrics.ts';
import { groupName, readRun } from './summary.ts';

/** The three panels, in the paper's order. */
export const PANELS = [
  { field: 'avgReward', title: 'Average reward', axis: 'Average reward' },
  { field: 'avgFailures', title: 'Average episodic failures', axis: 'Failures per episode' },
  { field: 'cumulativeFailures', title: 'Cumulative failures', axis: 'Failures since start' },
] as const satisfies readonly { field: keyof EpochMetrics; title: string; axis: string }[];

/** Metric plotted in one panel. */
export type PanelField = (typeof PANELS)[number]['field'];

/** Spread drawn around a group's mean curve. */
export type BandKind = 'std' | 'minmax';

/** One run's metrics and the group it is drawn in (an algorithm, a χ value, any label). */
export interface PlotRun {
  readonly group: string;
  readonly metrics: readonly EpochMetrics[];
  /** Where it came from, for error messages. */
  readonly source?: string;
}

/** Options shared by the figure builders. */
export interface FigureOptions {
  readonly title?: string;
  /** Draws χ as a dashed rule on the average-failures panel. */
  readonly chi?: number;
  readonly band?: BandKind;
  /** Points of the common episode grid per group (at most the number of epochs of its longest seed). */
  readonly gridPoints?: number;
  /** Legend title, e.g. `Algorithm` or `χ`. */
  readonly groupTitle?: string;
  /** Line under the title; `multiRunSpec` fills it with how the band was computed when unset. */
  readonly subtitle?: string;
}

/** A plot was asked for something it cannot draw (no runs, a run without metrics). */
export class PlotError extends Error {
  override readonly name = 'PlotError';
}

/** One point of a group's curve in one panel. */
export interface CurvePoint {
  readonly panel: PanelField;
  readonly group: string;
  readonly episodes: number;
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  readonly seeds: number;
}

/**
 * Linear interpolation of (xs, ys) at x, xs ascending. Equal xs (epochs that finished no episode)
 * are fine: the later point wins.
 */
export function interpolate(xs: readonly number[], ys: readonly number[], x: number): number {
  const n = xs.length;
  if (n === 0) return NaN;
  if (x <= xs[0]!) return ys[0]!;
  if (x >= xs[n - 1]!) return ys[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const x0 = xs[lo]!;
  const x1 = xs[hi]!;
  const t = x1 === x0 ? 1 : (x - x0) / (x1 - x0);
  return ys[lo]! + t * (ys[hi]! - ys[lo]!);
}

function spread(values: readonly number[], band: BandKind): { mean: number; lo: number; hi: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  switch (band) {
    case 'minmax':
      return { mean, lo: Math.min(...values), hi: Math.max(...values) };
    case 'std': {
      const sd = n < 2 ? 0 : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
      return { mean, lo: mean - sd, hi: mean + sd };
    }
  }
}

/**
 * Whether an epoch has a value to draw in a panel. The per-episode averages of an epoch that
 * finished no episode carry no information (NaN, or 0 from a writer that fills it in), so they
 * are bridged from the neighbouring epochs instead of drawn as a dip.
 */
function hasValue(m: EpochMetrics, field: PanelField): boolean {
  if (!Number.isFinite(m[field])) return false;
  return field === 'cumulativeFailures' || m.episodes > 0;
}

/**
 * Mean and spread of every group on its common episode grid (see the module comment), per panel.
 * A panel's points where a seed has no finite value (NaN reward in an epoch that finished no
 * episode) are interpolated from that seed's finite neighbours.
 */
export function alignRuns(runs: readonly PlotRun[], opts: { band?: BandKind; gridPoints?: number } = {}): CurvePoint[] {
  const band = opts.band ?? 'std';
  const gridPoints = opts.gridPoints ?? 100;
  if (runs.length === 0) throw new PlotError('no runs to plot');
  const groups = new Map<string, PlotRun[]>();
  for (const r of runs) {
    if (r.metrics.length === 0) throw new PlotError(`${r.source ?? `a run of group "${r.group}"`}: no metrics rows to plot`);
    groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  }
  const out: CurvePoint[] = [];
  for (const [group, members] of groups) {
    const first = Math.max(...members.map((r) => r.metrics[0]!.totalEpisodes));
    const last = Math.min(...members.map((r) => r.metrics.at(-1)!.totalEpisodes));
    if (last < first) {
      throw new PlotError(`group "${group}": its seeds' episode ranges do not overlap (latest start ${first}, earliest end ${last})`);
    }
    const longest = Math.max(...members.map((r) => r.metrics.length));
    const n = last === first ? 1 : Math.max(2, Math.min(gridPoints, longest));
    const grid = Array.from({ length: n }, (_, i) => (n === 1 ? first : first + ((last - first) * i) / (n - 1)));
    for (const { field } of PANELS) {
      const series = members.map((r) => {
        const finite = r.metrics.filter((m) => hasValue(m, field));
        return { xs: finite.map((m) => m.totalEpisodes), ys: finite.map((m) => m[field]) };
      });
      for (const x of grid) {
        const values = series.filter((s) => s.xs.length > 0).map((s) => interpolate(s.xs, s.ys, x));
        if (values.length === 0) continue;
        const s = spread(values, band);
        // Failure counts cannot be negative; a ±std band may say otherwise for few seeds.
        const lo = field === 'avgReward' ? s.lo : Math.max(0, s.lo);
        out.push({ panel: field, group, episodes: x, mean: s.mean, lo, hi: s.hi, seeds: values.length });
      }
    }
  }
  return out;
}

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

const BASE_CONFIG = {
  font: FONT,
  view: { stroke: '#ddd' },
  title: { fontSize: 15, anchor: 'start', offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  // A tick label within 10 px of the panel's top or bottom is aligned to stay inside it: one that
  // straddled the top edge would lift that panel's title above its neighbours'.
  axisY: { labelFlush: 10 },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: 'bottom', direction: 'horizontal' },
  header: { labelFontSize: 13 },
} as const;

const PANEL_WIDTH = 300;
const PANEL_HEIGHT = 220;

type Row = Record<string, string | number>;

function panelLayer(
  field: PanelField,
  title: string,
  axisTitle: string,
  rows: Row[],
  chi: number | undefined,
  legend: { title: string | undefined; show: boolean },
): LayerSpec<Field> {
  const color = {
    field: 'group',
    type: 'nominal' as const,
    sort: null,
    legend: legend.show ? { title: legend.title ?? null, symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 } : null,
  };
  const x = { field: 'episodes', type: 'quantitative' as const, title: 'Episodes', scale: { zero: true }, axis: { tickCount: 5, format: '~s' } };
  const layers: (LayerSpec<Field> | UnitSpec<Field>)[] = [
    {
      mark: { type: 'area', opacity: 0.18 },
      encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
    },
    {
      mark: { type: 'line', strokeWidth: 2 },
      // Padding keeps a curve at the top of its panel from poking above the frame, which would also
      // lift that panel's title above its neighbours'; no nicing, so no tick outside the data.
      encoding: { x, y: { field: 'mean', type: 'quantitative', title: axisTitle, scale: { padding: 8, nice: false } }, color },
    },
  ];
  if (chi !== undefined && field === 'avgFailures') {
    layers.push({
      data: { values: [{ chi, label: `χ = ${chi}` }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [5, 4], color: '#555' }, encoding: { y: { field: 'chi', type: 'quantitative' } } },
        {
          mark: { type: 'text', align: 'right', dy: -6, color: '#555', fontSize: 11 },
          encoding: { y: { field: 'chi', type: 'quantitative' }, x: { value: PANEL_WIDTH - 4 }, text: { field: 'label' } },
        },
      ],
    });
  }
  return {
    title,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values: rows.filter((r) => r.panel === field) },
    layer: layers,
  };
}

/**
 * The figure spec for curves already aligned by `alignRuns`: three panels side by side, one colour
 * per group, a shared legend.
 */
export function figureSpec(points: readonly CurvePoint[], opts: FigureOptions = {}): TopLevelSpec {
  const rows: Row[] = points.map((p) => ({ ...p }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title === undefined && opts.subtitle === undefined
      ? {}
      : { title: { text: opts.title ?? '', ...(opts.subtitle === undefined ? {} : { subtitle: opts.subtitle, subtitleFontSize: 12 }) } }),
    background: 'white',
    padding: 12,
    config: BASE_CONFIG,
    hconcat: PANELS.map((p) =>
      panelLayer(p.field, p.title, p.axis, rows, opts.chi, { title: opts.groupTitle, show: new Set(points.map((q) => q.group)).size > 1 }),
    ),
    resolve: { scale: { color: 'shared', x: 'shared' } },
    bounds: 'flush',
    spacing: 80,
  };
  return spec;
}

/** The three-panel figure of one run: its epochs as points, no band, no legend. */
export function singleRunSpec(metrics: readonly EpochMetrics[], opts: FigureOptions & { label?: string } = {}): TopLevelSpec {
  if (metrics.length === 0) throw new PlotError('no metrics rows to plot');
  const group = opts.label ?? 'run';
  // One run needs no alignment: its own epochs are the points.
  const points = PANELS.flatMap(({ field }) =>
    metrics
      .filter((m) => hasValue(m, field))
      .map((m): CurvePoint => ({ panel: field, group, episodes: m.totalEpisodes, mean: m[field], lo: m[field], hi: m[field], seeds: 1 })),
  );
  return figureSpec(points, opts);
}

/** The multi-run figure: one line per group (mean over its seeds) with a spread band. */
export function multiRunSpec(runs: readonly PlotRun[], opts: FigureOptions = {}): TopLevelSpec {
  const points = alignRuns(runs, opts);
  const seeds = Math.max(...points.map((p) => p.seeds));
  const band = (opts.band ?? 'std') === 'std' ? '±1 std' : 'min–max';
  const subtitle = opts.subtitle ?? `line: mean over seeds (up to ${seeds} per group); band: ${band}; seeds interpolated onto a common episode grid`;
  return figureSpec(points, { ...opts, subtitle });
}

/**
 * The filter and critic diagnostics of one run (for learners with a critic): the reliability
 * curve of the critic's predictions (every epoch's bins pooled from `fromEpoch` on: predicted Q_C
 * against the observed discounted failure of the same transitions, the diagonal for reference),
 * predicted and observed failure per epoch, and the share of steps where the filter fell back,
 * with the epochs where ε < 0 marked. Undefined when the run logged no calibration.
 */
export function diagnosticsSpec(metrics: readonly EpochMetrics[], opts: { title?: string; fromEpoch?: number } = {}): TopLevelSpec | undefined {
  const from = opts.fromEpoch ?? Math.min(5, Math.floor(metrics.length / 2));
  const pooled = new Map<number, { lo: number; hi: number; count: number; p: number; o: number }>();
  for (const m of metrics.slice(from)) {
    for (const b of m.calibration ?? []) {
      if (!(b.count > 0)) continue;
      const acc = pooled.get(b.lo) ?? { lo: b.lo, hi: b.hi, count: 0, p: 0, o: 0 };
      acc.count += b.count;
      acc.p += b.predicted * b.count;
      acc.o += b.observed * b.count;
      pooled.set(b.lo, acc);
    }
  }
  if (pooled.size === 0) return undefined;
  const reliability = [...pooled.values()].map((b) => ({ predicted: b.p / b.count, observed: b.o / b.count, count: b.count, bin: `[${b.lo}, ${b.hi})` }));
  const perEpoch = metrics.flatMap((m) => [
    { episodes: m.totalEpisodes, series: 'predicted Q_C', value: m.criticPredictedFailure },
    { episodes: m.totalEpisodes, series: 'observed', value: m.observedFailureRate },
  ]).filter((r) => Number.isFinite(r.value));
  const filter = metrics.filter((m) => Number.isFinite(m.filterExhaustedFraction ?? NaN)).map((m) => ({ episodes: m.totalEpisodes, exhausted: m.filterExhaustedFraction ?? NaN, negative: m.epsilon < 0 ? 1 : 0 }));
  const x = { field: 'episodes', type: 'quantitative' as const, title: 'Episodes', scale: { zero: true }, axis: { tickCount: 5, format: '~s' } };
  const top = Math.max(0.05, ...reliability.flatMap((r) => [r.predicted, r.observed]));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title === undefined ? {} : { title: { text: opts.title, subtitle: `reliability pooled over epochs ≥ ${from}; failure = discounted failures of the same executed transitions`, subtitleFontSize: 12 } }),
    background: 'white',
    padding: 12,
    config: BASE_CONFIG,
    hconcat: [
      {
        title: 'Critic reliability',
        width: PANEL_WIDTH,
        height: PANEL_HEIGHT,
        layer: [
          {
            data: { values: [{ v: 0 }, { v: top }] },
            mark: { type: 'line', strokeDash: [5, 4], color: '#888' },
            encoding: { x: { field: 'v', type: 'quantitative' }, y: { field: 'v', type: 'quantitative' } },
          },
          {
            data: { values: reliability },
            mark: { type: 'line', point: true, strokeWidth: 2 },
            encoding: {
              x: { field: 'predicted', type: 'quantitative', title: 'Predicted Q_C', scale: { type: 'sqrt', domain: [0, top] } },
              y: { field: 'observed', type: 'quantitative', title: 'Observed discounted failure', scale: { type: 'sqrt', domain: [0, top] } },
              tooltip: [{ field: 'bin' }, { field: 'count', type: 'quantitative' }],
            },
          },
        ],
      },
      {
        title: 'Predicted vs observed per epoch',
        width: PANEL_WIDTH,
        height: PANEL_HEIGHT,
        data: { values: perEpoch },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: 'Mean over executed steps' },
          color: { field: 'series', type: 'nominal', legend: { title: null, symbolType: 'stroke' } },
        },
      },
      {
        title: 'Filter fell back (no candidate passed)',
        width: PANEL_WIDTH,
        height: PANEL_HEIGHT,
        data: { values: filter },
        layer: [
          { mark: { type: 'line', strokeWidth: 2, color: '#444' }, encoding: { x, y: { field: 'exhausted', type: 'quantitative', title: 'Share of steps', scale: { domain: [0, 1] } } } },
          { transform: [{ filter: 'datum.negative === 1' }], mark: { type: 'tick', color: '#c33', thickness: 2 }, encoding: { x, y: { value: PANEL_HEIGHT } } },
        ],
      },
    ],
    resolve: { scale: { color: 'independent' } },
    bounds: 'flush',
    spacing: 80,
  };
}

/** Renders a vega-lite spec to an SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG to PNG (white background, `scale`× its pixel size, sans font). */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, sansSerifFamily: 'DejaVu Sans', defaultFontFamily: 'DejaVu Sans' },
  });
  return r.render().asPng();
}

/** Paths of a written figure. */
export interface FigureFiles {
  readonly svg: string;
  readonly png: string;
}

/** Renders `spec` and writes `<prefix>.svg` and `<prefix>.png`. */
export async function writeFigure(prefix: string, spec: TopLevelSpec): Promise<FigureFiles> {
  const svg = await renderSvg(spec);
  const files = { svg: `${prefix}.svg`, png: `${prefix}.png` };
  await writeFile(files.svg, svg);
  await writeFile(files.png, svgToPng(svg));
  return files;
}

/**
 * Writes the single-run figure of run folder `dir` as `<dir>/figure.svg` and `.png`, titled from
 * its config (env, algorithm, seed) with χ drawn on the failures panel. For the training loop to
 * call at the end of a run (and at checkpoints, if it likes).
 */
export async function writeRunFigure(dir: string, opts: { title?: string; prefix?: string } = {}): Promise<FigureFiles> {
  const { info, metrics } = await readRun(dir);
  if (metrics.length === 0) throw new PlotError(`${dir}: no metrics rows to plot`);
  const title = opts.title ?? `${info.env} · ${groupName(info, 'algo')} · seed ${info.seed} · χ = ${info.chi}`;
  const prefix = opts.prefix ?? join(dir, 'figure');
  const diagnostics = diagnosticsSpec(metrics, { title: `${title} · filter and critic` });
  if (diagnostics !== undefined) await writeFigure(`${prefix}-diagnostics`, diagnostics);
  return writeFigure(prefix, singleRunSpec(metrics, { title, chi: info.chi }));
}
