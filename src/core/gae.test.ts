import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gae } from './gae.ts';

const close = (a: ArrayLike<number>, b: readonly number[], tol = 1e-5): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('GAE on one env, worked by hand: a truncation bootstraps, a terminal does not', () => {
  // γ = 0.5, λ = 0.5. Steps 0,1 form an episode truncated at step 1 (bootstrap V(s′)=4);
  // step 2 is a one-step episode ending in a terminal state (no bootstrap).
  // t=2: δ = 1 + 0 − 2 = −1;            Â2 = −1
  // t=1: δ = 0 + 0.5·4 − 1 = 1;         Â1 = 1 (done: recursion cut)
  // t=0: δ = 2 + 0.5·1 − 3 = −0.5;      Â0 = −0.5 + 0.25·1 = −0.25
  const out = gae({
    steps: 3,
    numEnvs: 1,
    rewards: Float32Array.from([2, 0, 1]),
    values: Float32Array.from([3, 1, 2]),
    nextValues: Float32Array.from([1, 4, 9]),
    terminated: Uint8Array.from([0, 0, 1]),
    done: Uint8Array.from([0, 1, 1]),
    gamma: 0.5,
    lambda: 0.5,
  });
  close(out.advantages, [-0.25, 1, -1]);
  close(out.returns, [2.75, 2, 1]);
});

test('GAE keeps envs separate in the time-major layout and bootstraps the rollout end', () => {
  // Two envs, two steps, γ = 0.9, λ = 1 (Monte-Carlo with bootstrap at the rollout end).
  // env0: r = [1, 1], V = [0, 0], V(s′) = [0, 10], never done → Â1 = 1 + 9 = 10, Â0 = 1 + 0.9·10 = 10
  // env1: r = [0, 5], V = [1, 1], terminated at t=0 → Â0 = 0 − 1 = −1; t=1: δ = 5 + 0.9·2 − 1 = 5.8
  const out = gae({
    steps: 2,
    numEnvs: 2,
    rewards: Float32Array.from([1, 0, 1, 5]),
    values: Float32Array.from([0, 1, 0, 1]),
    nextValues: Float32Array.from([0, 7, 10, 2]),
    terminated: Uint8Array.from([0, 1, 0, 0]),
    done: Uint8Array.from([0, 1, 0, 0]),
    gamma: 0.9,
    lambda: 1,
  });
  close(out.advantages, [10, -1, 10, 5.8]);
});

test('GAE rejects arrays of the wrong length, naming the array', () => {
  assert.throws(
    () => gae({ steps: 2, numEnvs: 1, rewards: new Float32Array(2), values: new Float32Array(1), nextValues: new Float32Array(2), terminated: new Uint8Array(2), done: new Uint8Array(2), gamma: 0.9, lambda: 0.9 }),
    /values has 1 entries, expected 2/,
  );
});
