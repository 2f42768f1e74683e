/**
 * The run folder: everything one training run leaves on disk, in plain files a user can read with
 * `cat`, `jq` or a spreadsheet.
 *
 * ```
 * runs/point-nav-csc-s0-20261125-051000/
 *   config.json          resolved config (written atomically)
 *   metrics.jsonl        one EpochMetrics per line (NaN → null)
 *   metrics.csv          the same rows, columns = METRIC_FIELDS (NaN → empty cell)
 *   status.json          { state, epoch, updatedAt, message? } (written atomically)
 *   checkpoints/
 *     epoch-000012/      a complete checkpoint: only ever appears by rename of a finished temp dir
 *     latest             "epoch-000012\n", for people and shell scripts
 * ```
 *
 * Order the training loop must keep so `--resume` is exact: append epoch k's metrics, then write
 * checkpoint k. Resuming picks the newest checkpoint whose epoch has a metrics row and cuts both
 * metrics files back to it, so the resumed run appends epoch k+1 with no duplicate rows.
 */
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir, writeFileAtomic, writeFileAtomicSync } from '../core/atomic.ts';
import { type CalibrationBin, METRIC_FIELDS, type EpochMetrics } from './metrics.ts';

/** File names inside a run folder. */
export const RUN_FILES = {
  config: 'config.json',
  metricsJsonl: 'metrics.jsonl',
  metricsCsv: 'metrics.csv',
  status: 'status.json',
  /** What the finished run's metrics say about it (health.ts), written after the last epoch. */
  health: 'health.json',
  checkpoints: 'checkpoints',
  latest: 'latest',
} as const;

