import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ReplayBuffer } from '../core/replay.ts';
import { Rng } from '../core/rng.ts';
import { PointNavVecEnv } from '../envs/point-nav.ts';
import { initBackend } from '../nn/backend.ts';
import { CheckpointError } from '../nn/checkpoint.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import { type LearnerConfig, resolveConfig } from './config.ts';
import { CscLearner } from './csc.ts';
import { loadDeployedPolicy } from './load.ts';
import { SacLearner, softBellmanTarget, temperatureLoss } from './sac.ts';

before(async () => {
  await initBackend('auto');
});

const small = (o: Partial<LearnerConfig> = {}): LearnerConfig =>
  resolveConfig({ algo: 'sac', numEnvs: 4, stepsPerEpoch: 200, epochs: 2, sacWarmupSteps: 100, sacBatch: 32, sacUpdatesPerStep: 0.25, policyHidden: [16], criticHidden: [16], ...o });

const strip = (ms: readonly EpochMetrics[]): unknown[] => ms.map(({ wallS: _w, stepsPerS: _s, ...rest }) => rest);

async function runEpochs(config: LearnerConfig): Promise<{ metrics: EpochMetrics[]; learner: SacLearner }> {
  const learner = new SacLearner(config, new PointNavVecEnv(config.numEnvs));
  await learner.start();
  const metrics = [];
  for (let e = 0; e < config.epochs; e++) metrics.push(await learner.runEpoch());
  return { metrics, learner };
}

test('the soft Bellman target matches r + γ(1 − done)(min Q̄ − α log π) worked by hand', () => {
  const y = tf.tidy(() =>
    softBellmanTarget({
      reward: tf.tensor1d([1, 0.5, -0.2]),
      terminated: tf.tensor1d([0, 1, 0]),
      nextQ1: tf.tensor1d([2, 3, -1]),
      nextQ2: tf.tensor1d([1.5, 4, 0.5]),
      nextLogProb: tf.tensor1d([-1, 0.3, 2]),
      alpha: 0.2,
      gamma: 0.9,
    }).arraySync(),
  );
  // Row 0: 1 + 0.9·(min(2, 1.5) − 0.2·(−1)) = 1 + 0.9·1.7 = 2.53.
  // Row 1: terminal, no bootstrap: 0.5.
  // Row 2: −0.2 + 0.9·(min(−1, 0.5) − 0.2·2) = −0.2 + 0.9·(−1.4) = −1.46.
  const expected = [2.53, 0.5, -1.46];
  y.forEach((v, i) => {
    assert.ok(Math.abs(v - expected[i]!) < 1e-6, `row ${i}: ${v} vs ${expected[i]}`);
  });
});

test('the temperature gradient is −(E log π + H̄): α rises when the entropy is below its target', () => {
  const H = -2;
  for (const [meanLogProb, expectedGrad] of [
    [3, -1], // entropy −3 < −2: gradient −(3 − 2) = −1, descent raises log α
    [1.5, 0.5], // entropy −1.5 > −2: gradient −(1.5 − 2) = 0.5, descent lowers log α
  ] as const) {
    const logAlpha = tf.variable(tf.scalar(Math.log(0.2)));
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => temperatureLoss(x, meanLogProb, H))(logAlpha).dataSync()[0]!);
    assert.ok(Math.abs(g - expectedGrad) < 1e-6, `grad ${g} vs ${expectedGrad}`);
    logAlpha.dispose();
  }
});

/** A replay buffer of random point-nav transitions. */
function randomReplay(n: number): ReplayBuffer {
  const rng = new Rng(5);
  const buf = new ReplayBuffer(n, 17, 2);
  for (let i = 0; i < n; i++) {
    const s = Float32Array.from({ length: 17 }, () => rng.range(-1, 1));
    const s2 = Float32Array.from(s, (v) => v + 0.01 * rng.normal());
    buf.add(s, [rng.range(-1, 1), rng.range(-1, 1)], s2, rng.normal(), 0, false);
  }
  return buf;
}

test('one learner update moves α towards the entropy target −|A|, in both directions', () => {
  const buf = randomReplay(64);
  const cases = [
    { logStdBias: 0, direction: -1 }, // σ ≈ 1: entropy ≈ 1.1 > −2, α falls
    { logStdBias: -5, direction: 1 }, // σ ≈ e⁻⁵: entropy ≈ −7 < −2, α rises
  ];
  for (const { logStdBias, direction } of cases) {
    const learner = new SacLearner(small({ sacBatch: 64 }), new PointNavVecEnv(4));
    const bias = learner.policy.net.vars.at(-1)!;
    bias.assign(tf.tensor1d([0, 0, logStdBias, logStdBias]));
    const before = learner.alpha;
    const stats = learner.update(buf.sample(64, new Rng(1)));
    assert.equal(stats.alpha, before);
    assert.ok(direction * (learner.alpha - before) > 0, `log σ bias ${logStdBias}: α ${before} → ${learner.alpha} (entropy ${stats.entropy})`);
    assert.ok(direction < 0 ? stats.entropy > learner.targetEntropy : stats.entropy < learner.targetEntropy);
    learner.dispose();
  }
});

