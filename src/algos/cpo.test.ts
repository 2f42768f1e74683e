import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PointNavVecEnv } from '../envs/point-nav.ts';
import { type BackendInfo, initBackend } from '../nn/backend.ts';
import { CheckpointError } from '../nn/checkpoint.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import { readMetrics } from '../runs/run-folder.ts';
import { train } from '../runs/train.ts';
import { type LearnerConfig, resolveConfig } from './config.ts';
import { CpoLearner } from './cpo.ts';
import { CscLearner } from './csc.ts';
import { loadDeployedPolicy } from './load.ts';

let backend: BackendInfo;
before(async () => {
  backend = await initBackend('auto');
});

const small = (o: Partial<LearnerConfig> = {}): LearnerConfig =>
  resolveConfig({ algo: 'cpo', numEnvs: 4, stepsPerEpoch: 400, epochs: 3, valueEpochs: 1, policyHidden: [16], valueHidden: [16], ...o });

const strip = (ms: readonly EpochMetrics[]): unknown[] => ms.map(({ wallS: _w, stepsPerS: _s, ...rest }) => rest);

async function runEpochs(config: LearnerConfig, learner = new CpoLearner(config, new PointNavVecEnv(config.numEnvs)), start = true): Promise<{ metrics: EpochMetrics[]; learner: CpoLearner }> {
  if (start) await learner.start();
  const metrics = [];
  for (let e = learner.epoch; e < config.epochs; e++) metrics.push(await learner.runEpoch());
  return { metrics, learner };
}

test('every accepted step stays within KL ≤ δ and the cost check; a rejected one keeps φ_old', async () => {
  const cfg = small({ maxKl: 0.005, epochs: 1 });
  const learner = new CpoLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await learner.start();
  let accepted = 0;
  for (let e = 0; e < 4; e++) {
    const before = learner.policy.getFlat();
    const obs = Float32Array.from({ length: 64 * learner.spec.obsSize }, (_, i) => Math.sin(i));
    const x = tf.tensor2d(obs, [64, learner.spec.obsSize]);
    const oldMean = learner.policy.mean.apply(x);
    const oldLogStd = tf.reshape<tf.Rank.R1>(learner.policy.logStd, [-1]).clone();
    const m = await learner.runEpoch();
    const step = learner.lastStep;
    assert.ok(step !== null);
    assert.equal(m.cpoCase, step.direction.case, 'the logged case is the step’s');
    assert.ok(m.kl <= 0.005, `epoch ${e}: KL ${m.kl}`);
    if (m.lineSearchAccepted) {
      accepted++;
      assert.ok(m.kl > 0, 'an accepted step moves the policy');
      // The constraint check of the line search held for the accepted step.
      assert.ok(step.direction.c + step.search.costChange <= Math.max(0, step.direction.c) + 1e-9);
    } else {
      assert.deepEqual(Array.from(learner.policy.getFlat()), Array.from(before), 'a rejected step keeps φ_old');
    }
    // KL on states the line search never saw: the trust region is on the mean over the batch, so
    // this is only a sanity bound (a few δ), not δ itself.
    const kl = learner.policy.meanKl(x, oldMean, oldLogStd).dataSync()[0]!;
    assert.ok(kl < 20 * 0.005, `epoch ${e}: KL on fresh states ${kl}`);
    tf.dispose([x, oldMean, oldLogStd]);
  }
  assert.ok(accepted > 0, 'at least one step was accepted');
  learner.dispose();
});

test('the same seed gives the same metrics twice; another seed does not', async () => {
  const a = await runEpochs(small());
  const b = await runEpochs(small());
  const c = await runEpochs(small({ seed: 1 }));
  assert.deepEqual(strip(a.metrics), strip(b.metrics));
  assert.notDeepEqual(strip(a.metrics), strip(c.metrics));
  assert.ok(a.metrics.every((m) => Number.isNaN(m.epsilon) && Number.isNaN(m.filterAcceptRate) && m.filterExhaustions === 0), 'no filter runs');
  for (const r of [a, b, c]) r.learner.dispose();
});

