import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.ts';
import { lambdaEpochStep, mixAdvantages, proposalCostAdvantage, updateLambda } from './lagrange.ts';

const base = { lambda: 1, lr: 0.04, gamma: 0.99, chi: 0.05, meanCostAdvantage: 0 };

test('λ rises when the constraint is violated (failures above χ)', () => {
  // V̂_C = 0.3 > χ = 0.05: χ′ = −0.25, λ ← 1 + 0.04·(0 + 0.25) = 1.01
  assert.ok(Math.abs(updateLambda({ ...base, avgFailures: 0.3 }) - 1.01) < 1e-12);
});

test('λ falls when the constraint holds with slack, and never goes below 0', () => {
  // V̂_C = 0 < χ: χ′ = 0.05, λ ← 1 − 0.04·0.05 = 0.998
  assert.ok(Math.abs(updateLambda({ ...base, avgFailures: 0 }) - 0.998) < 1e-12);
  assert.equal(updateLambda({ ...base, lambda: 0.001, avgFailures: 0, chi: 0.5 }), 0);
  assert.equal(updateLambda({ ...base, lambda: 0, avgFailures: 0 }), 0);
});

test('a positive mean cost advantage, scaled by 1/(1−γ), pushes λ up', () => {
  // E[Â_C] = 0.01 → 0.01/0.01 = 1; constraint exactly met (V̂_C = χ): λ ← 1 + 0.04·1 = 1.04
  assert.ok(Math.abs(updateLambda({ ...base, avgFailures: 0.05, meanCostAdvantage: 0.01 }) - 1.04) < 1e-9);
});


test('non-finite inputs are rejected with the field named', () => {
  assert.throws(() => updateLambda({ ...base, avgFailures: NaN }), /avgFailures is NaN/);
});

test('λ never falls in an epoch whose failures exceed χ, whatever the noise in E[Â_C] or the window', () => {
  const r = new Rng(11);
  for (let i = 0; i < 20_000; i++) {
    const chi = r.range(0, 0.3);
    const lambda = r.range(0, 2);
    const epochFailures = chi + r.range(1e-6, 1);
    const step = lambdaEpochStep({
      lambda,
      lr: 0.04,
      gamma: 0.99,
      chi,
      epochFailures,
      windowFailures: r.range(0, 1) < 0.5 ? null : r.range(0, 1),
      meanCostAdvantage: r.normal() * 0.01, // ±1 per episode after ×1/(1−γ): far more than χ
      advantage: 'behaviour',
    });
    assert.ok(step.lambda > lambda, `λ ${lambda} → ${step.lambda} with failures ${epochFailures} > χ ${chi}`);
    assert.ok(step.policyRisk >= epochFailures, 'V̂_C^π is never below the failures seen');
  }
  // The printed form with a negative sample mean of E[Â_C] can lower λ in such an epoch: the
  // reason `behaviour` floors it.
  const printed = lambdaEpochStep({ lambda: 1, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: 0.1, windowFailures: null, meanCostAdvantage: -0.002, advantage: 'fresh' });
  assert.ok(printed.lambda < 1);
});

test('λ falls with slack: window and epoch both below χ, π no riskier than the behaviour', () => {
  const step = lambdaEpochStep({ lambda: 1, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: 0, windowFailures: 0.02, meanCostAdvantage: 0, advantage: 'behaviour' });
  // bracket = 0.02 − 0.05 = −0.03 → λ = 1 − 0.0012
  assert.ok(Math.abs(step.lambda - 0.9988) < 1e-12);
  assert.ok(Math.abs(step.policyRisk - 0.02) < 1e-12);
  // π riskier than the filtered behaviour by E[Â_C] = 1e-3 per step → +0.1 per episode: λ rises.
  const risky = lambdaEpochStep({ lambda: 1, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: 0, windowFailures: 0.02, meanCostAdvantage: 1e-3, advantage: 'behaviour' });
  assert.ok(Math.abs(risky.policyRisk - 0.12) < 1e-9);
  assert.ok(risky.lambda > 1);
});

