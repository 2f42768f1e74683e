/**
 * Seed data (Appendix A.10): a file of labelled transitions (s, a, r, C(s′), terminated,
 * truncated, s′) that seeds a learner's replay buffer D_env before training. The format is open
 * and documented in docs/seed-data.md: a header (format name, version, env id, observation and
 * action sizes), then one record per transition with exactly the fields of {@link SeedRecordFields}.
 *
 * Files are read and written by a {@link SeedDataFormat} chosen by the file's extension; every
 * format yields records as plain objects and leaves their checking to {@link parseSeedRecord} and
 * {@link parseSeedHeader}, so a new container (e.g. MCAP with a `/csc/transition` channel) adds one
 * entry to {@link SEED_DATA_FORMATS} and inherits the same validation and error messages.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { fsyncDir, tempSiblingPath } from '../core/atomic.ts';
import type { ReplayBuffer } from '../core/replay.ts';
import type { EnvSpec } from '../envs/env.ts';
import { dirname } from 'node:path';
import { McapRecorder, readMcapTransitions, TRANSITION_TOPIC } from '../ros/mcap.ts';

export const SEED_DATA_FORMAT = 'csc-seed-data';
export const SEED_DATA_VERSION = 1;

/** The fields every record has, no more and no fewer. */
export const SeedRecordFields = ['obs', 'action', 'reward', 'failure', 'terminated', 'truncated', 'next_obs'] as const;

/** The file's header. Other header fields are metadata (e.g. `source`), kept and not interpreted. */
export interface SeedDataHeader {
  readonly format: typeof SEED_DATA_FORMAT;
  readonly version: number;
  /** Env id the transitions come from (e.g. `point-nav`, `car-nav`). */
  readonly env: string;
  readonly obsSize: number;
  readonly actSize: number;
  readonly [meta: string]: unknown;
}

/** One labelled transition. */
export interface SeedTransition {
  readonly obs: Float32Array;
  readonly action: Float32Array;
  readonly reward: number;
  /** C(s′) ∈ {0, 1}; 1 implies `terminated` (a failure always ends the episode). */
  readonly failure: 0 | 1;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly nextObs: Float32Array;
}

/** A seed-data file is unreadable, malformed, or does not fit the env it seeds. */
export class SeedDataError extends Error {
  override readonly name = 'SeedDataError';
}

/** Where a record sits in its file, for error messages (`line` for line-based formats). */
export interface RecordLocation {
  readonly path: string;
  /** 1-based record index (the header is not a record). */
  readonly record: number;
  readonly line?: number;
}