/** A run folder is missing, already taken, or in a state the requested operation cannot use. */
export class RunFolderError extends Error {
  override readonly name = 'RunFolderError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

/** A metrics, config or status file does not hold what it should; says which file and line. */
export class RunFileFormatError extends Error {
  override readonly name = 'RunFileFormatError';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly detail: string,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${detail}`);
  }
}

/** Lifecycle of a run as recorded in `status.json`. */
export type RunState = 'running' | 'done' | 'interrupted' | 'failed';

const RUN_STATES: readonly RunState[] = ['running', 'done', 'interrupted', 'failed'];

/** Contents of `status.json`. */
export interface RunStatus {
  readonly state: RunState;
  /** Last completed epoch (0-based); -1 before the first epoch completes. */
  readonly epoch: number;
  /** ISO-8601 UTC time of the write. */
  readonly updatedAt: string;
  /** Why a run stopped (the error of a failed run, the signal of an interrupted one). */
  readonly message?: string;
}

/** A complete checkpoint directory. */
export interface CheckpointRef {
  readonly epoch: number;
  readonly dir: string;
}

/** Where a resumed run starts from. */
export interface ResumePoint {
  /** Checkpoint to load; undefined when none is usable, so training restarts from epoch 0. */
  readonly checkpoint: CheckpointRef | undefined;
  /** Metrics rows kept (epochs ≤ checkpoint epoch): the last one holds the cumulative counters. */
  readonly metrics: readonly EpochMetrics[];
  /** The first epoch the resumed run will train. */
  readonly nextEpoch: number;
}

/** Options of `writeCheckpointDir`. */
export interface CheckpointWriteOptions {
  /** Keep only this many newest checkpoints (older ones are deleted after the new one lands); all when undefined. */
  readonly keepLast?: number;
}

const CHECKPOINT_RE = /^epoch-(\d{6,})$/;

/** `epoch-000012` for epoch 12. */
export function checkpointName(epoch: number): string {
  return `epoch-${String(epoch).padStart(6, '0')}`;
}

/**
 * Default run folder name, `<env>-<algo>-s<seed>-<YYYYMMDD-HHMMSS>` (UTC). Characters that are
 * awkward in paths (the `:` of `gym:Foo-v1`, slashes) become `_`.
 */
export function defaultRunDirName(opts: { env: string; algo: string; seed: number; now?: Date }): string {
  const t = (opts.now ?? new Date()).toISOString(); // 2026-11-25T05:10:00.000Z
  const stamp = `${t.slice(0, 10).replaceAll('-', '')}-${t.slice(11, 19).replaceAll(':', '')}`;
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${clean(opts.env)}-${clean(opts.algo)}-s${opts.seed}-${stamp}`;
}

// ---------------------------------------------------------------------------------------------
// Metrics encoding

function csvCell(v: number | boolean | undefined | readonly CalibrationBin[]): string {
  if (v === undefined || typeof v === 'object') return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // String(n) is the shortest text that parses back to the same double: full precision.
  return Number.isFinite(v) ? String(v) : '';
}

/** One `metrics.csv` row (no newline), columns in `METRIC_FIELDS` order. */
export function metricsCsvRow(m: EpochMetrics): string {
  return METRIC_FIELDS.map((f) => csvCell(m[f])).join(',');
}

/** The `metrics.csv` header line (no newline). */
export const METRICS_CSV_HEADER = METRIC_FIELDS.join(',');

/** One `metrics.jsonl` line (no newline): fields in `METRIC_FIELDS` order, non-finite → null. */
export function metricsJsonLine(m: EpochMetrics): string {
  const o: Record<string, unknown> = {};
  for (const f of METRIC_FIELDS) {
    const v = m[f];
    o[f] = v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? null : v;
  }
  if (m.calibration !== undefined) o.calibration = m.calibration.map((b) => ({ ...b, predicted: finiteOrNull(b.predicted), observed: finiteOrNull(b.observed) }));
  return JSON.stringify(o);
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

type FieldReader = {
  num: (field: keyof EpochMetrics) => number;
  bool: (field: keyof EpochMetrics) => boolean;
  /** An optional scalar: NaN when the file predates it. */
  opt: (field: keyof EpochMetrics) => number;
};

/** Builds a record field by field, so the compiler checks that every field is read. */
function buildMetrics(r: FieldReader): EpochMetrics {
  return {
    epoch: r.num('epoch'),
    episodes: r.num('episodes'),
    totalEpisodes: r.num('totalEpisodes'),
    envSteps: r.num('envSteps'),
    totalEnvSteps: r.num('totalEnvSteps'),
    avgReward: r.num('avgReward'),
    avgFailures: r.num('avgFailures'),
    cumulativeFailures: r.num('cumulativeFailures'),
    lambda: r.num('lambda'),
    epsilon: r.num('epsilon'),
    filterAcceptRate: r.num('filterAcceptRate'),
    filterExhaustions: r.num('filterExhaustions'),
    kl: r.num('kl'),
    lineSearchTries: r.num('lineSearchTries'),
    lineSearchAccepted: r.bool('lineSearchAccepted'),
    criticLoss: r.num('criticLoss'),
    criticPredictedFailure: r.num('criticPredictedFailure'),
    observedFailureRate: r.num('observedFailureRate'),
    droppedEpisodes: r.num('droppedEpisodes'),
    wallS: r.num('wallS'),
    stepsPerS: r.num('stepsPerS'),
    filterExhaustedFraction: r.opt('filterExhaustedFraction'),
    filterFirstAcceptRate: r.opt('filterFirstAcceptRate'),
    actionDeviation: r.opt('actionDeviation'),
    calibrationError: r.opt('calibrationError'),
    policyRisk: r.opt('policyRisk'),
    avgFailuresWindow: r.opt('avgFailuresWindow'),
    rewardAdvantageSpread: r.opt('rewardAdvantageSpread'),
    costTermSpread: r.opt('costTermSpread'),
    criticGap: r.opt('criticGap'),
    cqlAlpha: r.opt('cqlAlpha'),
    cpoCase: r.opt('cpoCase'),
  };
}

function parseCalibration(v: unknown, file: string, lineNo: number): CalibrationBin[] {
  if (!Array.isArray(v)) throw new RunFileFormatError(file, lineNo, `field "calibration": expected an array of bins, got ${describe(v)}`);
  return v.map((b, i) => {
    if (!isRecord(b)) throw new RunFileFormatError(file, lineNo, `calibration[${i}]: expected an object, got ${describe(b)}`);
    const num = (k: string): number => {
      const x = b[k];
      if (x === null) return NaN;
      if (typeof x !== 'number') throw new RunFileFormatError(file, lineNo, `calibration[${i}].${k}: expected a number or null, got ${describe(x)}`);
      return x;
    };
    return { lo: num('lo'), hi: num('hi'), count: num('count'), predicted: num('predicted'), observed: num('observed') };
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses one `metrics.jsonl` line; `null` numbers read back as NaN. */
export function parseMetricsJsonLine(line: string, file: string, lineNo: number): EpochMetrics {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new RunFileFormatError(file, lineNo, `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(v)) throw new RunFileFormatError(file, lineNo, `expected a JSON object, got ${describe(v)}`);
  const rec = v;
  const m = buildMetrics({
    opt(field) {
      return rec[field] === undefined ? NaN : this.num(field);
    },
    num(field) {
      const x = rec[field];
      if (x === null) return NaN;
      if (typeof x !== 'number') {
        throw new RunFileFormatError(file, lineNo, `field "${field}": expected a number or null, got ${describe(x)}`);
      }
      return x;
    },
    bool(field) {
      const x = rec[field];
      if (typeof x !== 'boolean') {
        throw new RunFileFormatError(file, lineNo, `field "${field}": expected true or false, got ${describe(x)}`);
      }
      return x;
    },
  });
  return rec.calibration === undefined ? m : { ...m, calibration: parseCalibration(rec.calibration, file, lineNo) };
}

/** Parses one `metrics.csv` data row; empty cells read back as NaN. */
export function parseMetricsCsvRow(line: string, file: string, lineNo: number): EpochMetrics {
  const cells = line.split(',');
  if (cells.length !== METRIC_FIELDS.length) {
    throw new RunFileFormatError(file, lineNo, `expected ${METRIC_FIELDS.length} cells, got ${cells.length}`);
  }
  const cell = (field: keyof EpochMetrics): string => cells[METRIC_FIELDS.indexOf(field)] ?? '';
  return buildMetrics({
    opt(field) {
      return this.num(field);
    },
    num(field) {
      const s = cell(field).trim();
      if (s === '') return NaN;
      const x = Number(s);
      if (Number.isNaN(x)) throw new RunFileFormatError(file, lineNo, `column "${field}": expected a number, got "${s}"`);
      return x;
    },
    bool(field) {
      const s = cell(field).trim();
      if (s === 'true') return true;
      if (s === 'false') return false;
      throw new RunFileFormatError(file, lineNo, `column "${field}": expected true or false, got "${s}"`);
    },
  });
}

function describe(v: unknown): string {
  let s: string;
  switch (typeof v) {
    case 'undefined':
      return 'nothing (field missing)';
    case 'object':
      return v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object';
    case 'function':
      return 'a function';
    case 'string':
      s = JSON.stringify(v);
      break;
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'symbol':
      s = String(v);
      break;
  }
  return `${typeof v} ${s.length > 40 ? `${s.slice(0, 40)}…` : s}`;
}

/** Options of the metrics readers. */
export interface ReadMetricsOptions {
  /** Told when a last line without its newline was dropped as cut short (a killed writer). */
  readonly onTruncatedLine?: (file: string, line: number) => void;
}

/**
 * Splits a file into lines and parses each one. Strict everywhere except the last line when it
 * lacks its trailing newline: that is what a process killed mid-append leaves, and it is dropped
 * when it does not parse. A JSON line that does parse is whole (a cut one misses its `}`), so it is
 * kept; a CSV line never is, since a row cut inside its last number still parses
 * (`keepUnterminated`). Epochs must be non-negative integers, strictly increasing.
 */
function parseLines(
  text: string,
  file: string,
  firstLineNo: number,
  parse: (line: string, file: string, lineNo: number) => EpochMetrics,
  keepUnterminated: boolean,
  opts: ReadMetricsOptions,
): EpochMetrics[] {
  const lines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  if (endsWithNewline || lines.at(-1) === '') lines.pop();
  const rows: EpochMetrics[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = firstLineNo + i;
    const line = lines[i] ?? '';
    const isUnterminatedLast = i === lines.length - 1 && !endsWithNewline;
    if (isUnterminatedLast && !keepUnterminated) {
      opts.onTruncatedLine?.(file, lineNo);
      break;
    }
    let m: EpochMetrics;
    try {
      if (line.trim() === '') throw new RunFileFormatError(file, lineNo, 'empty line');
      m = parse(line, file, lineNo);
    } catch (err) {
      if (isUnterminatedLast && err instanceof RunFileFormatError) {
        opts.onTruncatedLine?.(file, lineNo);
        break;
      }
      throw err;
    }
    const prev = rows.at(-1);
    if (!Number.isInteger(m.epoch) || m.epoch < 0) {
      throw new RunFileFormatError(file, lineNo, `epoch must be a non-negative integer, got ${m.epoch}`);
    }
    if (prev !== undefined && m.epoch <= prev.epoch) {
      throw new RunFileFormatError(file, lineNo, `epoch ${m.epoch} does not follow epoch ${prev.epoch} (duplicate or out-of-order row)`);
    }
    rows.push(m);
  }
  return rows;
}

/** Parses the text of a `metrics.jsonl` file (see `readMetrics` for the rules). */
export function parseMetricsJsonl(text: string, file: string, opts: ReadMetricsOptions = {}): EpochMetrics[] {
  return parseLines(text, file, 1, parseMetricsJsonLine, true, opts);
}

/** Parses the text of a `metrics.csv` file: the header must be exactly `METRICS_CSV_HEADER`. */
export function parseMetricsCsv(text: string, file: string, opts: ReadMetricsOptions = {}): EpochMetrics[] {
  if (text === '') return [];
  const nl = text.indexOf('\n');
  const header = nl < 0 ? text : text.slice(0, nl);
  if (header !== METRICS_CSV_HEADER) {
    if (nl < 0 && METRICS_CSV_HEADER.startsWith(header)) {
      opts.onTruncatedLine?.(file, 1);
      return [];
    }
    throw new RunFileFormatError(file, 1, `header does not match METRIC_FIELDS: expected "${METRICS_CSV_HEADER}", got "${header}"`);
  }
  return parseLines(text.slice(nl + 1), file, 2, parseMetricsCsvRow, false, opts);
}

async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}

/**
 * Reads `metrics.jsonl` of a run folder. A missing file is an empty run. A last line cut short by a
 * killed process is dropped; any other bad line throws `RunFileFormatError` naming file and line.
 */
export async function readMetrics(dir: string, opts: ReadMetricsOptions = {}): Promise<EpochMetrics[]> {
  const file = join(dir, RUN_FILES.metricsJsonl);
  const text = await readTextIfExists(file);
  return text === undefined ? [] : parseMetricsJsonl(text, file, opts);
}

/** Reads `metrics.csv` of a run folder, with the same rules as `readMetrics`. */
export async function readMetricsCsv(dir: string, opts: ReadMetricsOptions = {}): Promise<EpochMetrics[]> {
  const file = join(dir, RUN_FILES.metricsCsv);
  const text = await readTextIfExists(file);
  return text === undefined ? [] : parseMetricsCsv(text, file, opts);
}

/** Reads `config.json`; throws `RunFolderError` when missing, `RunFileFormatError` when not JSON. */
export async function readConfig(dir: string): Promise<unknown> {
  const config = await readConfigIfExists(dir);
  if (config === undefined) throw new RunFolderError(dir, `no ${RUN_FILES.config}: not a run folder, or the run never started`);
  return config;
}

async function readConfigIfExists(dir: string): Promise<unknown> {
  const file = join(dir, RUN_FILES.config);
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RunFileFormatError(file, undefined, `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/**
 * The `--env-arg`s of a run's parsed `config.json` (its `envArgs`, `file` naming it in errors):
 * undefined when the run had none or predates the field.
 */
export function configEnvArgs(config: unknown, file: string): Readonly<Record<string, string | number | boolean>> | undefined {
  const args = (config as { envArgs?: unknown } | null)?.envArgs;
  if (args === undefined) return undefined;
  const ok = typeof args === 'object' && args !== null && !Array.isArray(args) && Object.values(args).every((v) => ['string', 'number', 'boolean'].includes(typeof v));
  if (!ok) throw new RunFileFormatError(file, undefined, `envArgs: expected an object of strings, numbers and booleans, got ${JSON.stringify(args)}`);
  return Object.keys(args).length > 0 ? (args as Record<string, string | number | boolean>) : undefined;
}

/** {@link configEnvArgs} of run `dir`; undefined also when `dir` is not a run folder. */
export async function readRunEnvArgs(dir: string): Promise<Readonly<Record<string, string | number | boolean>> | undefined> {
  const config = await readConfigIfExists(dir);
  return config === undefined ? undefined : configEnvArgs(config, join(dir, RUN_FILES.config));
}

/** Reads `status.json`; undefined when the run has none yet. */
export async function readStatus(dir: string): Promise<RunStatus | undefined> {
  const file = join(dir, RUN_FILES.status);
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new RunFileFormatError(file, undefined, `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(v)) throw new RunFileFormatError(file, undefined, `expected a JSON object, got ${describe(v)}`);
  const { state, epoch, updatedAt, message } = v;
  const knownState = RUN_STATES.find((s) => s === state);
  if (knownState === undefined) {
    throw new RunFileFormatError(file, undefined, `"state": expected one of ${RUN_STATES.join(', ')}, got ${describe(state)}`);
  }
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < -1) {
    throw new RunFileFormatError(file, undefined, `"epoch": expected an integer ≥ -1, got ${describe(epoch)}`);
  }
  if (typeof updatedAt !== 'string') {
    throw new RunFileFormatError(file, undefined, `"updatedAt": expected an ISO time string, got ${describe(updatedAt)}`);
  }
  if (message !== undefined && typeof message !== 'string') {
    throw new RunFileFormatError(file, undefined, `"message": expected a string, got ${describe(message)}`);
  }
  return message === undefined ? { state: knownState, epoch, updatedAt } : { state: knownState, epoch, updatedAt, message };
}

function statusJson(state: RunState, epoch: number, message: string | undefined): string {
  const s: RunStatus = { state, epoch, updatedAt: new Date().toISOString(), ...(message === undefined ? {} : { message }) };
  return `${JSON.stringify(s, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/** Complete checkpoints of a run folder, oldest first. Temp dirs of unfinished writes are skipped. */
export async function listCheckpoints(dir: string): Promise<CheckpointRef[]> {
  const root = join(dir, RUN_FILES.checkpoints);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    // no run folder there, or a file where it expects one: no checkpoints
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
    throw err;
  }
  const out: CheckpointRef[] = [];
  for (const name of names) {
    const m = CHECKPOINT_RE.exec(name);
    if (m?.[1] === undefined) continue;
    if (!(await stat(join(root, name))).isDirectory()) continue;
    out.push({ epoch: Number(m[1]), dir: join(root, name) });
  }
  return out.sort((a, b) => a.epoch - b.epoch);
}

/**
 * Newest complete checkpoint. The directory scan is the truth (a checkpoint exists once its rename
 * landed); the `latest` file is a convenience for people and may lag by one after a crash.
 */
export async function latestCheckpoint(dir: string): Promise<CheckpointRef | undefined> {
  return (await listCheckpoints(dir)).at(-1);
}

async function fsyncTree(path: string): Promise<void> {
  const st = await stat(path);
  if (st.isDirectory()) {
    for (const name of await readdir(path)) await fsyncTree(join(path, name));
    await fsyncDir(path);
    return;
  }
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes checkpoint `epoch` of run folder `dir` atomically: `writer` fills a fresh temp directory,
 * its files are fsynced, and the directory is renamed to `checkpoints/epoch-NNNNNN`. If `writer`
 * throws (or the process dies), the temp dir is removed (or left dot-prefixed and ignored) and every
 * earlier checkpoint is untouched. Then `checkpoints/latest` is updated. Returns the final path.
 */
export async function writeCheckpointDir(
  dir: string,
  epoch: number,
  writer: (tmpDir: string) => Promise<void>,
  opts: CheckpointWriteOptions = {},
): Promise<string> {
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new RangeError(`writeCheckpointDir: epoch must be a non-negative integer, got ${epoch}`);
  }
  if (opts.keepLast !== undefined && (!Number.isInteger(opts.keepLast) || opts.keepLast < 1)) {
    throw new RangeError(`writeCheckpointDir: keepLast must be an integer ≥ 1, got ${opts.keepLast}`);
  }
  const root = join(dir, RUN_FILES.checkpoints);
  await mkdir(root, { recursive: true });
  const name = checkpointName(epoch);
  const finalDir = join(root, name);
  const tmpDir = join(root, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmpDir);
  try {
    await writer(tmpDir);
    await fsyncTree(tmpDir);
  } catch (err) {
    await rm(tmpDir, { recursive: true, force: true });
    throw err;
  }
  // Re-writing an epoch (a resumed run saving the epoch it resumed from) swaps the old one aside
  // first: rename cannot replace a non-empty directory.
  let old: string | undefined;
  try {
    await stat(finalDir);
    old = join(root, `.old-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await rename(finalDir, old);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await rename(tmpDir, finalDir);
  await fsyncDir(root);
  if (old !== undefined) await rm(old, { recursive: true, force: true });
  await writeFileAtomic(join(root, RUN_FILES.latest), `${name}\n`);
  if (opts.keepLast !== undefined) {
    const all = await listCheckpoints(dir);
    for (const c of all.slice(0, Math.max(0, all.length - opts.keepLast))) await rm(c.dir, { recursive: true, force: true });
  }
  return finalDir;
}

// ---------------------------------------------------------------------------------------------
// The folder

async function holdsRun(dir: string): Promise<boolean> {
  for (const f of [RUN_FILES.config, RUN_FILES.metricsJsonl, RUN_FILES.status]) {
    if ((await readTextIfExists(join(dir, f))) !== undefined) return true;
  }
  return false;
}

/**
 * One run's folder, for the process that writes it. Metrics appends are serialised, so callers may
 * fire them from a stream without awaiting each.
 */
export class RunFolder {
  private writes: Promise<void> = Promise.resolve();

  private constructor(readonly dir: string) {}

  /** Starts a new run in `dir` (created if needed). Refuses a folder that already holds a run. */
  static async create(dir: string): Promise<RunFolder> {
    await mkdir(dir, { recursive: true });
    if (await holdsRun(dir)) {
      throw new RunFolderError(dir, 'already holds a run; pass --resume to continue it, or choose another --out');
    }
    return new RunFolder(dir);
  }

  /** Opens an existing run (to resume or read it). Throws when `dir` has no `config.json`. */
  static async open(dir: string): Promise<RunFolder> {
    await readConfig(dir);
    return new RunFolder(dir);
  }

  /** Path of a file inside the folder. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /** Writes the resolved config (any JSON-serialisable value) atomically. */
  async writeConfig(config: unknown): Promise<void> {
    const text = JSON.stringify(config, null, 2);
    if (typeof text !== 'string') throw new TypeError('writeConfig: config is not JSON-serialisable');
    await writeFileAtomic(this.path(RUN_FILES.config), `${text}\n`);
  }

  /** Reads `config.json` back. */
  readConfig(): Promise<unknown> {
    return readConfig(this.dir);
  }

  /**
   * Appends one epoch to `metrics.jsonl` and `metrics.csv` (header written with the first row),
   * fsynced so a checkpoint written after it never gets ahead of its metrics row.
   */
  appendMetrics(m: EpochMetrics): Promise<void> {
    const job = this.writes.then(async () => {
      await appendSynced(this.path(RUN_FILES.metricsJsonl), `${metricsJsonLine(m)}\n`);
      const csv = this.path(RUN_FILES.metricsCsv);
      const hasHeader = await stat(csv).then(
        (st) => st.size > 0,
        (err: unknown) => {
          if (isErrno(err, 'ENOENT')) return false;
          throw err;
        },
      );
      await appendSynced(csv, `${hasHeader ? '' : `${METRICS_CSV_HEADER}\n`}${metricsCsvRow(m)}\n`);
    });
    this.writes = job.catch(() => undefined);
    return job;
  }

  /** Reads `metrics.jsonl` back (see `readMetrics`). */
  readMetrics(opts?: ReadMetricsOptions): Promise<EpochMetrics[]> {
    return readMetrics(this.dir, opts);
  }

  /** Writes `status.json` atomically. `epoch` = last completed epoch, -1 before the first. */
  writeStatus(state: RunState, epoch: number, message?: string): Promise<void> {
    return writeFileAtomic(this.path(RUN_FILES.status), statusJson(state, epoch, message));
  }

  /** Synchronous `writeStatus`, for `process.on('exit')` handlers. */
  writeStatusSync(state: RunState, epoch: number, message?: string): void {
    writeFileAtomicSync(this.path(RUN_FILES.status), statusJson(state, epoch, message));
  }

  /** Reads `status.json` (undefined before the first write). */
  readStatus(): Promise<RunStatus | undefined> {
    return readStatus(this.dir);
  }

  /** See the free function `writeCheckpointDir`. */
  writeCheckpointDir(epoch: number, writer: (tmpDir: string) => Promise<void>, opts?: CheckpointWriteOptions): Promise<string> {
    return writeCheckpointDir(this.dir, epoch, writer, opts);
  }

  /** Newest complete checkpoint, if any. */
  latestCheckpoint(): Promise<CheckpointRef | undefined> {
    return latestCheckpoint(this.dir);
  }

  /**
   * Prepares `--resume`: picks the newest checkpoint whose epoch has a metrics row, removes newer
   * checkpoints and leftovers of unfinished checkpoint writes, points `latest` at it, and rewrites `metrics.jsonl` and `metrics.csv` with
   * only the rows up to that epoch (a truncated last line goes too). Without a usable checkpoint
   * the metrics are emptied and training restarts at epoch 0.
   */
  async prepareResume(): Promise<ResumePoint> {
    await this.writes;
    const rows = await this.readMetrics();
    const lastEpoch = rows.at(-1)?.epoch ?? -1;
    const all = await listCheckpoints(this.dir);
    const checkpoint = all.filter((c) => c.epoch <= lastEpoch).at(-1);
    // Checkpoints past the metrics cannot be resumed exactly, and left in place one of them would
    // later pass for a checkpoint of the resumed run: they go.
    for (const c of all) if (c.epoch > (checkpoint?.epoch ?? -1)) await rm(c.dir, { recursive: true, force: true });
    const kept = checkpoint === undefined ? [] : rows.filter((r) => r.epoch <= checkpoint.epoch);
    const root = this.path(RUN_FILES.checkpoints);
    try {
      for (const name of await readdir(root)) {
        if (name.startsWith('.tmp-') || name.startsWith('.old-')) await rm(join(root, name), { recursive: true, force: true });
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    if (checkpoint !== undefined) await writeFileAtomic(join(root, RUN_FILES.latest), `${checkpointName(checkpoint.epoch)}\n`);
    else await rm(join(root, RUN_FILES.latest), { force: true });
    await writeFileAtomic(this.path(RUN_FILES.metricsJsonl), kept.map((r) => `${metricsJsonLine(r)}\n`).join(''));
    await writeFileAtomic(
      this.path(RUN_FILES.metricsCsv),
      kept.length === 0 ? '' : `${METRICS_CSV_HEADER}\n${kept.map((r) => `${metricsCsvRow(r)}\n`).join('')}`,
    );
    return { checkpoint, metrics: kept, nextEpoch: checkpoint === undefined ? 0 : checkpoint.epoch + 1 };
  }
}

async function appendSynced(path: string, text: string): Promise<void> {
  const fh = await open(path, 'a');
  try {
    await fh.appendFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