test('`observed`: λ integrates the epoch failures beyond χ, ignores E[Â_C] and the window', () => {
  const step = (epochFailures: number, windowFailures: number | null, meanCostAdvantage: number): number =>
    lambdaEpochStep({ lambda: 0.1, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures, windowFailures, meanCostAdvantage, advantage: 'observed' }).lambda;
  // 0.3 failures per episode: λ ← 0.1 + 0.04·(0.3 − 0.05) = 0.11, whatever E[Â_C] or the window say.
  assert.ok(Math.abs(step(0.3, null, 0) - 0.11) < 1e-12);
  assert.ok(Math.abs(step(0.3, 0.9, 0.05) - 0.11) < 1e-12);
  assert.ok(Math.abs(step(0.3, 0.9, -0.05) - 0.11) < 1e-12);
  // The first epoch without failures lowers λ by η_λ·χ = 0.002 even while the window still holds
  // earlier failures (with `behaviour` the window's 0.2 would keep raising it).
  assert.ok(Math.abs(step(0, 0.2, 0) - 0.098) < 1e-12);
  const behaviour = lambdaEpochStep({ lambda: 0.1, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: 0, windowFailures: 0.2, meanCostAdvantage: 0, advantage: 'behaviour' });
  assert.ok(behaviour.lambda > 0.1);
  // Summed over epochs, λ/η_λ is the failures per episode seen beyond χ: 3 epochs at 0.3, then
  // 5 at 0 → 0.04·(3·0.25 − 5·0.05) = 0.02.
  let lambda = 0;
  for (const f of [0.3, 0.3, 0.3, 0, 0, 0, 0, 0]) {
    lambda = lambdaEpochStep({ lambda, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: f, windowFailures: f, meanCostAdvantage: 0.01, advantage: 'observed' }).lambda;
  }
  assert.ok(Math.abs(lambda - 0.02) < 1e-12);
});

test('λ with decay ρ forgets past violations: the regularised dual step, by hand', () => {
  // λ ← max(0, (1 − ρ)λ + η_λ(E[Â_C]/(1−γ) − χ′)): ρ = 0.2, λ = 0.1, V̂_C = 0 → 0.08 − 0.002 = 0.078.
  assert.ok(Math.abs(updateLambda({ ...base, lambda: 0.1, decay: 0.2, avgFailures: 0 }) - 0.078) < 1e-12);
  // ρ = 0 is eq. 9: 0.1 − 0.002.
  assert.ok(Math.abs(updateLambda({ ...base, lambda: 0.1, decay: 0, avgFailures: 0 }) - 0.098) < 1e-12);
  // A constant violation V̂_C^π − χ = 0.25 settles where ρλ = η_λ·0.25: λ* = 0.04·0.25/0.2 = 0.05,
  // where eq. 9 grows without bound.
  let leaky = 0;
  let plain = 0;
  for (let t = 0; t < 200; t++) {
    leaky = lambdaEpochStep({ lambda: leaky, lr: 0.04, decay: 0.2, gamma: 0.99, chi: 0.05, epochFailures: 0.3, windowFailures: null, meanCostAdvantage: 0, advantage: 'behaviour' }).lambda;
    plain = lambdaEpochStep({ lambda: plain, lr: 0.04, gamma: 0.99, chi: 0.05, epochFailures: 0.3, windowFailures: null, meanCostAdvantage: 0, advantage: 'behaviour' }).lambda;
  }
  assert.ok(Math.abs(leaky - 0.05) < 1e-9, `leaky λ ${leaky}`);
  assert.ok(Math.abs(plain - 200 * 0.04 * 0.25) < 1e-9, `plain λ ${plain}`);
  // Still never falls in an epoch above χ while λ is below that level.
  const up = lambdaEpochStep({ lambda: 0.01, lr: 0.04, decay: 0.2, gamma: 0.99, chi: 0.05, epochFailures: 0.3, windowFailures: null, meanCostAdvantage: 0, advantage: 'behaviour' });
  assert.ok(up.lambda > 0.01);
});

