import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayBuffer } from './replay.ts';
import { NStepWriter } from './nstep.ts';

const row = (t: number, cost = 0, terminated = false) => ({ obs: [t], action: [t / 10], nextObs: [t + 1], reward: 1, cost, terminated });

test('n-step tuples: discounted cost, the n-th next state, γ^h, shorter horizons at an episode end', () => {
  const buf = new ReplayBuffer(100, 1, 1);
  const w = new NStepWriter(buf, 1, 3, 0.5);
  // Steps 0..4 of one episode, failure at step 4 (terminal).
  for (let t = 0; t < 4; t++) w.push(0, row(t), false);
  w.push(0, row(4, 1, true), true);
  const got = [...buf.entries()].map((x) => ({ s: x.obs[0], s2: x.nextObs[0], c: x.cost, r: x.reward, term: x.terminated, d: x.discount }));
  assert.deepEqual(
    got.map((g) => [g.s, g.s2, g.term]),
    [
      [0, 3, false], // h = 3: s_3
      [1, 4, false],
      [2, 5, true], // h = 3 reaching the failure: c = γ²·1
      [3, 5, true], // h = 2 (episode end)
      [4, 5, true], // h = 1
    ],
  );
  assert.deepEqual(
    got.map((g) => g.c),
    [0, 0, 0.25, 0.5, 1],
  );
  assert.deepEqual(
    got.map((g) => g.r),
    [1.75, 1.75, 1.75, 1.5, 1],
  );
  // The discounts: γ³ for full tuples, γ² and γ for the shortened ones.
  assert.deepEqual(
    got.map((g) => g.d),
    [0.125, 0.125, 0.125, 0.25, 0.5],
  );
});

test('n = 1 writes plain one-step tuples (NaN discount: the learner’s γ); flushAll empties every env', () => {
  const buf = new ReplayBuffer(10, 1, 1);
  const w = new NStepWriter(buf, 2, 1, 0.9);
  w.push(0, row(0), false);
  w.push(1, row(7), false);
  assert.equal(buf.size, 2);
  assert.ok([...buf.entries()].every((x) => Number.isNaN(x.discount)));
  const w3 = new NStepWriter(buf, 2, 3, 0.9);
  w3.push(0, row(0), false);
  w3.push(1, row(7), false);
  w3.push(1, row(8), false);
  assert.equal(buf.size, 2, 'nothing leaves before n steps follow it');
  w3.flushAll();
  assert.equal(buf.size, 5);
  assert.throws(() => new NStepWriter(buf, 1, 0, 0.9), /n must be an integer ≥ 1/);
});
