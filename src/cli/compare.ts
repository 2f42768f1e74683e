/**
 * `csc compare`: algorithms × χ values × seeds on one env, each a `csc train` child process in its
 * own run folder, one after another or P at a time; then a summary table and the paper's figures.
 *
 * Resumable: run the same command again (same --out) and finished runs (`status.json` says done)
 * are skipped, runs that stopped part-way are continued with `--resume`, and missing ones start.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../core/atomic.ts';
import { RUN_FILES, RunFileFormatError, RunFolderError, readMetrics, readStatus, type RunState } from '../runs/run-folder.ts';
import { PlotError, type FigureFiles } from '../runs/plot.ts';
import { healthWarnings, runHealth, type RunHealth } from '../runs/health.ts';
import { CHI_WINDOW_EPOCHS, readRunInfo, summarizeGroups, summarizeRun, summaryMarkdown, groupName, type GroupSummary, type RunSummary } from '../runs/summary.ts';
import { UsageError } from './args.ts';
import { PROCESS_IO, plotRuns, reportCliError, type CommandIo, type PlotRunsOptions } from './plot.ts';

export const COMPARE_USAGE = `Usage: csc compare --env ENV --algos A,B,... [options] [-- extra train flags]

Trains every algorithm × χ × seed as its own \`csc train\` process and run folder
(OUT/<algo>-chi<χ>-s<seed>), then writes OUT/summary.md, OUT/summary.json and figures.
Run it again with the same --out to continue: finished runs are skipped (whatever --epochs
says now), interrupted or failed ones are resumed with --resume. Each run's output goes to
its train.log.

Options:
  --env ENV            environment id (e.g. point-nav)
  --algos LIST         comma-separated algorithms (e.g. csc,trpo,cpo,qensemble)
  --seeds N|LIST       N seeds 0…N−1 (default 3), or an explicit list like 0,4,7
  --chis LIST          comma-separated safety thresholds χ (default 0.05)
  --epochs N           passed to train as --epochs
  --parallel P         training processes at a time (default 1)
  --out DIR            comparison folder (default runs/compare-<env>-<time>)
  --no-plot            skip the figures
  -h, --help           this text
Anything after -- is passed to every train process unchanged.
`;

/** One cell of the comparison grid. */
export interface CompareJob {
  readonly algo: string;
  readonly seed: number;
  readonly chi: number;
  readonly dir: string;
}

/** How a launched job ended. */
export interface JobOutcome {
  readonly job: CompareJob;
  readonly resumed: boolean;
  /** Exit status, or the signal that killed the child. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** `status.json` after the child exited (undefined when it never wrote one). */
  readonly state: RunState | undefined;
  /** Seconds from launch to exit, start-up included. */
  readonly processWallS: number;
  readonly pid: number | undefined;
}

/** Progress of a comparison, for the command's output and for tests. */
export type CompareEvent =
  | { readonly kind: 'skip'; readonly job: CompareJob }
  | {
      readonly kind: 'start';
      readonly job: CompareJob;
      readonly resume: boolean;
      readonly argv: readonly string[];
      /** Process id of the child (undefined when it could not be spawned). */
      readonly pid: number | undefined;
    }
  | { readonly kind: 'finish'; readonly outcome: JobOutcome };

/** Options of `runCompare`. */
export interface CompareOptions {
  readonly env: string;
  readonly algos: readonly string[];
  readonly seeds: readonly number[];
  readonly chis: readonly number[];
  readonly epochs?: number;
  readonly parallel?: number;
  readonly outDir: string;
  /** Flags appended to every train command. */
  readonly extraArgs?: readonly string[];
  /** The train command before its flags; `csc train` of this checkout by default. */
  readonly trainCommand?: readonly string[];
  readonly plot?: boolean;
  readonly onEvent?: (e: CompareEvent) => void;
  /** Aborting stops launching new jobs; running ones finish (Ctrl-C reaches them through the terminal). */
  readonly signal?: AbortSignal;
}

