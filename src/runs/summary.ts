/**
 * What a comparison reports per run and per group (issue 4, "Measure"): cumulative failures during
 * training, final average reward, episodes until average failures < χ, wall-clock and env steps/s;
 * and how run folders are identified and grouped (by algorithm, χ or a free label).
 */
import { basename, join } from 'node:path';
import type { EpochMetrics } from './metrics.ts';
import { RUN_FILES, RunFileFormatError, readConfig, readMetrics } from './run-folder.ts';

/** Identity of a run, from the top level of its `config.json`. */
export interface RunInfo {
  readonly dir: string;
  readonly env: string;
  readonly algo: string;
  readonly seed: number;
  readonly chi: number;
  /** `config.label` when set, else the folder name without its `-s<seed>…` suffix. */
  readonly label: string;
  /** `config.lambdaAdvantage` and `config.policyUpdate` where the run recorded them (the health checks read λ by them). */
  readonly lambdaAdvantage?: string;
  readonly policyUpdate?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads and checks the identity fields of a run folder's `config.json`. */
export async function readRunInfo(dir: string): Promise<RunInfo> {
  const cfg = await readConfig(dir);
  const file = join(dir, RUN_FILES.config);
  if (!isRecord(cfg)) throw new RunFileFormatError(file, undefined, 'expected a JSON object at the top level');
  const get = (k: string): unknown => cfg[k];
  const str = (k: string): string => {
    const v = get(k);
    if (typeof v !== 'string' || v === '') {
      throw new RunFileFormatError(file, undefined, `top-level "${k}": expected a non-empty string, got ${JSON.stringify(v) ?? 'nothing'}`);
    }
    return v;
  };
  const num = (k: string): number => {
    const v = get(k);
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new RunFileFormatError(file, undefined, `top-level "${k}": expected a finite number, got ${JSON.stringify(v) ?? 'nothing'}`);
    }
    return v;
  };
  const label = get('label');
  const optionalString = (k: 'lambdaAdvantage' | 'policyUpdate'): Partial<RunInfo> => {
    const v = get(k);
    return typeof v === 'string' ? { [k]: v } : {};
  };
  return {
    dir,
    env: str('env'),
    algo: str('algo'),
    seed: num('seed'),
    chi: num('chi'),
    label: typeof label === 'string' && label !== '' ? label : basename(dir).replace(/-s\d+(-\d{8}-\d{6})?$/, ''),
    ...optionalString('lambdaAdvantage'),
    ...optionalString('policyUpdate'),
  };
}

/** How runs are grouped into one line / one table row. */
export type GroupBy = 'algo' | 'chi' | 'label';

const ALGO_NAMES: Readonly<Record<string, string>> = {
  csc: 'CSC',
  trpo: 'Base (TRPO)',
  cpo: 'CPO',
  qensemble: 'Q-ensembles',
  sac: 'SAC',
};

/** The group a run falls in, named as the paper's legends name it. */
export function groupName(info: RunInfo, by: GroupBy): string {
  switch (by) {
    case 'algo':
      return ALGO_NAMES[info.algo] ?? info.algo;
    case 'chi':
      return `χ = ${info.chi}`;
    case 'label':
      return info.label;
  }
}

/** Legend title for a grouping. */
export function groupTitle(by: GroupBy): string {
  switch (by) {
    case 'algo':
      return 'Algorithm';
    case 'chi':
      return 'Safety threshold';
    case 'label':
      return 'Run';
  }
}

/** Trailing window (epochs) over which "average failures < χ" is judged, see `episodesUntilBelowChi`. */
export const CHI_WINDOW_EPOCHS = 5;

/**
 * Episodes until average failures fall below χ: `totalEpisodes` at the first epoch where the
 * failure rate over the trailing `CHI_WINDOW_EPOCHS` epochs (their failures / their episodes) is
 * < χ. The window must be full, so one lucky epoch with few episodes and no failure, early in a run,
 * does not count; undefined when it never happens.
 */
export function episodesUntilBelowChi(metrics: readonly EpochMetrics[], chi: number): number | undefined {
  for (let i = CHI_WINDOW_EPOCHS - 1; i < metrics.length; i++) {
    if (failuresPerEpisode(metrics.slice(i - CHI_WINDOW_EPOCHS + 1, i + 1)) < chi) return metrics[i]!.totalEpisodes;
  }
  return undefined;
}

/** Failures per episode over `ms`, weighted by their episodes (NaN without an episode). */
export function failuresPerEpisode(ms: readonly EpochMetrics[]): number {
  const episodes = ms.reduce((a, m) => a + m.episodes, 0);
  return episodes === 0 ? NaN : ms.reduce((a, m) => a + (m.episodes > 0 ? m.avgFailures * m.episodes : 0), 0) / episodes;
}