function where(at: RecordLocation): string {
  return at.line === undefined ? `${at.path}: record ${at.record}` : `${at.path}:${at.line}: record ${at.record}`;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (Array.isArray(v)) return `a list of ${v.length} values`;
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/** Checks a decoded header: format, version, env id and sizes. */
export function parseSeedHeader(raw: unknown, path: string, line?: number): SeedDataHeader {
  const at = line === undefined ? `${path}: header` : `${path}:${line}: header`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SeedDataError(`${at}: expected an object {"format": "${SEED_DATA_FORMAT}", "version": ${SEED_DATA_VERSION}, "env", "obsSize", "actSize"}, got ${describe(raw)}`);
  const h = raw as Record<string, unknown>;
  if (h.format !== SEED_DATA_FORMAT) throw new SeedDataError(`${at}: field 'format' is ${describe(h.format)}, expected "${SEED_DATA_FORMAT}" (is this a seed-data file? see docs/seed-data.md)`);
  if (!Number.isInteger(h.version)) throw new SeedDataError(`${at}: field 'version' is ${describe(h.version)}, expected the integer ${SEED_DATA_VERSION}`);
  if (h.version !== SEED_DATA_VERSION) throw new SeedDataError(`${at}: version ${String(h.version)} is not supported; this reader reads version ${SEED_DATA_VERSION}`);
  if (typeof h.env !== 'string' || h.env === '') throw new SeedDataError(`${at}: field 'env' is ${describe(h.env)}, expected the env id, e.g. "point-nav"`);
  for (const k of ['obsSize', 'actSize'] as const) {
    if (!Number.isInteger(h[k]) || (h[k] as number) < 1) throw new SeedDataError(`${at}: field '${k}' is ${describe(h[k])}, expected a positive integer`);
  }
  return h as SeedDataHeader;
}

/** Checks a decoded record against the header and returns it as a {@link SeedTransition}. */
export function parseSeedRecord(raw: unknown, header: SeedDataHeader, at: RecordLocation): SeedTransition {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SeedDataError(`${where(at)}: expected an object with fields ${SeedRecordFields.join(', ')}, got ${describe(raw)}`);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!(SeedRecordFields as readonly string[]).includes(k)) throw new SeedDataError(`${where(at)}: unknown field '${k}'; a record has exactly ${SeedRecordFields.join(', ')}`);
  }
  const floats = (k: 'obs' | 'action' | 'next_obs', size: number, sizeName: string): Float32Array => {
    const v = r[k];
    if (!Array.isArray(v) || v.length !== size) throw new SeedDataError(`${where(at)}: field '${k}' is ${describe(v)}, expected ${size} numbers (the header's ${sizeName})`);
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const x: unknown = v[i];
      if (typeof x !== 'number' || !Number.isFinite(x) || Math.abs(x) > FLOAT32_MAX) throw new SeedDataError(`${where(at)}: field '${k}'[${i}] is ${describe(x)}, expected a finite float32 number`);
      out[i] = x;
    }
    return out;
  };
  const bool = (k: 'terminated' | 'truncated'): boolean => {
    const v = r[k];
    if (typeof v !== 'boolean') throw new SeedDataError(`${where(at)}: field '${k}' is ${describe(v)}, expected true or false`);
    return v;
  };
  const obs = floats('obs', header.obsSize, 'obsSize');
  const action = floats('action', header.actSize, 'actSize');
  const reward = r.reward;
  if (typeof reward !== 'number' || !Number.isFinite(reward)) throw new SeedDataError(`${where(at)}: field 'reward' is ${describe(reward)}, expected a finite number`);
  const failure = r.failure;
  if (failure !== 0 && failure !== 1) throw new SeedDataError(`${where(at)}: field 'failure' is ${describe(failure)}, expected 0 or 1 (C(s′))`);
  const terminated = bool('terminated');
  const truncated = bool('truncated');
  if (failure === 1 && !terminated) throw new SeedDataError(`${where(at)}: 'failure' is 1 but 'terminated' is false; a failure always ends the episode (terminated: true)`);
  const nextObs = floats('next_obs', header.obsSize, 'obsSize');
  return { obs, action, reward, failure, terminated, truncated, nextObs };
}

/** Throws unless the header fits `spec`: same env id, observation and action sizes. */
export function checkHeaderFits(header: SeedDataHeader, path: string, spec: Pick<EnvSpec, 'id' | 'obsSize' | 'actSize'>): void {
  if (header.obsSize !== spec.obsSize || header.actSize !== spec.actSize) {
    throw new SeedDataError(`${path}: header has obsSize ${header.obsSize}, actSize ${header.actSize} (env ${header.env}), but env ${spec.id} has obsSize ${spec.obsSize}, actSize ${spec.actSize}`);
  }
  // An MCAP bag carries no env id (header.env ''): a robot log seeds the sim env of the same layout.
  if (header.env !== '' && header.env !== spec.id) throw new SeedDataError(`${path}: header says env "${header.env}", but the run's env is "${spec.id}"; record seed data on the env it seeds`);
}

/** An open seed-data file: its header now, its records as they are read. */
export interface SeedDataSource {
  readonly path: string;
  readonly header: SeedDataHeader;
  /** Streams every record, checked; throws {@link SeedDataError} at the first bad one. Once per source. */
  transitions(): AsyncGenerator<SeedTransition>;
  /** Releases the file when the records are not read to the end. */
  close(): void;
}

/** Writes a seed-data file; readers never see a half-written file (temp file + rename on {@link close}). */
export interface SeedDataSink {
  readonly path: string;
  write(t: SeedTransition): Promise<void>;
  /** Finishes and publishes the file; returns the records written. */
  close(): Promise<number>;
  /** Discards the partial file. */
  abort(): Promise<void>;
}