/** What a comparison did and found. */
export interface CompareResult {
  readonly jobs: readonly CompareJob[];
  readonly skipped: readonly CompareJob[];
  readonly outcomes: readonly JobOutcome[];
  /** Jobs still unfinished at the end (failed, interrupted, or never launched after an abort). */
  readonly unfinished: readonly CompareJob[];
  readonly runs: readonly RunSummary[];
  readonly groups: readonly GroupSummary[];
  readonly figures: readonly FigureFiles[];
  /** Figures that could not be drawn (the summary is written regardless): what and why. */
  readonly figureErrors: readonly string[];
  readonly summaryFiles: { readonly json: string; readonly md: string };
  /** Each summarised run's health findings (health.ts), judged from its metrics as they stand. */
  readonly health: readonly RunHealth[];
}

/** `node bin/csc.mjs train` of this checkout, independent of the working directory. */
export const DEFAULT_TRAIN_COMMAND: readonly string[] = [
  process.execPath,
  fileURLToPath(new URL('../../bin/csc.mjs', import.meta.url)),
  'train',
];

/** Folder name of one job. */
export function jobDirName(algo: string, chi: number, seed: number): string {
  return `${algo}-chi${chi}-s${seed}`;
}

/** The grid in launch order: χ, then seed, then algorithm, so early results already compare algorithms. */
export function compareJobs(opts: Pick<CompareOptions, 'algos' | 'seeds' | 'chis' | 'outDir'>): CompareJob[] {
  const jobs: CompareJob[] = [];
  for (const chi of opts.chis) {
    for (const seed of opts.seeds) {
      for (const algo of opts.algos) jobs.push({ algo, seed, chi, dir: join(opts.outDir, jobDirName(algo, chi, seed)) });
    }
  }
  return jobs;
}

async function hasConfig(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, RUN_FILES.config))).isFile();
  } catch {
    return false;
  }
}

/** Appends to `<dir>/train.log`; the child's stdout and stderr both go there. */
async function launch(
  job: CompareJob,
  argv: readonly string[],
  resume: boolean,
  onSpawn: (pid: number | undefined) => void,
): Promise<JobOutcome> {
  await mkdir(job.dir, { recursive: true });
  const log = createWriteStream(join(job.dir, 'train.log'), { flags: 'a' });
  await new Promise<void>((res, rej) => {
    log.once('open', () => {
      res();
    });
    log.once('error', rej);
  });
  log.write(`\n# ${new Date().toISOString()} ${argv.join(' ')}\n`);
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new TypeError('runCompare: trainCommand is empty');
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  onSpawn(child.pid);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('error', (err) => {
      log.write(`# could not start: ${err.message}\n`);
      res({ code: null, signal: null });
    });
    child.once('close', (c, s) => {
      res({ code: c, signal: s });
    });
  });
  await new Promise<void>((res) => log.end(res));
  const status = await readStatus(job.dir).catch(() => undefined);
  return { job, resumed: resume, exitCode: code, signal, state: status?.state, processWallS: (performance.now() - t0) / 1000, pid: child.pid };
}

/** Runs (or continues) a comparison; see the module comment. */
export async function runCompare(opts: CompareOptions): Promise<CompareResult> {
  const parallel = opts.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1) throw new RangeError(`runCompare: parallel must be an integer ≥ 1, got ${parallel}`);
  const trainCommand = opts.trainCommand ?? DEFAULT_TRAIN_COMMAND;
  await mkdir(opts.outDir, { recursive: true });
  const jobs = compareJobs(opts);
  const skipped: CompareJob[] = [];
  const todo: { job: CompareJob; resume: boolean }[] = [];
  for (const job of jobs) {
    const status = await readStatus(job.dir);
    if (status?.state === 'done') {
      skipped.push(job);
      opts.onEvent?.({ kind: 'skip', job });
    } else {
      todo.push({ job, resume: await hasConfig(job.dir) });
    }
  }

  const outcomes: JobOutcome[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length && opts.signal?.aborted !== true) {
      const item = todo[next++];
      if (item === undefined) break;
      const { job, resume } = item;
      const argv = [
        ...trainCommand,
        '--env',
        opts.env,
        '--algo',
        job.algo,
        '--seed',
        String(job.seed),
        '--chi',
        String(job.chi),
        ...(opts.epochs === undefined ? [] : ['--epochs', String(opts.epochs)]),
        '--out',
        job.dir,
        ...(resume ? ['--resume'] : []),
        ...(opts.extraArgs ?? []),
      ];
      const outcome = await launch(job, argv, resume, (pid) => opts.onEvent?.({ kind: 'start', job, resume, argv, pid }));
      outcomes.push(outcome);
      opts.onEvent?.({ kind: 'finish', outcome });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, todo.length) }, worker));

  const runs: RunSummary[] = [];
  const health: RunHealth[] = [];
  const unfinished: CompareJob[] = [];
  const finishedDirs: CompareJob[] = [];
  for (const job of jobs) {
    const status = await readStatus(job.dir).catch(() => undefined);
    if (status?.state !== 'done') unfinished.push(job);
    if (!(await hasConfig(job.dir))) continue;
    const metrics = await readMetrics(job.dir);
    if (metrics.length === 0) continue;
    const info = await readRunInfo(job.dir);
    runs.push(summarizeRun(info, compareGroupName(opts, job), metrics));
    health.push({ dir: job.dir, findings: runHealth(metrics, info) });
    finishedDirs.push(job);
  }
  const groups = summarizeGroups(runs);
  const summaryFiles = await writeSummary(opts, runs, groups, outcomes, skipped, unfinished, health);
  const figureErrors: string[] = [];
  const figures = opts.plot === false ? [] : await compareFigures(opts, finishedDirs, figureErrors);
  return { jobs, skipped, outcomes, unfinished, runs, groups, figures, figureErrors, summaryFiles, health };
}