test('when failures exceed χ, the step is a recovery step that does not raise the predicted failures', async () => {
  // χ = 0: any failure makes c = J_C > 0 (cases 1 or 0).
  const cfg = small({ chi: 0, epochs: 1, stepsPerEpoch: 1600 });
  const learner = new CpoLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await learner.start();
  let violated = 0;
  for (let e = 0; e < 4; e++) {
    const m = await learner.runEpoch();
    const step = learner.lastStep!;
    if (m.avgFailures > 0) {
      violated++;
      assert.ok(step.direction.c > 0);
      assert.ok(step.direction.case === 0 || step.direction.case === 1, `case ${step.direction.case}`);
      if (step.search.accepted) assert.ok(step.search.costChange <= 0, `Δcost ${step.search.costChange}`);
    } else {
      assert.ok(step.direction.case >= 2);
    }
  }
  assert.ok(violated > 0, 'the fixture run needs failures');
  learner.dispose();
});

test('a checkpoint round-trips: the restored learner continues exactly as the original, and loads for acting', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-cpo-ck-'));
  const cfg = small({ epochs: 2 });
  const { learner } = await runEpochs(cfg);
  await learner.save(dir);
  const twin = new CpoLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await twin.restore(dir);
  assert.equal(twin.epoch, 2);
  assert.deepEqual(Array.from(twin.policy.getFlat()), Array.from(learner.policy.getFlat()));
  assert.deepEqual(Array.from(twin.costValue.net.getFlat()), Array.from(learner.costValue.net.getFlat()));
  // The original runs on; the twin's start() continues point-nav's episodes in flight from the
  // checkpoint: the next epochs (rollout, GAE on V and V_C, CPO step, and the value fits, whose Adam
  // state the checkpoint holds) must agree exactly.
  const more = { ...cfg, epochs: 4 };
  const a = await runEpochs(more, learner, false);
  const b = await runEpochs(more, twin);
  assert.equal(a.metrics.length, 2);
  assert.deepEqual(strip(a.metrics), strip(b.metrics));
  assert.deepEqual(Array.from(twin.policy.getFlat()), Array.from(learner.policy.getFlat()));
  assert.deepEqual(Array.from(twin.value.net.getFlat()), Array.from(learner.value.net.getFlat()));
  assert.deepEqual(Array.from(twin.costValue.net.getFlat()), Array.from(learner.costValue.net.getFlat()));
  // Loaded for acting: no critic, the raw policy's actions.
  const obs = await new PointNavVecEnv(3).reset(42);
  await learner.save(dir);
  const loaded = await loadDeployedPolicy(dir, { seed: cfg.seed + 17 });
  assert.equal(loaded.algo, 'cpo');
  assert.equal(loaded.hasCritic, false);
  const x = learner.deployed().act(obs, 3);
  const y = loaded.act(obs, 3);
  assert.deepEqual(Array.from(x.actions), Array.from(y.actions));
  loaded.dispose();
  // A CPO checkpoint is refused by the CSC learner and vice versa, naming both.
  const csc = new CscLearner(resolveConfig({ ...cfg, algo: 'trpo' }), new PointNavVecEnv(cfg.numEnvs));
  await assert.rejects(csc.restore(dir), (e: unknown) => e instanceof CheckpointError && /trained with algo 'cpo', this learner is 'trpo'/.test(e.message));
  csc.dispose();
  twin.dispose();
  learner.dispose();
});

test('train() with --algo cpo writes a run folder and resumes it', async () => {
  const out = await mkdtemp(join(tmpdir(), 'csc-cpo-run-'));
  const cfg = small({ epochs: 2 });
  const first = await train({ config: cfg, backend, out, resume: false, checkpointEvery: 1, progress: 'quiet' });
  assert.equal(first.epochs, 2);
  const resumed = await train({ config: { ...cfg, epochs: 3 }, backend, out, resume: true, checkpointEvery: 1, progress: 'quiet' });
  assert.equal(resumed.epochs, 3);
  assert.deepEqual((await readMetrics(out)).map((r) => r.epoch), [0, 1, 2]);
  const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.algo, 'cpo');
});

test('tensor count stays flat across epochs (no leaks)', async () => {
  const cfg = small({ epochs: 1 });
  const learner = new CpoLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await learner.start();
  await learner.runEpoch();
  const before = tf.memory().numTensors;
  for (let e = 0; e < 3; e++) await learner.runEpoch();
  assert.equal(tf.memory().numTensors, before);
  learner.dispose();
});