/** The numbers one run contributes to a comparison. */
export interface RunSummary {
  readonly dir: string;
  readonly group: string;
  readonly seed: number;
  readonly epochs: number;
  readonly totalEpisodes: number;
  readonly cumulativeFailures: number;
  /** Mean avgReward over the last 10% of epochs (at least one), skipping epochs without a finished episode. */
  readonly finalAvgReward: number;
  readonly episodesUntilBelowChi: number | undefined;
  /** Sum of the epochs' wall-clock seconds (training time, without start-up). */
  readonly wallS: number;
  readonly envStepsPerS: number;
  /** Env steps of the run and its failures per 1,000 of them (episode lengths differ between algorithms). */
  readonly totalEnvSteps: number;
  readonly failuresPer1kSteps: number;
  /** Share of the epochs after the first 250 episodes whose average failures are ≤ χ (no late collapse). */
  readonly epochsAtOrBelowChiAfter250: number;
  /** Filter and critic (NaN for learners without them): mean exhausted fraction after epoch 5, share of epochs with ε ≥ 0. */
  readonly exhaustedAfter5: number;
  readonly epsilonNonNegative: number;
  /** Share of epochs with predicted ≥ observed (conservative), and with predicted ≤ 3·observed + 0.02 (informative). */
  readonly calibrationConservative: number;
  readonly calibrationInformative: number;
}

/** Share of `xs` for which `ok` holds, over the elements where `defined` holds (NaN when none). */
function share<T>(xs: readonly T[], defined: (x: T) => boolean, ok: (x: T) => boolean): number {
  const d = xs.filter(defined);
  return d.length === 0 ? NaN : d.filter(ok).length / d.length;
}

/** The filter and calibration goals of one run, from its epochs (NaN where a learner has no filter). */
export function filterAndCriticShares(metrics: readonly EpochMetrics[], chi: number): Pick<RunSummary, 'epochsAtOrBelowChiAfter250' | 'exhaustedAfter5' | 'epsilonNonNegative' | 'calibrationConservative' | 'calibrationInformative'> {
  const after250 = metrics.filter((m) => m.totalEpisodes - m.episodes >= 250 && m.episodes > 0);
  const late = metrics.slice(5).map((m) => m.filterExhaustedFraction ?? NaN).filter(Number.isFinite);
  const cal = (m: EpochMetrics): boolean => Number.isFinite(m.criticPredictedFailure) && Number.isFinite(m.observedFailureRate);
  return {
    epochsAtOrBelowChiAfter250: share(after250, () => true, (m) => m.avgFailures <= chi),
    exhaustedAfter5: late.length === 0 ? NaN : late.reduce((a, b) => a + b, 0) / late.length,
    epsilonNonNegative: share(metrics, (m) => Number.isFinite(m.epsilon), (m) => m.epsilon >= 0),
    calibrationConservative: share(metrics, cal, (m) => m.criticPredictedFailure >= m.observedFailureRate),
    calibrationInformative: share(metrics, cal, (m) => m.criticPredictedFailure <= 3 * m.observedFailureRate + 0.02),
  };
}

/** Summarises one run; `metrics` must hold at least one row. */
export function summarizeRun(info: RunInfo, group: string, metrics: readonly EpochMetrics[]): RunSummary {
  const last = metrics.at(-1);
  if (last === undefined) throw new RangeError(`${info.dir}: no metrics rows to summarise`);
  const tail = metrics.slice(metrics.length - Math.max(1, Math.ceil(metrics.length * 0.1))).filter((m) => Number.isFinite(m.avgReward));
  const wallS = metrics.reduce((a, m) => a + (Number.isFinite(m.wallS) ? m.wallS : 0), 0);
  return {
    dir: info.dir,
    group,
    seed: info.seed,
    epochs: metrics.length,
    totalEpisodes: last.totalEpisodes,
    cumulativeFailures: last.cumulativeFailures,
    finalAvgReward: tail.length === 0 ? NaN : tail.reduce((a, m) => a + m.avgReward, 0) / tail.length,
    episodesUntilBelowChi: episodesUntilBelowChi(metrics, info.chi),
    wallS,
    envStepsPerS: wallS > 0 ? last.totalEnvSteps / wallS : NaN,
    totalEnvSteps: last.totalEnvSteps,
    failuresPer1kSteps: last.totalEnvSteps > 0 ? (1000 * last.cumulativeFailures) / last.totalEnvSteps : NaN,
    ...filterAndCriticShares(metrics, info.chi),
  };
}

/** Mean and sample standard deviation (0 for one value) over seeds. */
export interface MeanStd {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
}

