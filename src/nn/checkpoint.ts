/**
 * Checkpoint files: `checkpoint.json` (format tag, metadata, a table of named tensors with shapes
 * and offsets) beside `weights.bin` (the tensors' float32 values, little-endian, concatenated).
 * Both are written to temporary names and renamed, so a crash never leaves a half-written pair.
 * Loading checks the format, every tensor's presence and shape, and the file size, and says which
 * tensor of which checkpoint is wrong.
 */
import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export const CHECKPOINT_FORMAT = 'csc-node-checkpoint/1';

/** A checkpoint is missing, corrupt, or does not fit the network it is loaded into. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/** One named tensor to save. */
export interface NamedArray {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/** Our float32 files are little-endian, written as the host's bytes: refuse a big-endian host. */
export function assertLittleEndian(writer: string): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new CheckpointError(`${writer}: big-endian hosts are not supported`);
}

/** Writes `checkpoint.json` + `weights.bin` into `dir` (created if needed). */
export async function saveCheckpoint(dir: string, meta: Record<string, unknown>, tensors: readonly NamedArray[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const table: TensorEntry[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.values.length) throw new CheckpointError(`saveCheckpoint: tensor ${t.name} has ${t.values.length} values but shape [${t.shape.join(', ')}]`);
    table.push({ name: t.name, shape: [...t.shape], offset, length: size });
    offset += size;
  }
  const weights = new Float32Array(offset);
  tensors.forEach((t, i) => {
    weights.set(t.values, table[i]!.offset);
  });
  const bytes = Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength);
  assertLittleEndian('saveCheckpoint');
  const json = JSON.stringify({ format: CHECKPOINT_FORMAT, meta, tensors: table, weightsBytes: bytes.byteLength }, null, 1);
  await writeFile(join(dir, 'weights.bin.tmp'), bytes);
  await writeFile(join(dir, 'checkpoint.json.tmp'), json);
  await rename(join(dir, 'weights.bin.tmp'), join(dir, 'weights.bin'));
  await rename(join(dir, 'checkpoint.json.tmp'), join(dir, 'checkpoint.json'));
}

/** A loaded checkpoint: metadata and shape-checked access to its tensors. */
export interface LoadedCheckpoint {
  readonly dir: string;
  readonly meta: Record<string, unknown>;
  readonly names: readonly string[];
  /** Values of tensor `name`; throws {@link CheckpointError} when absent or of another shape. */
  get(name: string, expectedShape: readonly number[]): Float32Array;
}

/** Reads a checkpoint directory written by {@link saveCheckpoint}. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  let text: string;
  try {
    text = await readFile(join(dir, 'checkpoint.json'), 'utf8');
  } catch (e) {
    throw new CheckpointError(`${dir}: no checkpoint.json (${e instanceof Error ? e.message : String(e)}); expected a directory written by csc train (e.g. runs/…/checkpoints/latest)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${dir}/checkpoint.json is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isRecord(parsed) || parsed.format !== CHECKPOINT_FORMAT) {
    const got = isRecord(parsed) ? JSON.stringify(parsed.format) : typeof parsed;
    throw new CheckpointError(`${dir}/checkpoint.json: format ${got}, expected "${CHECKPOINT_FORMAT}"`);
  }
  const meta = parsed.meta;
  const tensors = parsed.tensors;
  if (!isRecord(meta) || !Array.isArray(tensors)) throw new CheckpointError(`${dir}/checkpoint.json: missing 'meta' object or 'tensors' list`);
  const table = new Map<string, TensorEntry>();
  for (const [i, t] of tensors.entries()) {
    if (!isRecord(t) || typeof t.name !== 'string' || !Array.isArray(t.shape) || !t.shape.every((s) => Number.isInteger(s)) || !Number.isInteger(t.offset) || !Number.isInteger(t.length)) {
      throw new CheckpointError(`${dir}/checkpoint.json: tensors[${i}] is malformed, expected {name, shape, offset, length}`);
    }
    table.set(t.name, { name: t.name, shape: t.shape as number[], offset: t.offset as number, length: t.length as number });
  }
  const buf = await readFile(join(dir, 'weights.bin')).catch((e: unknown) => {
    throw new CheckpointError(`${dir}: cannot read weights.bin (${e instanceof Error ? e.message : String(e)})`);
  });
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  const weights = new Float32Array(copy.buffer);
  const need = [...table.values()].reduce((m, t) => Math.max(m, t.offset + t.length), 0);
  if (weights.length < need || parsed.weightsBytes !== buf.byteLength) {
    throw new CheckpointError(`${dir}/weights.bin has ${buf.byteLength} bytes, checkpoint.json expects ${String(parsed.weightsBytes)} (truncated or mismatched pair)`);
  }
  return {
    dir,
    meta,
    names: [...table.keys()],
    get(name, expectedShape) {
      const t = table.get(name);
      if (t === undefined) throw new CheckpointError(`${dir}: tensor '${name}' is missing; the checkpoint has ${[...table.keys()].join(', ')}`);
      if (t.shape.length !== expectedShape.length || t.shape.some((s, i) => s !== expectedShape[i])) {
        throw new CheckpointError(`${dir}: tensor '${name}' has shape [${t.shape.join(', ')}], the network expects [${expectedShape.join(', ')}]`);
      }
      const v = weights.slice(t.offset, t.offset + t.length);
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i])) throw new CheckpointError(`${dir}: tensor '${name}' holds a non-finite value at index ${i}`);
      }
      return v;
    },
  };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
