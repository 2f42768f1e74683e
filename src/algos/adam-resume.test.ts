import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../core/rng.ts';
import { PointNavVecEnv } from '../envs/point-nav.ts';
import { adamState, restoreAdam } from '../nn/adam-state.ts';
import { initBackend } from '../nn/backend.ts';
import { CheckpointError, loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.ts';
import { ValueFunction } from '../nn/value.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import { readReplayInto, writeReplay } from '../runs/replay-file.ts';
import { type LearnerConfig, resolveConfig } from './config.ts';
import { CscLearner } from './csc.ts';
import { SacLearner } from './sac.ts';

before(async () => {
  await initBackend('auto');
});

const strip = (ms: readonly EpochMetrics[]): unknown[] => ms.map(({ wallS: _w, stepsPerS: _s, ...rest }) => rest);

function regression(n: number, d: number): { obs: Float32Array; y: Float32Array } {
  const rng = new Rng(5);
  const obs = Float32Array.from({ length: n * d }, () => rng.normal());
  const y = Float32Array.from({ length: n }, (_, i) => Math.sin(obs[i * d]!) + 0.5 * obs[i * d + 1]!);
  return { obs, y };
}

test('Adam state round-trips: a value function fitted on after a save/restore matches one never interrupted, and differs without the state', async () => {
  const cfg = { obsSize: 3, hidden: [8], activation: 'tanh' as const, lr: 1e-2 };
  const { obs, y } = regression(64, 3);
  const fitRng = (): Rng => new Rng(9);
  const a = new ValueFunction(cfg, new Rng(1));
  a.fit(obs, y, 64, 3, 16, fitRng());
  const dir = await mkdtemp(join(tmpdir(), 'csc-adam-'));
  const adam = await adamState([a.adamSlot('value')]);
  assert.deepEqual({ ...adam.meta.value, accBeta: undefined }, { iterations: 12, moments: 4, accBeta: undefined });
  assert.ok(Math.abs(adam.meta.value!.accBeta[0] - 0.9 ** 13) < 1e-6 && Math.abs(adam.meta.value!.accBeta[1] - 0.999 ** 13) < 1e-6, adam.meta.value!.accBeta.join(', '));
  await saveCheckpoint(dir, { adam: adam.meta }, [...a.net.vars.map((v, i) => ({ name: `value/${i}`, shape: v.shape, values: v.dataSync() as Float32Array })), ...adam.tensors]);
  const ck = await loadCheckpoint(dir);

  const restored = new ValueFunction(cfg, new Rng(2));
  restored.net.setFlat(a.net.getFlat());
  assert.equal(await restoreAdam(ck, [restored.adamSlot('value')]), true);
  const fresh = new ValueFunction(cfg, new Rng(3));
  fresh.net.setFlat(a.net.getFlat());

  a.fit(obs, y, 64, 2, 16, fitRng());
  restored.fit(obs, y, 64, 2, 16, fitRng());
  fresh.fit(obs, y, 64, 2, 16, fitRng());
  assert.deepEqual(Array.from(restored.net.getFlat()), Array.from(a.net.getFlat()));
  assert.notDeepEqual(Array.from(fresh.net.getFlat()), Array.from(a.net.getFlat()), 'fresh moments must give other weights, or this test could not fail');
  assert.equal((await adamState([restored.adamSlot('value')])).meta.value!.iterations, 20);

  // A checkpoint from before Adam's state was saved leaves the optimiser fresh; a malformed entry is refused by name.
  assert.equal(await restoreAdam({ ...ck, meta: {} }, [fresh.adamSlot('value')]), false);
  await assert.rejects(
    restoreAdam({ ...ck, meta: { adam: { value: { ...adam.meta.value, moments: 3 } } } }, [fresh.adamSlot('value')]),
    (e: unknown) => e instanceof CheckpointError && /meta\.adam\.value is .*expected \{iterations: an integer ≥ 0, moments: 0 or 4, accBeta: two numbers in \(0, 1\)\}/.test(e.message),
  );
  const other = new ValueFunction({ ...cfg, hidden: [5] }, new Rng(4));
  await assert.rejects(restoreAdam(ck, [other.adamSlot('value')]), (e: unknown) => e instanceof CheckpointError && /tensor 'value\/adam-m\/0' has shape \[3, 8\], the network expects \[3, 5\]/.test(e.message));
  for (const v of [a, restored, fresh, other]) v.dispose();
});

test('a CSC learner restored with its D_env continues exactly as the original: the critic, value fit and policy step agree', async () => {
  const cfg: LearnerConfig = resolveConfig({
    algo: 'csc',
    numEnvs: 4,
    stepsPerEpoch: 400,
    epochs: 2,
    valueEpochs: 1,
    policyHidden: [16],
    valueHidden: [16],
    criticHidden: [16],
    criticUpdatesPerEpoch: 20,
    criticBatch: 64,
    filterCandidates: 10,
  });
  const run = async (learner: CscLearner, epochs: number, start = true): Promise<EpochMetrics[]> => {
    if (start) await learner.start();
    const out = [];
    for (let e = learner.epoch; e < epochs; e++) out.push(await learner.runEpoch());
    return out;
  };
  const learner = new CscLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await run(learner, 2);
  const dir = await mkdtemp(join(tmpdir(), 'csc-adam-csc-'));
  await learner.save(dir);
  await writeReplay(dir, learner.replay!);
  const twin = new CscLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await twin.restore(dir);
  assert.equal(await readReplayInto(dir, twin.replay!), true);
  // The original runs on; the twin's start() continues point-nav's episodes in flight from the
  // checkpoint, as `--resume` does: two more epochs must agree exactly.
  const a = await run(learner, 4, false);
  const b = await run(twin, 4);
  assert.equal(a.length, 2);
  assert.deepEqual(strip(b), strip(a));
  assert.deepEqual(Array.from(twin.value.net.getFlat()), Array.from(learner.value.net.getFlat()));
  twin.dispose();
  learner.dispose();
});

test('SAC checkpoints hold its three optimisers (critics, policy, temperature) and restore them', async () => {
  const cfg = resolveConfig({ algo: 'sac', numEnvs: 2, stepsPerEpoch: 200, epochs: 1, sacWarmupSteps: 50, sacBatch: 32, sacUpdatesPerStep: 0.25, policyHidden: [16], criticHidden: [16] });
  const learner = new SacLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await learner.start();
  await learner.runEpoch();
  const dir = await mkdtemp(join(tmpdir(), 'csc-adam-sac-'));
  await learner.save(dir);
  const saved = await loadCheckpoint(dir);
  const meta = saved.meta.adam as Record<string, { iterations: number; moments: number }>;
  assert.deepEqual(Object.keys(meta), ['q', 'pi', 'alpha']);
  assert.ok(meta.q!.iterations > 0 && meta.q!.moments === 8 && meta.alpha!.moments === 1, JSON.stringify(meta));
  const twin = new SacLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await twin.restore(dir);
  const dir2 = await mkdtemp(join(tmpdir(), 'csc-adam-sac2-'));
  await twin.save(dir2);
  assert.deepEqual((await loadCheckpoint(dir2)).meta.adam, saved.meta.adam);
  // Networks, then the moments, in the same order: the restored learner writes the same bytes.
  assert.deepEqual(await readFile(join(dir2, 'weights.bin')), await readFile(join(dir, 'weights.bin')));
  twin.dispose();
  learner.dispose();
});