/** Mean ± sample std of the finite values; n counts them. */
export function meanStd(values: readonly number[]): MeanStd {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? 0 : Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { mean, std, n };
}

/** One group's row of the comparison table. */
export interface GroupSummary {
  readonly group: string;
  readonly runs: number;
  readonly cumulativeFailures: MeanStd;
  readonly finalAvgReward: MeanStd;
  /** Over the seeds that got below χ; `reachedChi` says how many did. */
  readonly episodesUntilBelowChi: MeanStd;
  readonly reachedChi: number;
  readonly wallS: MeanStd;
  readonly envStepsPerS: MeanStd;
  readonly failuresPer1kSteps: MeanStd;
  readonly epochsAtOrBelowChiAfter250: MeanStd;
  readonly exhaustedAfter5: MeanStd;
  readonly epsilonNonNegative: MeanStd;
  readonly calibrationConservative: MeanStd;
  readonly calibrationInformative: MeanStd;
}

/** Groups run summaries, in first-seen order. */
export function summarizeGroups(runs: readonly RunSummary[]): GroupSummary[] {
  const groups = new Map<string, RunSummary[]>();
  for (const r of runs) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  return [...groups].map(([group, rs]) => {
    const reached = rs.flatMap((r) => (r.episodesUntilBelowChi === undefined ? [] : [r.episodesUntilBelowChi]));
    return {
      group,
      runs: rs.length,
      cumulativeFailures: meanStd(rs.map((r) => r.cumulativeFailures)),
      finalAvgReward: meanStd(rs.map((r) => r.finalAvgReward)),
      episodesUntilBelowChi: meanStd(reached),
      reachedChi: reached.length,
      wallS: meanStd(rs.map((r) => r.wallS)),
      envStepsPerS: meanStd(rs.map((r) => r.envStepsPerS)),
      failuresPer1kSteps: meanStd(rs.map((r) => r.failuresPer1kSteps)),
      epochsAtOrBelowChiAfter250: meanStd(rs.map((r) => r.epochsAtOrBelowChiAfter250)),
      exhaustedAfter5: meanStd(rs.map((r) => r.exhaustedAfter5)),
      epsilonNonNegative: meanStd(rs.map((r) => r.epsilonNonNegative)),
      calibrationConservative: meanStd(rs.map((r) => r.calibrationConservative)),
      calibrationInformative: meanStd(rs.map((r) => r.calibrationInformative)),
    };
  });
}

function pm(s: MeanStd, digits: number): string {
  if (s.n === 0) return '–';
  return `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
}

/** The comparison as a markdown table (mean ± sample std over seeds). */
export function summaryMarkdown(groups: readonly GroupSummary[], chiNote = 'χ'): string {
  const head = [
    '| group | runs | cumulative failures | final avg reward | episodes until avg failures < ' + chiNote + ' | wall-clock s | env steps/s |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const rows = groups.map(
    (g) =>
      `| ${g.group} | ${g.runs} | ${pm(g.cumulativeFailures, 1)} | ${pm(g.finalAvgReward, 2)} | ${
        g.reachedChi === 0 ? `never (0/${g.runs})` : `${pm(g.episodesUntilBelowChi, 0)} (${g.reachedChi}/${g.runs})`
      } | ${pm(g.wallS, 1)} | ${pm(g.envStepsPerS, 0)} |`,
  );
  const filtered = groups.filter((g) => g.exhaustedAfter5.n > 0 || g.calibrationConservative.n > 0);
  const second =
    filtered.length === 0
      ? []
      : [
          '',
          '| group | failures per 1k steps | epochs ≤ ' + chiNote + ' after 250 episodes | exhausted steps after epoch 5 | epochs with ε ≥ 0 | predicted ≥ observed | predicted ≤ 3·observed + 0.02 |',
          '|---|---:|---:|---:|---:|---:|---:|',
          ...filtered.map(
            (g) =>
              `| ${g.group} | ${pm(g.failuresPer1kSteps, 2)} | ${pct(g.epochsAtOrBelowChiAfter250)} | ${pct(g.exhaustedAfter5)} | ${pct(g.epsilonNonNegative)} | ${pct(g.calibrationConservative)} | ${pct(g.calibrationInformative)} |`,
          ),
        ];
  return `${[...head, ...rows, ...second].join('\n')}\n`;
}

function pct(s: MeanStd): string {
  if (s.n === 0) return '–';
  return `${(100 * s.mean).toFixed(0)}% ± ${(100 * s.std).toFixed(0)}`;
}

/** Reads a run folder's identity and metrics together. */
export async function readRun(dir: string): Promise<{ info: RunInfo; metrics: EpochMetrics[] }> {
  return { info: await readRunInfo(dir), metrics: await readMetrics(dir) };
}
