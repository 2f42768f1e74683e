import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplayBuffer } from '../core/replay.ts';
import { CheckpointError } from '../nn/checkpoint.ts';
import { REPLAY_FILES, readReplayInto, removeReplay, writeReplay } from './replay-file.ts';

type Entry = ReturnType<ReplayBuffer['entries']> extends Generator<infer T> ? T : never;
const plain = (es: Iterable<Entry>): unknown[] =>
  [...es].map((e) => ({ obs: [...e.obs], action: [...e.action], nextObs: [...e.nextObs], reward: e.reward, cost: e.cost, terminated: e.terminated, discount: e.discount }));

/** A wrapped ring of 4 tuples (6 added) with one-step (NaN) and 8-step discounts, failures and terminals. */
function filled(): ReplayBuffer {
  const b = new ReplayBuffer(4, 3, 2);
  for (let i = 0; i < 6; i++) b.add([i, i + 0.5, -i], [i / 10, -i / 10], [i + 1, i + 1.5, -i - 1], i * 2, i % 3 === 0 ? 1 : 0, i === 4, i % 2 === 0 ? Number.NaN : 0.99 ** 8);
  return b;
}

test('D_env round-trips through replay.json + replay.bin: the same tuples, oldest first; a smaller buffer keeps the newest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-replay-'));
  const saved = filled();
  await writeReplay(dir, saved);
  const header = JSON.parse(await readFile(join(dir, REPLAY_FILES.header), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(header, { format: 'csc-node-replay/1', count: 4, obsSize: 3, actSize: 2, bytes: 4 * (2 * 3 + 2 + 4) * 4 });
  const back = new ReplayBuffer(10, 3, 2);
  assert.equal(await readReplayInto(dir, back), true);
  assert.equal(back.size, 4);
  assert.deepEqual(plain(back.entries()), plain(saved.entries()));
  assert.deepEqual([...back.entries()].map((e) => e.reward), [4, 6, 8, 10], 'the ring order is kept: tuples 2–5, oldest first');
  const smaller = new ReplayBuffer(2, 3, 2);
  await readReplayInto(dir, smaller);
  assert.deepEqual([...smaller.entries()].map((e) => e.reward), [8, 10]);
  // No saved D_env (an older checkpoint, or one written before D_env was saved): nothing to add.
  await removeReplay(dir);
  const none = new ReplayBuffer(4, 3, 2);
  assert.equal(await readReplayInto(dir, none), false);
  assert.equal(none.size, 0);
});

test('a corrupt or unfit saved D_env fails naming the file and what was expected', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-replay-'));
  await writeReplay(dir, filled());
  await assert.rejects(readReplayInto(dir, new ReplayBuffer(4, 5, 2)), (e: unknown) => e instanceof CheckpointError && /replay\.json: tuples of observation size 3 and action size 2, this learner's D_env holds 5 and 2/.test(e.message));
  const bin = join(dir, REPLAY_FILES.data);
  const bytes = await readFile(bin);
  await truncate(bin, 100);
  await assert.rejects(readReplayInto(dir, new ReplayBuffer(4, 3, 2)), /replay\.bin has 100 bytes, replay\.json describes 4 tuples = 192 bytes/);
  // A non-finite reward in tuple 1 (the rewards follow s, a and s′ of all 4 tuples).
  const bad = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  bad[4 * (2 * 3 + 2) + 1] = Number.POSITIVE_INFINITY;
  await writeFile(bin, new Uint8Array(bad.buffer));
  await assert.rejects(readReplayInto(dir, new ReplayBuffer(4, 3, 2)), /replay\.bin: tuple 1 holds a non-finite value/);
  bad[4 * (2 * 3 + 2) + 1] = 0;
  bad[4 * (2 * 3 + 2) + 3 * 4 + 2] = 1.5;
  await writeFile(bin, new Uint8Array(bad.buffer));
  await assert.rejects(readReplayInto(dir, new ReplayBuffer(4, 3, 2)), /tuple 2 has bootstrap discount 1\.5, expected one in \(0, 1\] or NaN/);
  await writeFile(join(dir, REPLAY_FILES.header), '{"format":"other"}');
  await assert.rejects(readReplayInto(dir, new ReplayBuffer(4, 3, 2)), /replay\.json: format "other", expected "csc-node-replay\/1"/);
});