function compareGroupName(opts: Pick<CompareOptions, 'algos' | 'chis'>, job: CompareJob): string {
  const info = { dir: job.dir, env: '', algo: job.algo, seed: job.seed, chi: job.chi, label: '' };
  if (opts.chis.length > 1 && opts.algos.length > 1) return `${groupName(info, 'algo')}, ${groupName(info, 'chi')}`;
  return opts.chis.length > 1 ? groupName(info, 'chi') : groupName(info, 'algo');
}

/**
 * Figures: per χ, the algorithms side by side (the paper's Figure 3/6); per algorithm with several
 * χ, the thresholds side by side (Figure 4/5); with one of each, that group's mean over seeds.
 */
async function compareFigures(opts: CompareOptions, jobs: readonly CompareJob[], errors: string[]): Promise<FigureFiles[]> {
  const out: FigureFiles[] = [];
  const many = (xs: readonly unknown[]): boolean => new Set(xs).size > 1;
  // Hours of training must not end in a stack trace over one figure: a run that cannot be drawn
  // (no finished episode yet, seeds that do not overlap) is reported and the rest still drawn.
  const plot = async (dirs: string[], o: PlotRunsOptions & { outPrefix: string }): Promise<void> => {
    try {
      out.push(await plotRuns(dirs, o));
    } catch (err) {
      if (!(err instanceof PlotError || err instanceof RunFileFormatError || err instanceof RunFolderError)) throw err;
      errors.push(`${o.outPrefix}: ${err.message}`);
    }
  };
  for (const chi of opts.chis) {
    const dirs = jobs.filter((j) => j.chi === chi).map((j) => j.dir);
    if (dirs.length === 0) continue;
    if (many(jobs.filter((j) => j.chi === chi).map((j) => j.algo)) || !many(opts.chis)) {
      await plot(dirs, { groupBy: 'algo', outPrefix: join(opts.outDir, opts.chis.length > 1 ? `figure-chi${chi}` : 'figure') });
    }
  }
  if (many(opts.chis)) {
    for (const algo of opts.algos) {
      const sel = jobs.filter((j) => j.algo === algo);
      if (!many(sel.map((j) => j.chi))) continue;
      await plot(
        sel.map((j) => j.dir),
        { groupBy: 'chi', outPrefix: join(opts.outDir, `figure-${algo}`) },
      );
    }
  }
  return out;
}

