/**
 * D_env on disk, so that `csc train --resume` continues with the replay buffer it stopped with
 * instead of refilling it: `replay.json` (format tag, tuple count, sizes, byte count) beside
 * `replay.bin` (float32, little-endian: every tuple's s, a, s′ oldest first, then the rewards,
 * costs, terminal flags and bootstrap discounts). The training loop writes the pair into the
 * newest checkpoint only (src/runs/train.ts), so a run folder holds one copy.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, assertLittleEndian } from '../nn/checkpoint.ts';
import type { ReplayBuffer } from '../core/replay.ts';

export const REPLAY_FORMAT = 'csc-node-replay/1';
export const REPLAY_FILES = { header: 'replay.json', data: 'replay.bin' } as const;

/** Writes `buffer`'s tuples, oldest first, into `dir` (which must exist). */
export async function writeReplay(dir: string, buffer: ReplayBuffer): Promise<void> {
  assertLittleEndian('writeReplay');
  const n = buffer.size;
  const o = buffer.obsSize;
  const a = buffer.actSize;
  const data = new Float32Array(n * (2 * o + a + 4));
  const actAt = n * o;
  const nextAt = n * (o + a);
  const scalarsAt = n * (2 * o + a);
  let k = 0;
  for (const t of buffer.entries()) {
    data.set(t.obs, k * o);
    data.set(t.action, actAt + k * a);
    data.set(t.nextObs, nextAt + k * o);
    data[scalarsAt + k] = t.reward;
    data[scalarsAt + n + k] = t.cost;
    data[scalarsAt + 2 * n + k] = t.terminated ? 1 : 0;
    data[scalarsAt + 3 * n + k] = t.discount;
    k++;
  }
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  await writeFile(join(dir, REPLAY_FILES.data), bytes);
  await writeFile(join(dir, REPLAY_FILES.header), `${JSON.stringify({ format: REPLAY_FORMAT, count: n, obsSize: o, actSize: a, bytes: bytes.byteLength })}\n`);
}

/**
 * Adds the tuples saved in `dir` to `buffer`, oldest first (a smaller buffer keeps the newest).
 * Returns false when `dir` holds no saved D_env (a checkpoint written before D_env was saved, or
 * not the newest); throws {@link CheckpointError} naming the file when the pair is corrupt or its
 * sizes do not fit the buffer.
 */
export async function readReplayInto(dir: string, buffer: ReplayBuffer): Promise<boolean> {
  const headerPath = join(dir, REPLAY_FILES.header);
  let text: string;
  try {
    text = await readFile(headerPath, 'utf8');
  } catch {
    return false;
  }
  let h: unknown;
  try {
    h = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${headerPath} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const rec = typeof h === 'object' && h !== null ? (h as Record<string, unknown>) : {};
  if (rec.format !== REPLAY_FORMAT) throw new CheckpointError(`${headerPath}: format ${JSON.stringify(rec.format)}, expected "${REPLAY_FORMAT}"`);
  const int = (k: string): number => {
    const v = rec[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new CheckpointError(`${headerPath}: ${k} is ${JSON.stringify(v)}, expected an integer ≥ 0`);
    return v;
  };
  const n = int('count');
  const o = int('obsSize');
  const a = int('actSize');
  if (o !== buffer.obsSize || a !== buffer.actSize) {
    throw new CheckpointError(`${headerPath}: tuples of observation size ${o} and action size ${a}, this learner's D_env holds ${buffer.obsSize} and ${buffer.actSize}`);
  }
  const dataPath = join(dir, REPLAY_FILES.data);
  const buf = await readFile(dataPath).catch((e: unknown) => {
    throw new CheckpointError(`${dataPath}: cannot read (${e instanceof Error ? e.message : String(e)})`);
  });
  const expected = n * (2 * o + a + 4) * 4;
  if (buf.byteLength !== expected || int('bytes') !== expected) {
    throw new CheckpointError(`${dataPath} has ${buf.byteLength} bytes, ${REPLAY_FILES.header} describes ${n} tuples = ${expected} bytes (truncated or mismatched pair)`);
  }
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  const data = new Float32Array(copy.buffer);
  const actAt = n * o;
  const nextAt = n * (o + a);
  const scalarsAt = n * (2 * o + a);
  const tuple = (k: number) => ({
    obs: data.subarray(k * o, (k + 1) * o),
    action: data.subarray(actAt + k * a, actAt + (k + 1) * a),
    nextObs: data.subarray(nextAt + k * o, nextAt + (k + 1) * o),
    scalars: [data[scalarsAt + k]!, data[scalarsAt + n + k]!, data[scalarsAt + 2 * n + k]!],
    discount: data[scalarsAt + 3 * n + k]!,
  });
  // Every tuple is checked before any is added: a corrupt file leaves the buffer as it was.
  for (let k = 0; k < n; k++) {
    const t = tuple(k);
    if (![t.obs, t.action, t.nextObs, t.scalars].every((xs) => xs.every(Number.isFinite))) throw new CheckpointError(`${dataPath}: tuple ${k} holds a non-finite value`);
    if (!Number.isNaN(t.discount) && !(t.discount > 0 && t.discount <= 1)) throw new CheckpointError(`${dataPath}: tuple ${k} has bootstrap discount ${t.discount}, expected one in (0, 1] or NaN (a one-step tuple)`);
  }
  for (let k = 0; k < n; k++) {
    const t = tuple(k);
    buffer.add(t.obs, t.action, t.nextObs, t.scalars[0]!, t.scalars[1]!, t.scalars[2] === 1, t.discount);
  }
  return true;
}

/** Deletes a saved D_env from `dir` (an older checkpoint once a newer one holds it). */
export async function removeReplay(dir: string): Promise<void> {
  await rm(join(dir, REPLAY_FILES.data), { force: true });
  await rm(join(dir, REPLAY_FILES.header), { force: true });
}