test('the same seed gives the same SAC run twice, another seed does not; no tensors leak', async () => {
  const cfg = small({ epochs: 3 });
  const a = await runEpochs(cfg);
  const b = await runEpochs(cfg);
  const c = await runEpochs({ ...cfg, seed: 1 });
  assert.ok(a.metrics.every((m) => Number.isFinite(m.criticLoss)), 'updates ran every epoch');
  assert.deepEqual(strip(a.metrics), strip(b.metrics));
  assert.notDeepEqual(strip(a.metrics), strip(c.metrics));
  assert.deepEqual(Array.from(a.learner.q1.getFlat()), Array.from(b.learner.q1.getFlat()));
  const count = tf.memory().numTensors;
  await a.learner.runEpoch();
  assert.equal(tf.memory().numTensors, count, 'tensor count after one more epoch');
  for (const r of [a, b, c]) r.learner.dispose();
});

test('a SAC checkpoint round-trips: restored learner, loaded actor and deterministic mean actions', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-sac-ck-'));
  const cfg = small();
  const { learner } = await runEpochs(cfg);
  await learner.save(dir);
  const twin = new SacLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await twin.restore(dir);
  assert.equal(twin.epoch, learner.epoch);
  assert.equal(twin.alpha, learner.alpha);
  for (const k of ['q1', 'q2', 'q1Target', 'q2Target'] as const) assert.deepEqual(Array.from(twin[k].getFlat()), Array.from(learner[k].getFlat()), k);
  const obs = await new PointNavVecEnv(3).reset(42);
  const loaded = await loadDeployedPolicy(dir, { seed: cfg.seed + 17 });
  assert.equal(loaded.algo, 'sac');
  assert.equal(loaded.hasCritic, false);
  const a = learner.deployed().act(obs, 3);
  const b = loaded.act(obs, 3);
  assert.deepEqual(Array.from(a.actions), Array.from(b.actions));
  // Deterministic: box(tanh(μ(s))) by hand from the network output (point-nav's box is [−1, 1]²).
  const det = loaded.act(obs, 3, { deterministic: true });
  const mu = tf.tidy(() => learner.policy.net.apply(tf.tensor2d(obs, [3, 17])).arraySync());
  for (let i = 0; i < 3; i++) for (let k = 0; k < 2; k++) assert.ok(Math.abs(det.actions[i * 2 + k]! - Math.tanh(mu[i]![k]!)) < 1e-6);
  assert.deepEqual(Array.from(loaded.act(obs, 3, { deterministic: true }).actions), Array.from(det.actions));
  assert.ok(det.qc.every((q) => Number.isNaN(q)));
  // Resuming continues the run's counters (D_env is not restored here: the training loop does that).
  await twin.start();
  await learner.start();
  const [m1, m2] = [await learner.runEpoch(), await twin.runEpoch()];
  assert.equal(m2.epoch, m1.epoch);
  assert.equal(m2.totalEnvSteps, m1.totalEnvSteps);
  // A CSC checkpoint is refused by name.
  const cscDir = await mkdtemp(join(tmpdir(), 'csc-sac-ck-'));
  const csc = new CscLearner(resolveConfig({ numEnvs: 4, stepsPerEpoch: 40, policyHidden: [16], valueHidden: [16], criticHidden: [16] }), new PointNavVecEnv(4));
  await csc.save(cscDir);
  await assert.rejects(twin.restore(cscDir), (e: unknown) => e instanceof CheckpointError && /trained with algo 'csc', this learner is 'sac'/.test(e.message));
  await assert.rejects(twin.initPolicyFrom(cscDir), /--init-policy for sac needs a sac checkpoint/);
  for (const l of [loaded, learner, twin, csc]) l.dispose();
});

test('a short seeded SAC run on point-nav fits its critics and raises its reward', async () => {
  const cfg = resolveConfig({ algo: 'sac', seed: 0, epochs: 6, numEnvs: 8, stepsPerEpoch: 1000, sacUpdatesPerStep: 0.125, sacBatch: 64, sacWarmupSteps: 500, policyHidden: [32, 32], criticHidden: [32, 32] });
  const { metrics, learner } = await runEpochs(cfg);
  const qLoss = metrics.map((m) => m.criticLoss);
  assert.ok(qLoss.at(-1)! < 0.6 * qLoss[0]!, `Q loss ${qLoss.map((q) => q.toFixed(3)).join(' → ')}`);
  const mean = (ms: readonly EpochMetrics[]): number => {
    const r = ms.map((m) => m.avgReward).filter(Number.isFinite);
    return r.reduce((s, v) => s + v, 0) / r.length;
  };
  const early = mean(metrics.slice(0, 3));
  const late = mean(metrics.slice(3));
  assert.ok(late > early + 3, `average reward ${early.toFixed(2)} (epochs 0–2) → ${late.toFixed(2)} (epochs 3–5)`);
  learner.dispose();
});