async function writeSummary(
  opts: CompareOptions,
  runs: readonly RunSummary[],
  groups: readonly GroupSummary[],
  outcomes: readonly JobOutcome[],
  skipped: readonly CompareJob[],
  unfinished: readonly CompareJob[],
  health: readonly RunHealth[],
): Promise<{ json: string; md: string }> {
  const chiNote = opts.chis.length === 1 ? `χ = ${opts.chis[0]}` : 'χ';
  const warnings = healthWarnings(health);
  const md = [
    `# ${opts.env}: ${opts.algos.join(', ')} · χ ∈ {${opts.chis.join(', ')}} · seeds ${opts.seeds.join(', ')}`,
    '',
    'Mean ± sample std over seeds. Final avg reward: mean over the last 10% of epochs. Episodes until',
    `avg failures < χ: the first epoch whose trailing ${CHI_WINDOW_EPOCHS}-epoch failure rate is below χ (seeds that got there).`,
    'Wall-clock: sum of epoch times (start-up excluded).',
    '',
    summaryMarkdown(groups, chiNote),
    ...(warnings.length === 0 ? [] : ['What the runs\' metrics flag (each run\'s health.json; `src/runs/health.ts`):', '', ...warnings.map((w) => `- ${w}`), '']),
    ...(unfinished.length === 0 ? [] : [`Unfinished: ${unfinished.map((j) => j.dir).join(', ')}`, '']),
  ].join('\n');
  const files = { json: join(opts.outDir, 'summary.json'), md: join(opts.outDir, 'summary.md') };
  const json = {
    env: opts.env,
    algos: opts.algos,
    chis: opts.chis,
    seeds: opts.seeds,
    groups,
    runs,
    launched: outcomes,
    skipped: skipped.map((j) => j.dir),
    unfinished: unfinished.map((j) => j.dir),
    health,
    writtenAt: new Date().toISOString(),
  };
  // NaN and undefined (a seed that never got below χ) become null in JSON.
  await writeFileAtomic(files.json, `${JSON.stringify(json, (_k, v: unknown) => (v === undefined ? null : v), 2)}\n`);
  await writeFile(files.md, md);
  return files;
}

function parseList<T>(raw: string, flag: string, parse: (s: string) => T | undefined, what: string): T[] {
  const items = raw.split(',').map((s) => s.trim());
  return items.map((s) => {
    const v = s === '' ? undefined : parse(s);
    if (v === undefined) throw new UsageError(`${flag}: "${s}" is not ${what} (in "${raw}")`);
    return v;
  });
}

const nonNegInt = (s: string): number | undefined => (/^\d+$/.test(s) ? Number(s) : undefined);
const finiteNum = (s: string): number | undefined => {
  const x = Number(s);
  return Number.isFinite(x) ? x : undefined;
};

function compactTime(d: Date): string {
  const t = d.toISOString();
  return `${t.slice(0, 10).replaceAll('-', '')}-${t.slice(11, 19).replaceAll(':', '')}`;
}

