import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayBuffer } from './replay.ts';
import { Rng } from './rng.ts';

test('the ring keeps the newest tuples and samples only stored ones', () => {
  const b = new ReplayBuffer(3, 2, 1);
  for (let i = 0; i < 5; i++) b.add([i, i], [i], [i + 1, i + 1], i, i % 2, false);
  assert.equal(b.size, 3);
  assert.deepEqual([...b.entries()].map((e) => e.reward), [2, 3, 4]);
  const batch = b.sample(50, new Rng(1));
  for (let k = 0; k < 50; k++) {
    const r = batch.rewards[k]!;
    assert.ok([2, 3, 4].includes(r));
    assert.equal(batch.obs[2 * k], r);
    assert.equal(batch.nextObs[2 * k], r + 1);
    assert.equal(batch.costs[k], r % 2);
  }
  assert.throws(() => new ReplayBuffer(3, 2, 1).sample(1, new Rng(1)), /empty/);
});