test('eq. 5 as printed: Ã = Â_R − λ′Â_C with λ′ = λ/(1−γ), over the batch rows only', () => {
  const advR = Float32Array.from([1, 2, 3, 99]);
  const advC = Float32Array.from([0.01, 0, -0.02, 99]);
  // λ = 0.5, γ = 0.9 → λ′ = 5: [1 − 0.05, 3 + 0.1] for rows 0 and 2
  const out = mixAdvantages(advR, advC, 0.5, 0.9, [0, 2], 'paper');
  assert.equal(out.length, 2);
  assert.ok(Math.abs(out[0]! - 0.95) < 1e-6 && Math.abs(out[1]! - 3.1) < 1e-6, out.join(', '));
  assert.deepEqual([...mixAdvantages(advR, null, 0.5, 0.9, [1], 'paper')], [2]);
});

test('normalised mix: (z(Â_R) − λ·z(Â_C))/(1+λ), each term standardised over the rows, by hand', () => {
  // rows 0,1: Â_R = [1, 3] → mean 2, std 1 → z = [−1, 1]; Â_C = [0.02, 0] → mean 0.01, std 0.01 → z = [1, −1]
  const advR = Float32Array.from([1, 3, 50]);
  const advC = Float32Array.from([0.02, 0, 7]);
  // λ = 1: [(−1 − 1)/2, (1 + 1)/2] = [−1, 1]; λ = 0.25: [(−1 − 0.25)/1.25, (1 + 0.25)/1.25] = [−1, 1]
  for (const lambda of [1, 0.25]) {
    const out = mixAdvantages(advR, advC, lambda, 0.99, [0, 1], 'normalised');
    assert.ok(Math.abs(out[0]! + 1) < 1e-6 && Math.abs(out[1]! - 1) < 1e-6, `λ=${lambda}: ${out.join(', ')}`);
  }
  // opposing terms: Â_C = [0, 0.02] (z = [−1, 1], the same sign as Â_R's): λ = 1 cancels them, λ = 3 lets the cost win
  const agree = Float32Array.from([0, 0.02, 7]);
  const tie = mixAdvantages(advR, agree, 1, 0.99, [0, 1], 'normalised');
  assert.ok(Math.abs(tie[0]!) < 1e-6 && Math.abs(tie[1]!) < 1e-6, tie.join(', '));
  const cost = mixAdvantages(advR, agree, 3, 0.99, [0, 1], 'normalised');
  assert.ok(Math.abs(cost[0]! - 0.5) < 1e-6 && Math.abs(cost[1]! + 0.5) < 1e-6, cost.join(', '));
  // the scale of Â_C does not matter (×1000), unlike in the printed form
  const big = mixAdvantages(advR, Float32Array.from([0, 20, 7]), 3, 0.99, [0, 1], 'normalised');
  assert.ok(Math.abs(big[0]! - 0.5) < 1e-6, big.join(', '));
  // a term without spread contributes nothing; λ = 0 is the reward term alone
  const flat = mixAdvantages(advR, Float32Array.from([0.3, 0.3, 7]), 2, 0.99, [0, 1], 'normalised');
  assert.ok(Math.abs(flat[0]! + 1 / 3) < 1e-6 && Math.abs(flat[1]! - 1 / 3) < 1e-6, flat.join(', '));
  const none = mixAdvantages(advR, advC, 0, 0.99, [0, 1], 'normalised');
  assert.deepEqual([...none], [-1, 1]);
});

test('a turned-away proposal weighs −λ′(Q_C(s, a₀) − V_C(s)) by hand, λ′ = λ/(1−γ)', () => {
  // λ = 0.5, γ = 0.99: λ′ = 50. Q = 0.3 over V_C = 0.1 → −10; Q = 0.1 under V_C = 0.2 → +5.
  const adv = proposalCostAdvantage(Float32Array.from([0.3, 0.1]), Float32Array.from([0.1, 0.2]), 0.5, 0.99);
  assert.ok(Math.abs(adv[0]! + 10) < 1e-4 && Math.abs(adv[1]! - 5) < 1e-4, Array.from(adv).join(', '));
  assert.deepEqual(Array.from(proposalCostAdvantage(Float32Array.from([0.9]), Float32Array.from([0.1]), 0, 0.99)), [-0]);
  assert.throws(() => proposalCostAdvantage(new Float32Array(2), new Float32Array(3), 1, 0.99), /2 Q values but 3 values V_C/);
});