/** Parses `csc compare` arguments into `runCompare` options. */
export function parseCompareArgs(argv: readonly string[], now = new Date()): CompareOptions | 'help' {
  const dd = argv.indexOf('--');
  const own = dd < 0 ? [...argv] : argv.slice(0, dd);
  const extraArgs = dd < 0 ? [] : argv.slice(dd + 1);
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    strict: true,
    options: {
      env: { type: 'string' },
      algos: { type: 'string' },
      seeds: { type: 'string' },
      chis: { type: 'string' },
      epochs: { type: 'string' },
      parallel: { type: 'string' },
      out: { type: 'string' },
      'no-plot': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (train flags go after --)`);
  if (values.env === undefined) throw new UsageError('--env is required');
  if (values.algos === undefined) throw new UsageError('--algos is required (e.g. --algos csc,trpo)');
  const algos = parseList(values.algos, '--algos', (s) => (/^[A-Za-z0-9_-]+$/.test(s) ? s : undefined), 'an algorithm name');
  const seedsRaw = values.seeds ?? '3';
  let seeds: number[];
  if (seedsRaw.includes(',')) {
    seeds = parseList(seedsRaw, '--seeds', nonNegInt, 'a non-negative integer');
  } else {
    const n = nonNegInt(seedsRaw);
    if (n === undefined || n < 1) throw new UsageError(`--seeds: expected a count ≥ 1 or a list like 0,1,2, got "${seedsRaw}"`);
    seeds = Array.from({ length: n }, (_, i) => i);
  }
  const chis = parseList(values.chis ?? '0.05', '--chis', (s) => {
    const x = finiteNum(s);
    return x !== undefined && x >= 0 ? x : undefined;
  }, 'a threshold χ ≥ 0');
  let epochs: number | undefined;
  if (values.epochs !== undefined) {
    epochs = nonNegInt(values.epochs);
    if (epochs === undefined || epochs < 1) throw new UsageError(`--epochs: expected an integer ≥ 1, got "${values.epochs}"`);
  }
  const parallel = nonNegInt(values.parallel ?? '1');
  if (parallel === undefined || parallel < 1) throw new UsageError(`--parallel: expected an integer ≥ 1, got "${values.parallel ?? ''}"`);
  const lists: [string, readonly (string | number)[]][] = [
    ['--algos', algos],
    ['--seeds', seeds],
    ['--chis', chis],
  ];
  for (const [flag, list] of lists) {
    if (new Set<string | number>(list).size !== list.length) throw new UsageError(`${flag}: repeated value in "${list.join(',')}"`);
  }
  return {
    env: values.env,
    algos,
    seeds,
    chis,
    ...(epochs === undefined ? {} : { epochs }),
    parallel,
    outDir: values.out ?? join('runs', `compare-${values.env.replace(/[^A-Za-z0-9._-]/g, '_')}-${compactTime(now)}`),
    extraArgs,
    plot: values['no-plot'] !== true,
  };
}

/**
 * Entry of `csc compare`; returns the exit status (0 all done, 1 some run unfinished, 2 usage,
 * 130 interrupted by SIGINT or SIGTERM).
 */
export async function compareCommand(
  argv: readonly string[],
  io: CommandIo = PROCESS_IO,
  overrides: Pick<CompareOptions, 'trainCommand'> = {},
): Promise<number> {
  const abort = new AbortController();
  const live = new Set<number>();
  // Ctrl-C reaches the trainings through the terminal's process group; a SIGTERM (a scheduler,
  // `timeout`) reaches only this process, so it is passed on. Either way train saves and stops.
  const onSignal = (sig: NodeJS.Signals): void => {
    io.stderr.write(`csc compare: ${sig}; waiting for running trainings to save and stop (no new ones start)\n`);
    abort.abort();
    if (sig === 'SIGTERM') {
      for (const pid of live) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    }
  };
  try {
    const parsed = parseCompareArgs(argv);
    if (parsed === 'help') {
      io.stdout.write(COMPARE_USAGE);
      return 0;
    }
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const total = parsed.algos.length * parsed.seeds.length * parsed.chis.length;
    io.stdout.write(`csc compare: ${total} run${total === 1 ? '' : 's'} in ${parsed.outDir} (${parsed.parallel ?? 1} at a time)\n`);
    const result = await runCompare({
      ...parsed,
      ...overrides,
      signal: abort.signal,
      onEvent: (e) => {
        switch (e.kind) {
          case 'skip':
            io.stdout.write(`  skip (done)  ${e.job.dir}\n`);
            return;
          case 'start':
            if (e.pid !== undefined) live.add(e.pid);
            io.stdout.write(`  ${e.resume ? 'resume     ' : 'start      '}  ${e.job.dir}\n`);
            return;
          case 'finish': {
            const o = e.outcome;
            if (o.pid !== undefined) live.delete(o.pid);
            const how = o.exitCode === 0 ? 'finished   ' : `exited ${o.exitCode ?? o.signal ?? '?'} (${o.state ?? 'no status'})`;
            io.stdout.write(`  ${how}  ${o.job.dir} in ${o.processWallS.toFixed(1)} s; log: ${join(o.job.dir, 'train.log')}\n`);
            return;
          }
        }
      },
    });
    io.stdout.write(`\n${summaryMarkdown(result.groups, parsed.chis.length === 1 ? `χ = ${parsed.chis[0]}` : 'χ')}\n`);
    const warnings = healthWarnings(result.health);
    if (warnings.length > 0) io.stdout.write(`What the runs' metrics flag:\n${warnings.map((w) => `  ${w}`).join('\n')}\n\n`);
    for (const f of result.figures) io.stdout.write(`wrote ${f.svg}\nwrote ${f.png}\n`);
    for (const e of result.figureErrors) io.stderr.write(`csc compare: no figure ${e}\n`);
    io.stdout.write(`wrote ${result.summaryFiles.md}\nwrote ${result.summaryFiles.json}\n`);
    if (abort.signal.aborted) {
      io.stderr.write(`csc compare: stopped; continue with the same command${argv.includes('--out') ? '' : ` and --out ${parsed.outDir}`}\n`);
      return 130;
    }
    if (result.unfinished.length > 0) {
      io.stderr.write(
        `csc compare: ${result.unfinished.length} run(s) unfinished; run the same command again${
          argv.includes('--out') ? '' : ` with --out ${parsed.outDir}`
        } to resume them\n`,
      );
      return 1;
    }
    return 0;
  } catch (err) {
    return reportCliError('compare', err, COMPARE_USAGE, io);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