/** A container format for seed data, chosen by file extension. */
export interface SeedDataFormat {
  readonly name: string;
  /** Lower-case file-name endings, e.g. `.jsonl`; the longest matching one wins. */
  readonly extensions: readonly string[];
  open(path: string): Promise<SeedDataSource>;
  create(path: string, header: SeedDataHeader): Promise<SeedDataSink>;
}

/** Shortest decimal that reads back as the same float32 (≤ 9 significant digits). */
export function formatFloat32(v: number): string {
  const f = Math.fround(v);
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  for (let p = 1; p <= 9; p++) {
    const n = Number(f.toPrecision(p));
    if (Math.fround(n) === f) return String(n);
  }
  return String(f);
}

function floatList(a: Float32Array): string {
  let s = '[';
  for (let i = 0; i < a.length; i++) s += (i > 0 ? ',' : '') + formatFloat32(a[i]!);
  return `${s}]`;
}

/** One record as a JSON object with the fields in documented order. */
export function seedRecordJson(t: SeedTransition): string {
  if (!Number.isFinite(t.reward)) throw new SeedDataError(`seed record: reward ${t.reward} is not finite`);
  return `{"obs":${floatList(t.obs)},"action":${floatList(t.action)},"reward":${String(t.reward)},"failure":${t.failure},"terminated":${t.terminated},"truncated":${t.truncated},"next_obs":${floatList(t.nextObs)}}`;
}

/**
 * JSON Lines (`.jsonl`), optionally gzip-compressed (`.jsonl.gz`): line 1 is the header object,
 * every further non-blank line one record object.
 */
export const JSON_LINES_FORMAT: SeedDataFormat = {
  name: 'JSON Lines',
  extensions: ['.jsonl', '.jsonl.gz'],
  async open(path) {
    const file = createReadStream(path);
    await once(file, 'open').catch((e: unknown) => {
      throw new SeedDataError(`${path}: cannot open (${e instanceof Error ? e.message : String(e)})`);
    });
    let input: Readable = file;
    if (path.toLowerCase().endsWith('.gz')) {
      const gunzip = createGunzip();
      input = file.pipe(gunzip);
      file.on('error', (e) => gunzip.destroy(e));
    }
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    const it = lines[Symbol.asyncIterator]();
    const close = (): void => {
      lines.close();
      input.destroy();
      file.destroy();
    };
    const readError = (e: unknown): SeedDataError => new SeedDataError(`${path}: cannot read (${e instanceof Error ? e.message : String(e)})${path.endsWith('.gz') ? '; is it gzip-compressed?' : ''}`);
    let lineNo = 0;
    const parseLine = (text: string): unknown => {
      try {
        return JSON.parse(text);
      } catch (e) {
        throw new SeedDataError(`${path}:${lineNo}: not valid JSON (${e instanceof Error ? e.message : String(e)}); each line holds one JSON object`);
      }
    };
    let first: IteratorResult<string>;
    try {
      do {
        first = await it.next();
        lineNo++;
      } while (!first.done && first.value.trim() === '');
    } catch (e) {
      close();
      throw readError(e);
    }
    if (first.done) {
      close();
      throw new SeedDataError(`${path}: the file is empty; expected a header line {"format": "${SEED_DATA_FORMAT}", …}`);
    }
    let header: SeedDataHeader;
    try {
      header = parseSeedHeader(parseLine(first.value), path, lineNo);
    } catch (e) {
      close();
      throw e;
    }
    let used = false;
    return {
      path,
      header,
      close,
      async *transitions() {
        if (used) throw new SeedDataError(`${path}: transitions() can be read once per open source`);
        used = true;
        let record = 0;
        try {
          for (;;) {
            let next: IteratorResult<string>;
            try {
              next = await it.next();
            } catch (e) {
              throw readError(e);
            }
            if (next.done) return;
            lineNo++;
            if (next.value.trim() === '') continue;
            record++;
            yield parseSeedRecord(parseLine(next.value), header, { path, record, line: lineNo });
          }
        } finally {
          close();
        }
      },
    };
  },
  async create(path, header) {
    parseSeedHeader(header, path);
    const tmp = tempSiblingPath(path);
    const file = createWriteStream(tmp);
    await once(file, 'open').catch((e: unknown) => {
      throw new SeedDataError(`${path}: cannot create (${e instanceof Error ? e.message : String(e)})`);
    });
    let out: Writable = file;
    if (path.toLowerCase().endsWith('.gz')) {
      const gzip = createGzip();
      gzip.pipe(file);
      out = gzip;
    }
    // A write error (disk full, …) surfaces at the next write or at close, naming the file.
    let failed: string | undefined;
    const onError = (e: unknown): void => {
      failed ??= e instanceof Error ? e.message : String(e);
    };
    file.on('error', onError);
    out.on('error', onError);
    const check = (): void => {
      if (failed !== undefined) throw new SeedDataError(`${path}: cannot write (${failed})`);
    };
    let count = 0;
    const put = async (text: string): Promise<void> => {
      check();
      if (!out.write(text)) await once(out, 'drain');
    };
    await put(`${JSON.stringify(header)}\n`);
    return {
      path,
      async write(t) {
        if (t.obs.length !== header.obsSize || t.nextObs.length !== header.obsSize || t.action.length !== header.actSize) {
          throw new SeedDataError(`${path}: transition ${count + 1} has obs ${t.obs.length}, next_obs ${t.nextObs.length}, action ${t.action.length} values; the header says obsSize ${header.obsSize}, actSize ${header.actSize}`);
        }
        await put(`${seedRecordJson(t)}\n`);
        count++;
      },
      async close() {
        out.end();
        await finished(file).catch(onError);
        check();
        await rename(tmp, path);
        await fsyncDir(dirname(path));
        return count;
      },
      async abort() {
        out.end();
        await finished(file).catch(() => undefined);
        await rm(tmp, { force: true });
      },
    };
  },
};

