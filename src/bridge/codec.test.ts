import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { decodeReply, encodeRequest, f32ToWire, parseSpecData, parseStepData, readArray } from './codec.ts';
import { BridgeProtocolError } from './errors.ts';

const packr = new Packr({ useRecords: false });

test('f32 arrays travel as little-endian raw bytes (same bytes as numpy tobytes)', () => {
  const w = f32ToWire(new Float32Array([1, -2.5]), [1, 2]);
  assert.equal(Buffer.from(w.data).toString('hex'), '0000803f000020c0');
  assert.deepEqual(w.shape, [1, 2]);
});

test('f32ToWire views a subarray without copying the rest', () => {
  const all = new Float32Array([9, 1, -2.5, 9]);
  const w = f32ToWire(all.subarray(1, 3), [2]);
  assert.equal(Buffer.from(w.data).toString('hex'), '0000803f000020c0');
});

test('readArray copies bytes at an unaligned offset into an aligned Float32Array', () => {
  // a one-byte prefix puts the float bytes at an odd offset, as msgpackr hands them back
  const backing = Buffer.from('ff0000803f000020c0', 'hex');
  const unaligned = backing.subarray(1);
  assert.equal(unaligned.byteOffset % 4 !== 0 || backing.byteOffset % 4 !== 0, true);
  const got = readArray({ dtype: 'f32', shape: [2], data: unaligned }, 'x', 'f32', [2]);
  assert.deepEqual(Array.from(got), [1, -2.5]);
  assert.equal(got.byteOffset, 0);
});

test('a request round-trips through msgpack with its typed array intact', () => {
  const acts = new Float32Array([0.5, -1, 2, 1e-7]);
  const frame = encodeRequest({ v: 1, id: 42, op: 'step', actions: f32ToWire(acts, [2, 2]) });
  const back: unknown = packr.unpack(frame);
  assert.ok(typeof back === 'object' && back !== null);
  const msg: Record<string, unknown> = { ...back };
  assert.equal(msg.v, 1);
  assert.equal(msg.id, 42);
  assert.equal(msg.op, 'step');
  assert.deepEqual(Array.from(readArray(msg.actions, 'actions', 'f32', [2, 2])), Array.from(acts));
});

test('reset seeds above 2^32 are sent as msgpack integers, not floats', () => {
  const frame = encodeRequest({ v: 1, id: 1, op: 'reset', seed: 2 ** 40 });
  // int64 marker 0xd3 followed by 2^40 big-endian
  assert.ok(frame.includes(Buffer.from('d30000010000000000', 'hex')));
  // 'seed' then positive fixint 7
  assert.ok(encodeRequest({ v: 1, id: 1, op: 'reset', seed: 7 }).includes(Buffer.from('a47365656407', 'hex')));
});

test('decodeReply accepts ok and error envelopes', () => {
  assert.deepEqual(decodeReply(packr.pack({ v: 1, id: 3, ok: true, data: { a: 1 } })), { v: 1, id: 3, ok: true, data: { a: 1 } });
  assert.deepEqual(decodeReply(packr.pack({ v: 1, id: null, ok: false, error: { code: 'bad_frame', message: 'm' } })), {
    v: 1,
    id: null,
    ok: false,
    error: { code: 'bad_frame', message: 'm' },
  });
});

const badReplies: [string, unknown, RegExp][] = [
  ['not a map', [1, 2], /expected a msgpack map, got array/],
  ['wrong version', { v: 2, id: 1, ok: true, data: {} }, /reply\.v: expected 1, got 2/],
  ['negative id', { v: 1, id: -1, ok: true, data: {} }, /reply\.id/],
  ['ok without data', { v: 1, id: 1, ok: true }, /without data/],
  ['ok not a bool', { v: 1, id: 1, ok: 'yes' }, /\.ok: expected true or false/],
  ['unknown error code', { v: 1, id: 1, ok: false, error: { code: 'oops', message: 'x' } }, /error\.code: expected one of/],
  ['error message missing', { v: 1, id: 1, ok: false, error: { code: 'env_error' } }, /error\.message: expected a string/],
];
for (const [name, msg, re] of badReplies) {
  test(`decodeReply rejects a reply with ${name}`, () => {
    assert.throws(() => decodeReply(packr.pack(msg)), (e: unknown) => e instanceof BridgeProtocolError && re.test(e.message));
  });
}

test('decodeReply rejects bytes that are not msgpack', () => {
  assert.throws(() => decodeReply(Buffer.from([0xc1])), BridgeProtocolError);
});

const spec = {
  protocol: 'csc-sim/1',
  id: 'gym:X',
  obsSize: 2,
  actSize: 1,
  actLow: [-1],
  actHigh: [1],
  obsNames: ['a', 'b'],
  actNames: ['u'],
  maxEpisodeSteps: 500,
  controlPeriodS: 0.05,
  failureMeaning: 'it fell',
  numEnvs: 4,
};

test('parseSpecData checks every EnvSpec field', () => {
  assert.deepEqual(parseSpecData(spec), spec);
  assert.throws(() => parseSpecData({ ...spec, obsNames: ['a'] }), /spec\.obsNames: expected 2 strings/);
  assert.throws(() => parseSpecData({ ...spec, actSize: 0 }), /spec\.actSize: expected a positive integer, got 0/);
  assert.throws(() => parseSpecData({ ...spec, controlPeriodS: 'fast' }), /spec\.controlPeriodS: expected a finite number/);
  assert.throws(() => parseSpecData({ ...spec, actLow: [NaN] }), /spec\.actLow\[0\]/);
  assert.deepEqual(parseSpecData({ ...spec, actLow: [-Infinity] }).actLow, [-Infinity]);
});

test('parseStepData checks dtype, shape and byte length of each array', () => {
  const f = (n: number): object => ({ dtype: 'f32', shape: [n], data: Buffer.alloc(4 * n) });
  const u = (n: number): object => ({ dtype: 'u8', shape: [n], data: Buffer.alloc(n) });
  const obs = { dtype: 'f32', shape: [2, 3], data: Buffer.alloc(24) };
  const good = { obs, nextObs: obs, reward: f(2), failure: u(2), terminated: u(2), truncated: u(2) };
  assert.equal(parseStepData(good, 2, 3).obs.length, 6);
  assert.throws(() => parseStepData({ ...good, reward: u(2) }, 2, 3), /step\.reward\.dtype: expected f32, got "u8"/);
  assert.throws(() => parseStepData({ ...good, failure: u(3) }, 2, 3), /step\.failure\.shape: expected \[2\], got \[3\]/);
  assert.throws(
    () => parseStepData({ ...good, obs: { ...obs, data: Buffer.alloc(20) } }, 2, 3),
    /step\.obs\.data: shape \[2, 3\] of f32 needs 24 bytes, got 20/,
  );
  assert.throws(() => parseStepData({ ...good, truncated: undefined }, 2, 3), /step\.truncated: expected a map/);
});
