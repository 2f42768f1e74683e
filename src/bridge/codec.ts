/**
 * csc-sim/1 codec: msgpack bodies (msgpackr with `useRecords: false`, since its records extension
 * is unreadable to other languages) and float arrays as raw little-endian bytes. Every reply is
 * checked field by field here before anything else sees it; a violation is a
 * {@link BridgeProtocolError} naming the field, what was expected and what arrived.
 */
import { endianness } from 'node:os';
import { Packr } from 'msgpackr';
import type { Frame } from '../envs/env.ts';
import { BridgeProtocolError } from './errors.ts';
import {
  ERROR_CODES,
  PROTOCOL_VERSION,
  type ErrorCode,
  type PingData,
  type RenderData,
  type Reply,
  type Request,
  type ResetData,
  type SpecData,
  type StepData,
  type WireArray,
  type WireDtype,
} from './messages.ts';

// Typed arrays are viewed as raw bytes in host order; the wire is little-endian.
if (endianness() !== 'LE') {
  throw new Error(`csc-sim/1 needs a little-endian host to share float bytes, this one is ${endianness()}`);
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Largest integer msgpackr sends as a msgpack int without help; above it we pass a BigInt. */
const MAX_UINT32 = 0xffff_ffff;

/** Encodes one request. Integers above 2³² go as int64 (msgpackr would otherwise send a float). */
export function encodeRequest(req: Request): Buffer {
  switch (req.op) {
    case 'reset':
      return packr.pack({ ...req, seed: req.seed > MAX_UINT32 ? BigInt(req.seed) : req.seed });
    case 'step':
      // an absent render field stays absent on the wire (msgpackr would send nil for undefined)
      return packr.pack(req.render === undefined ? { v: req.v, id: req.id, op: req.op, actions: req.actions } : req);
    case 'spec':
    case 'close':
    case 'ping':
    case 'render':
      return packr.pack(req);
  }
}

/** Views a float32 array's bytes as a wire array (no copy; msgpackr copies into the frame). */
export function f32ToWire(values: Float32Array, shape: readonly number[]): WireArray {
  return { dtype: 'f32', shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

/** Decodes a frame's msgpack and checks the reply envelope (`v`, `id`, `ok`, `data` / `error`). */
export function decodeReply(frame: Uint8Array): Reply {
  let msg: unknown;
  try {
    msg = packr.unpack(frame);
  } catch (e) {
    throw new BridgeProtocolError(`reply: not valid msgpack (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isRecord(msg)) throw new BridgeProtocolError(`reply: expected a msgpack map, got ${kind(msg)}`);
  if (msg.v !== PROTOCOL_VERSION) {
    throw new BridgeProtocolError(`reply.v: expected ${PROTOCOL_VERSION}, got ${show(msg.v)}`);
  }
  const id = msg.id;
  if (id !== null && !isNonNegInt(id)) {
    throw new BridgeProtocolError(`reply.id: expected a non-negative integer or nil, got ${show(id)}`);
  }
  if (msg.ok === true) {
    if (!('data' in msg)) throw new BridgeProtocolError(`reply ${id}: ok reply without data`);
    return { v: PROTOCOL_VERSION, id, ok: true, data: msg.data };
  }
  if (msg.ok === false) {
    const err = msg.error;
    if (!isRecord(err)) throw new BridgeProtocolError(`reply ${id}.error: expected a map, got ${kind(err)}`);
    const code = err.code;
    if (!isErrorCode(code)) {
      throw new BridgeProtocolError(`reply ${id}.error.code: expected one of ${ERROR_CODES.join(', ')}, got ${show(code)}`);
    }
    if (typeof err.message !== 'string') {
      throw new BridgeProtocolError(`reply ${id}.error.message: expected a string, got ${kind(err.message)}`);
    }
    return { v: PROTOCOL_VERSION, id, ok: false, error: { code, message: err.message } };
  }
  throw new BridgeProtocolError(`reply ${id}.ok: expected true or false, got ${show(msg.ok)}`);
}

/** Checks a `spec` reply's data against the EnvSpec contract. */
export function parseSpecData(data: unknown): SpecData {
  const d = record(data, 'spec');
  const obsSize = posInt(d.obsSize, 'spec.obsSize');
  const actSize = posInt(d.actSize, 'spec.actSize');
  return {
    protocol: str(d.protocol, 'spec.protocol'),
    id: str(d.id, 'spec.id'),
    obsSize,
    actSize,
    actLow: numbers(d.actLow, 'spec.actLow', actSize),
    actHigh: numbers(d.actHigh, 'spec.actHigh', actSize),
    obsNames: strings(d.obsNames, 'spec.obsNames', obsSize),
    actNames: strings(d.actNames, 'spec.actNames', actSize),
    maxEpisodeSteps: posInt(d.maxEpisodeSteps, 'spec.maxEpisodeSteps'),
    controlPeriodS: finite(d.controlPeriodS, 'spec.controlPeriodS'),
    failureMeaning: str(d.failureMeaning, 'spec.failureMeaning'),
    numEnvs: posInt(d.numEnvs, 'spec.numEnvs'),
  };
}

/** Checks a `reset` reply for `numEnvs` envs of `obsSize` observations. */
export function parseResetData(data: unknown, numEnvs: number, obsSize: number): ResetData {
  const d = record(data, 'reset');
  return { obs: readArray(d.obs, 'reset.obs', 'f32', [numEnvs, obsSize]) };
}

/**
 * Checks a `step` reply for `numEnvs` envs of `obsSize` observations; with `frameSize`, the reply
 * must carry the frame the step asked for.
 */
export function parseStepData(
  data: unknown,
  numEnvs: number,
  obsSize: number,
  frameSize?: { readonly widthPx: number; readonly heightPx: number },
): StepData {
  const d = record(data, 'step');
  const step = {
    obs: readArray(d.obs, 'step.obs', 'f32', [numEnvs, obsSize]),
    nextObs: readArray(d.nextObs, 'step.nextObs', 'f32', [numEnvs, obsSize]),
    reward: readArray(d.reward, 'step.reward', 'f32', [numEnvs]),
    failure: readArray(d.failure, 'step.failure', 'u8', [numEnvs]),
    terminated: readArray(d.terminated, 'step.terminated', 'u8', [numEnvs]),
    truncated: readArray(d.truncated, 'step.truncated', 'u8', [numEnvs]),
  };
  if (frameSize === undefined) return step;
  return { ...step, frame: readFrame(d.frame, 'step.frame', frameSize.widthPx, frameSize.heightPx) };
}

/** Checks a `render` reply for a `widthPx × heightPx` frame. */
export function parseRenderData(data: unknown, widthPx: number, heightPx: number): RenderData {
  const d = record(data, 'render');
  return { frame: readFrame(d.frame, 'render.frame', widthPx, heightPx) };
}

function readFrame(obj: unknown, where: string, widthPx: number, heightPx: number): Frame {
  return { widthPx, heightPx, rgb: readArray(obj, where, 'u8', [heightPx, widthPx, 3]) };
}

/** Checks a `ping` reply. */
export function parsePingData(data: unknown): PingData {
  const d = record(data, 'ping');
  if (!(d.payload instanceof Uint8Array)) {
    throw new BridgeProtocolError(`ping.payload: expected bin, got ${kind(d.payload)}`);
  }
  return { payload: d.payload };
}

/**
 * Checks a wire array and copies it into a fresh, aligned typed array. The copy is required: the
 * bytes msgpackr hands back sit at arbitrary offsets of the frame, and a Float32Array view needs a
 * 4-byte-aligned offset.
 */
export function readArray(obj: unknown, where: string, dtype: 'f32', shape: readonly number[]): Float32Array;
export function readArray(obj: unknown, where: string, dtype: 'u8', shape: readonly number[]): Uint8Array;
export function readArray(
  obj: unknown,
  where: string,
  dtype: WireDtype,
  shape: readonly number[],
): Float32Array | Uint8Array {
  const a = record(obj, where);
  if (a.dtype !== dtype) throw new BridgeProtocolError(`${where}.dtype: expected ${dtype}, got ${show(a.dtype)}`);
  const gotShape = a.shape;
  if (
    !Array.isArray(gotShape) ||
    gotShape.length !== shape.length ||
    !gotShape.every((n: unknown, i) => n === shape[i])
  ) {
    throw new BridgeProtocolError(`${where}.shape: expected [${shape.join(', ')}], got ${show(gotShape)}`);
  }
  const data = a.data;
  if (!(data instanceof Uint8Array)) throw new BridgeProtocolError(`${where}.data: expected bin, got ${kind(data)}`);
  const count = shape.reduce((p, n) => p * n, 1);
  const bytes = dtype === 'f32' ? count * 4 : count;
  if (data.byteLength !== bytes) {
    throw new BridgeProtocolError(`${where}.data: shape [${shape.join(', ')}] of ${dtype} needs ${bytes} bytes, got ${data.byteLength}`);
  }
  if (dtype === 'u8') return Uint8Array.from(data);
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(data);
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && (ERROR_CODES as readonly string[]).includes(x);
}

function record(x: unknown, where: string): Record<string, unknown> {
  if (!isRecord(x)) throw new BridgeProtocolError(`${where}: expected a map, got ${kind(x)}`);
  return x;
}

function str(x: unknown, where: string): string {
  if (typeof x !== 'string') throw new BridgeProtocolError(`${where}: expected a string, got ${kind(x)}`);
  return x;
}

function posInt(x: unknown, where: string): number {
  if (!isNonNegInt(x) || x === 0) throw new BridgeProtocolError(`${where}: expected a positive integer, got ${show(x)}`);
  return x;
}

function finite(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new BridgeProtocolError(`${where}: expected a finite number, got ${show(x)}`);
  }
  return x;
}

function numbers(x: unknown, where: string, length: number): number[] {
  if (!Array.isArray(x) || x.length !== length) {
    throw new BridgeProtocolError(`${where}: expected ${length} numbers, got ${show(x)}`);
  }
  return x.map((v: unknown, i) => {
    // bounds may be ±Infinity (an unbounded Box), never NaN
    if (typeof v !== 'number' || Number.isNaN(v)) {
      throw new BridgeProtocolError(`${where}[${i}]: expected a number, got ${show(v)}`);
    }
    return v;
  });
}

function strings(x: unknown, where: string, length: number): string[] {
  if (!Array.isArray(x) || x.length !== length) {
    throw new BridgeProtocolError(`${where}: expected ${length} strings, got ${show(x)}`);
  }
  return x.map((v: unknown, i) => str(v, `${where}[${i}]`));
}

function kind(x: unknown): string {
  if (x === null) return 'nil';
  if (Array.isArray(x)) return 'array';
  if (x instanceof Uint8Array) return 'bin';
  return typeof x;
}

function show(x: unknown): string {
  if (x instanceof Uint8Array) return `bin(${x.byteLength})`;
  if (typeof x === 'bigint') return `${x}n`;
  try {
    const s = JSON.stringify(x);
    return s === undefined ? String(x) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return kind(x);
  }
}