/**
 * rosbag2 MCAP (`.mcap`): the `/csc/transition` messages (csc_node/msg/Transition, the same seven
 * fields) that `csc node` and `csc train --record-transitions FILE.mcap` record, beside whatever
 * else the bag holds (docs/ros-packaging.md). A bag has no env id: its header takes the sizes from
 * the first transition and `env` ''; every record is then checked like a JSON Lines one.
 */
export const MCAP_FORMAT: SeedDataFormat = {
  name: 'rosbag2 MCAP',
  extensions: ['.mcap'],
  async open(path) {
    const records = await readMcapTransitions(path).catch((e: unknown) => {
      throw new SeedDataError(e instanceof Error ? e.message : String(e));
    });
    const first = records[0];
    if (first === undefined) throw new SeedDataError(`${path}: the bag has no ${TRANSITION_TOPIC} messages; expected transitions recorded by csc node or csc train --record-transitions`);
    const header: SeedDataHeader = { format: SEED_DATA_FORMAT, version: SEED_DATA_VERSION, env: '', obsSize: first.obs.length, actSize: first.action.length, container: 'mcap' };
    let used = false;
    return {
      path,
      header,
      close: () => undefined,
      async *transitions() {
        if (used) throw new SeedDataError(`${path}: transitions() can be read once per open source`);
        used = true;
        for (const [i, r] of records.entries()) {
          const raw = { ...r, obs: Array.from(r.obs), action: Array.from(r.action), next_obs: Array.from(r.next_obs) };
          yield await Promise.resolve(parseSeedRecord(raw, header, { path, record: i + 1 }));
        }
      },
    };
  },
  async create(path, header) {
    parseSeedHeader(header, path);
    const recorder = await McapRecorder.open(path);
    let count = 0;
    return {
      path,
      write(t) {
        if (t.obs.length !== header.obsSize || t.nextObs.length !== header.obsSize || t.action.length !== header.actSize) {
          return Promise.reject(new SeedDataError(`${path}: transition ${count + 1} has obs ${t.obs.length}, next_obs ${t.nextObs.length}, action ${t.action.length} values; the header says obsSize ${header.obsSize}, actSize ${header.actSize}`));
        }
        // Log time: one millisecond per transition from 0, so the bag's order is the run's order.
        recorder.writeTransition({ obs: t.obs, action: t.action, reward: t.reward, failure: t.failure, terminated: t.terminated, truncated: t.truncated, next_obs: t.nextObs }, BigInt(count) * 1_000_000n);
        count++;
        return Promise.resolve();
      },
      async close() {
        await recorder.close();
        return count;
      },
      async abort() {
        await recorder.close().catch(() => undefined);
        await rm(path, { force: true });
      },
    };
  },
};

