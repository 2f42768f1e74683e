/**
 * `csc plot RUN_DIR...`: the paper's figures from run folders. One run gives its three-panel
 * figure; several give one line per group (mean over seeds, with a band), as in Figures 3–6.
 */
import { parseArgs } from 'node:util';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PlotError, diagnosticsSpec, multiRunSpec, singleRunSpec, writeFigure, type BandKind, type PlotRun } from '../runs/plot.ts';
import { RUN_FILES, RunFileFormatError, RunFolderError } from '../runs/run-folder.ts';
import { groupName, groupTitle, readRun, type GroupBy, type RunInfo } from '../runs/summary.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import { UsageError } from './args.ts';

export const PLOT_USAGE = `Usage: csc plot RUN_DIR... [options]

Draws average reward, average episodic failures and cumulative failures against episodes.
A RUN_DIR is a run folder (it holds config.json) or a folder of run folders (e.g. a csc compare --out).
One run: its own curves. Several: one line per group, the mean over its seeds, with a band.

Options:
  --group-by algo|chi|label  what a line stands for (default: algo if the runs differ in algorithm,
                             else chi if they differ in χ, else label = folder name without -s<seed>)
  --band std|minmax          spread drawn around the mean: ±1 sample std (default) or min–max
  --out FILE_PREFIX          writes FILE_PREFIX.svg and FILE_PREFIX.png (default: <run>/figure for
                             one run, <common parent>/figure for several)
  --title TEXT               figure title (default: env and χ / the run's identity)
  -h, --help                 this text
`;

const GROUP_BYS: readonly GroupBy[] = ['algo', 'chi', 'label'];
const BANDS: readonly BandKind[] = ['std', 'minmax'];

async function isRunFolder(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, RUN_FILES.config))).isFile();
  } catch {
    return false;
  }
}

/** Expands each argument to the run folders it names (itself, or its run-folder children). */
export async function expandRunDirs(args: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    if (await isRunFolder(a)) {
      out.push(a);
      continue;
    }
    let names: string[];
    try {
      names = (await readdir(a)).sort();
    } catch {
      throw new UsageError(`${a}: no such folder`);
    }
    const children: string[] = [];
    for (const n of names) if (await isRunFolder(join(a, n))) children.push(join(a, n));
    if (children.length === 0) throw new UsageError(`${a}: not a run folder (no ${RUN_FILES.config}) and holds no run folders`);
    out.push(...children);
  }
  return out;
}

