import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.ts';
import { pointNavSpec } from '../envs/point-nav.ts';
import { initBackend } from '../nn/backend.ts';
import { GaussianPolicy } from '../nn/policy.ts';
import { PolicyActor, holdAction } from './actor.ts';
import type { CandidateScorer } from './actor.ts';

before(async () => {
  await initBackend('auto');
});

const spec = pointNavSpec();

/** A critic that judges every candidate too risky: the deployed filter always exhausts. */
const alwaysRisky: CandidateScorer = { predictCandidates: (_o, n, _a, k) => new Float32Array(n * k).fill(0.9) };

function actor(fallback: 'lowest' | 'last' | 'sample-lowest'): PolicyActor {
  const policy = new GaussianPolicy({ obsSize: spec.obsSize, actSize: spec.actSize, hidden: [8], activation: 'tanh', initLogStd: 0 }, new Rng(1));
  return new PolicyActor(spec, 'csc', policy, alwaysRisky, 0.05, { candidates: 16, probe: 4, threshold: 'q', fallback, fallbackPool: 4 }, 7, () => { policy.dispose(); });
}

test('deployed exhaustion: `hold` returns the hold action (zero inside the bounds), flagged; `fallback` the training fallback', () => {
  const a = actor('last');
  const obs = new Float32Array(3 * spec.obsSize).fill(0.1);
  const held = a.act(obs, 3, { onExhausted: 'hold' });
  assert.deepEqual([...held.exhausted], [1, 1, 1]);
  assert.deepEqual([...held.actions], [0, 0, 0, 0, 0, 0]);
  const fell = a.act(obs, 3);
  assert.deepEqual([...fell.exhausted], [1, 1, 1]);
  assert.ok(fell.actions.some((v) => v !== 0), 'the fallback is a sampled candidate, not the hold');
  a.dispose();
});

test('the hold action is zero clipped into the bounds', () => {
  assert.deepEqual(holdAction({ ...spec, actLow: [0.2, -1], actHigh: [1, -0.5] }), Float32Array.from([0.2, -0.5]));
  assert.deepEqual([...holdAction(spec)], [0, 0]);
});