/** Every seed-data container this package reads and writes, by extension (docs/seed-data.md). */
export const SEED_DATA_FORMATS: readonly SeedDataFormat[] = [JSON_LINES_FORMAT, MCAP_FORMAT];

/** The format of `path`, by its longest matching extension. */
export function seedDataFormatFor(path: string): SeedDataFormat {
  const lower = path.toLowerCase();
  let best: { format: SeedDataFormat; len: number } | undefined;
  for (const format of SEED_DATA_FORMATS) {
    for (const ext of format.extensions) if (lower.endsWith(ext) && ext.length > (best?.len ?? 0)) best = { format, len: ext.length };
  }
  if (best === undefined) {
    throw new SeedDataError(`${path}: unknown seed-data file type; expected a name ending in ${SEED_DATA_FORMATS.flatMap((f) => f.extensions).join(', ')}`);
  }
  return best.format;
}

/**
 * Opens a seed-data file (format by extension) and checks its header, against `spec` when given.
 * Records are streamed and checked one by one by `transitions()`.
 */
export async function loadSeedData(path: string, spec?: Pick<EnvSpec, 'id' | 'obsSize' | 'actSize'>): Promise<SeedDataSource> {
  const source = await seedDataFormatFor(path).open(path);
  if (spec !== undefined) {
    try {
      checkHeaderFits(source.header, path, spec);
    } catch (e) {
      source.close();
      throw e;
    }
  }
  return source;
}

/** Creates a seed-data file (format by extension) for writing. */
export async function createSeedData(path: string, header: { readonly env: string; readonly obsSize: number; readonly actSize: number; readonly [meta: string]: unknown }): Promise<SeedDataSink> {
  // Format and version first, so the file says what it is on its first bytes.
  const { format: _format, version: _version, ...rest } = header;
  return seedDataFormatFor(path).create(path, { format: SEED_DATA_FORMAT, version: SEED_DATA_VERSION, ...rest });
}

/** What seeding put into a replay buffer; written to the run folder as `seed-data.json`. */
export interface SeedSummary {
  readonly path: string;
  /** SHA-256 of the file's bytes, so a resumed run re-seeds from the very same data. */
  readonly sha256: string;
  readonly env: string;
  readonly records: number;
  /** Records still in the buffer (fewer than `records` when the file exceeds its capacity). */
  readonly kept: number;
  readonly failures: number;
  readonly terminated: number;
  readonly truncated: number;
}

/** SHA-256 of a file's bytes, hex. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    throw new SeedDataError(`${path}: cannot read (${e instanceof Error ? e.message : String(e)})`);
  }
  return hash.digest('hex');
}

/**
 * Seeds D_env from `path` (Appendix A.10): every record, checked against `spec`, is added as
 * (s, a, s′, r, c, terminated). Nothing is added when any record is bad: the records are checked
 * in a first pass, so a malformed file leaves the buffer as it was.
 */
export async function seedReplayBuffer(buffer: ReplayBuffer, path: string, spec: Pick<EnvSpec, 'id' | 'obsSize' | 'actSize'>): Promise<SeedSummary> {
  const sha256 = await fileSha256(path);
  let checked = 0;
  const check = await loadSeedData(path, spec);
  for await (const _t of check.transitions()) checked++;
  const source = await loadSeedData(path, spec);
  let records = 0;
  let failures = 0;
  let terminated = 0;
  let truncated = 0;
  for await (const t of source.transitions()) {
    buffer.add(t.obs, t.action, t.nextObs, t.reward, t.failure, t.terminated);
    records++;
    failures += t.failure;
    terminated += t.terminated ? 1 : 0;
    truncated += t.truncated ? 1 : 0;
  }
  if (records !== checked) throw new SeedDataError(`${path}: changed while it was read (${checked} records, then ${records})`);
  return { path, sha256, env: source.header.env, records, kept: Math.min(records, buffer.capacity), failures, terminated, truncated };
}