function commonParent(dirs: readonly string[]): string {
  const parts = dirs.map((d) => resolve(dirname(resolve(d))).split('/'));
  const first = parts[0] ?? [];
  let n = first.length;
  for (const p of parts) {
    let i = 0;
    while (i < n && p[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join('/') || '/';
}

function pickOne<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  const hit = allowed.find((a) => a === value);
  if (hit === undefined) throw new UsageError(`${flag}: expected one of ${allowed.join(', ')}, got "${value}"`);
  return hit;
}

/** Default grouping: by algorithm if they differ, else by χ if they differ, else by label. */
export function defaultGroupBy(infos: readonly RunInfo[]): GroupBy {
  if (new Set(infos.map((i) => i.algo)).size > 1) return 'algo';
  if (new Set(infos.map((i) => i.chi)).size > 1) return 'chi';
  return 'label';
}

/** Options of `plotRuns`. */
export interface PlotRunsOptions {
  readonly groupBy?: GroupBy;
  readonly band?: BandKind;
  readonly outPrefix?: string;
  readonly title?: string;
}

/** Plots run folders (already expanded); returns the written files. Used by `csc compare` too. */
export async function plotRuns(dirs: readonly string[], opts: PlotRunsOptions = {}): Promise<{ svg: string; png: string }> {
  const runs: { info: RunInfo; metrics: EpochMetrics[] }[] = [];
  for (const d of dirs) runs.push(await readRun(d));
  for (const r of runs) if (r.metrics.length === 0) throw new PlotError(`${r.info.dir}: no metrics rows yet; nothing to plot`);
  const chis = [...new Set(runs.map((r) => r.info.chi))];
  const envs = [...new Set(runs.map((r) => r.info.env))].join(', ');
  const only = runs.length === 1 ? runs[0] : undefined;
  if (only !== undefined && opts.groupBy === undefined) {
    const { info, metrics } = only;
    const title = opts.title ?? `${info.env} · ${groupName(info, 'algo')} · seed ${info.seed} · χ = ${info.chi}`;
    const prefix = opts.outPrefix ?? join(info.dir, 'figure');
    // Learners with a critic also get the filter and critic diagnostics beside the figure.
    const diagnostics = diagnosticsSpec(metrics, { title: `${title} · filter and critic` });
    if (diagnostics !== undefined) await writeFigure(`${prefix}-diagnostics`, diagnostics);
    return writeFigure(prefix, singleRunSpec(metrics, { title, chi: info.chi }));
  }
  const by = opts.groupBy ?? defaultGroupBy(runs.map((r) => r.info));
  const plotRunsIn: PlotRun[] = runs.map((r) => ({ group: groupName(r.info, by), metrics: r.metrics, source: r.info.dir }));
  const chi = chis.length === 1 ? chis[0] : undefined;
  const algos = [...new Set(runs.map((r) => groupName(r.info, 'algo')))];
  const title = opts.title ?? [envs, ...(algos.length === 1 ? algos : []), ...(chi === undefined ? [] : [`χ = ${chi}`])].join(' · ');
  const spec = multiRunSpec(plotRunsIn, {
    title,
    groupTitle: groupTitle(by),
    ...(chi === undefined ? {} : { chi }),
    ...(opts.band === undefined ? {} : { band: opts.band }),
  });
  return writeFigure(opts.outPrefix ?? join(commonParent(dirs), 'figure'), spec);
}

/** Where a command writes; the process's streams unless a caller (a test) passes others. */
export interface CommandIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

export const PROCESS_IO: CommandIo = { stdout: process.stdout, stderr: process.stderr };

/** Entry of `csc plot`; returns the exit status (0 ok, 1 failed, 2 usage). */
export async function plotCommand(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'group-by': { type: 'string' },
        band: { type: 'string' },
        out: { type: 'string' },
        title: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) {
      io.stdout.write(PLOT_USAGE);
      return 0;
    }
    if (positionals.length === 0) throw new UsageError('no RUN_DIR given');
    const groupBy = pickOne(values['group-by'], GROUP_BYS, '--group-by');
    const band = pickOne(values.band, BANDS, '--band');
    const dirs = await expandRunDirs(positionals);
    const files = await plotRuns(dirs, {
      ...(groupBy === undefined ? {} : { groupBy }),
      ...(band === undefined ? {} : { band }),
      ...(values.out === undefined ? {} : { outPrefix: values.out }),
      ...(values.title === undefined ? {} : { title: values.title }),
    });
    io.stdout.write(`wrote ${files.svg}\nwrote ${files.png}\n`);
    return 0;
  } catch (err) {
    return reportCliError('plot', err, PLOT_USAGE, io);
  }
}

/**
 * Prints a command's error the way users should see it: usage errors with a pointer to --help
 * (status 2), known file/run errors as one line (status 1); anything else is a bug and rethrown.
 */
export function reportCliError(command: string, err: unknown, usage: string, io: CommandIo = PROCESS_IO): number {
  if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
    io.stderr.write(`csc ${command}: ${err.message}\n\n${usage}`);
    return 2;
  }
  if (err instanceof RunFolderError || err instanceof RunFileFormatError || err instanceof PlotError) {
    io.stderr.write(`csc ${command}: ${err.message}\n`);
    return 1;
  }
  throw err;
}
