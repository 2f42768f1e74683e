import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type LearnerConfig, resolveConfig } from '../src/algos/config.ts';
import { CscLearner } from '../src/algos/csc.ts';
import { centre, cpoPolicyStep } from '../src/algos/cpo.ts';
import { gae } from '../src/core/gae.ts';
import { SafetyCritic } from '../src/algos/safety-critic.ts';
import { loadDeployedPolicy } from '../src/algos/load.ts';
import type { VecEnv } from '../src/envs/env.ts';
import { PointNavVecEnv } from '../src/envs/point-nav.ts';
import { type BackendInfo, initBackend } from '../src/nn/backend.ts';
import { CheckpointError } from '../src/nn/checkpoint.ts';
import type { EpochMetrics } from '../src/runs/metrics.ts';
import { readMetrics } from '../src/runs/run-folder.ts';
import { train } from '../src/runs/train.ts';

let backend: BackendInfo;
before(async () => {
  backend = await initBackend('auto');
});

/** A small but complete configuration: every part of Algorithm 1 runs. */
const small = (o: Partial<LearnerConfig> = {}): LearnerConfig =>
  resolveConfig({ numEnvs: 4, stepsPerEpoch: 400, epochs: 2, criticUpdatesPerEpoch: 5, criticBatch: 64, filterCandidates: 10, filterProbe: 2, valueEpochs: 1, policyHidden: [16], valueHidden: [16], criticHidden: [16], ...o });

/** Metrics without the wall-clock fields. */
const strip = (ms: readonly EpochMetrics[]): unknown[] => ms.map(({ wallS: _w, stepsPerS: _s, ...rest }) => rest);

async function runEpochs(config: LearnerConfig): Promise<{ metrics: EpochMetrics[]; learner: CscLearner }> {
  const learner = new CscLearner(config, new PointNavVecEnv(config.numEnvs));
  await learner.start();
  const metrics = [];
  for (let e = 0; e < config.epochs; e++) metrics.push(await learner.runEpoch());
  return { metrics, learner };
}

test('the same seed gives the same metrics twice; another seed does not', async () => {
  for (const algo of ['csc', 'trpo', 'qensemble'] as const) {
    const cfg = small({ algo, ensembleSize: 3 });
    const a = await runEpochs(cfg);
    const b = await runEpochs(cfg);
    const c = await runEpochs({ ...cfg, seed: 1 });
    assert.deepEqual(strip(a.metrics), strip(b.metrics), algo);
    assert.notDeepEqual(strip(a.metrics), strip(c.metrics), algo);
    for (const r of [a, b, c]) r.learner.dispose();
  }
});

test('tensor count stays flat across epochs (no leaks)', async () => {
  const cfg = small({ epochs: 1 });
  const learner = new CscLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await learner.start();
  await learner.runEpoch();
  const before = tf.memory().numTensors;
  for (let e = 0; e < 3; e++) await learner.runEpoch();
  assert.equal(tf.memory().numTensors, before);
  learner.dispose();
});

test('a checkpoint round-trips: restored learner and loaded actor act exactly as the original', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-ck-'));
  const cfg = small();
  const { learner } = await runEpochs(cfg);
  await learner.save(dir);
  const twin = new CscLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await twin.restore(dir);
  assert.deepEqual(Array.from(twin.policy.getFlat()), Array.from(learner.policy.getFlat()));
  assert.equal(twin.epoch, learner.epoch);
  const obs = await new PointNavVecEnv(3).reset(42);
  // The learner's actor samples candidates with seed config.seed + 17: load with the same seed and
  // the filtered decisions (actions, Q_C, candidates tried) must be identical.
  const a = learner.deployed().act(obs, 3);
  const loaded = await loadDeployedPolicy(dir, { seed: cfg.seed + 17 });
  const b = loaded.act(obs, 3);
  assert.equal(loaded.epsilon, learner.epsilon());
  assert.deepEqual([...a.actions, ...a.qc, ...a.tried], [...b.actions, ...b.qc, ...b.tried]);
  loaded.dispose();
  twin.dispose();
  learner.dispose();
});

test('a checkpoint of the wrong algorithm, env shape or a corrupt file fails naming what and where', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-ck-'));
  const { learner } = await runEpochs(small({ algo: 'trpo', epochs: 1 }));
  await learner.save(dir);
  learner.dispose();
  const csc = new CscLearner(small(), new PointNavVecEnv(4));
  await assert.rejects(csc.restore(dir), (e: unknown) => e instanceof CheckpointError && /trained with algo 'trpo', this learner is 'csc'/.test(e.message));
  csc.dispose();
  const wider = new CscLearner(small({ algo: 'trpo', policyHidden: [32] }), new PointNavVecEnv(4));
  await assert.rejects(wider.restore(dir), /tensor 'policy\/0' has shape \[17, 16\], the network expects \[17, 32\]/);
  wider.dispose();
  const bin = await readFile(join(dir, 'weights.bin'));
  await writeFile(join(dir, 'weights.bin'), bin.subarray(0, 100));
  await assert.rejects(loadDeployedPolicy(dir), /weights.bin has 100 bytes/);
  await assert.rejects(loadDeployedPolicy(join(dir, 'nope')), /no checkpoint.json/);
});

test('train() writes a run folder and --resume continues from the last checkpoint without duplicate rows', async () => {
  const out = await mkdtemp(join(tmpdir(), 'csc-run-'));
  const cfg = small({ epochs: 2 });
  const first = await train({ config: cfg, backend, out, resume: false, checkpointEvery: 1, progress: 'quiet' });
  assert.equal(first.epochs, 2);
  const status = JSON.parse(await readFile(join(out, 'status.json'), 'utf8')) as { state: string };
  assert.equal(status.state, 'done');
  assert.ok((await readFile(join(out, 'figure.png'))).subarray(1, 4).toString() === 'PNG', 'the run writes its figure');
  const health = async (): Promise<{ epochs: number; of: number; stopped: boolean; findings: unknown[] }> => JSON.parse(await readFile(join(out, 'health.json'), 'utf8')) as { epochs: number; of: number; stopped: boolean; findings: unknown[] };
  assert.deepEqual(await health(), { epochs: 2, of: 2, stopped: false, chi: 0.05, algo: 'csc', findings: first.health });
  assert.deepEqual(first.health, [{ level: 'note', topic: 'run', message: '2 epochs: too few to judge trends (9 or more)' }]);
  // D_env is saved with the newest checkpoint only.
  const replayCount = async (epoch: number): Promise<number | undefined> =>
    readFile(join(out, 'checkpoints', `epoch-00000${epoch}`, 'replay.json'), 'utf8').then((t) => (JSON.parse(t) as { count: number }).count, () => undefined);
  assert.equal(await replayCount(0), undefined);
  const savedTuples = await replayCount(1);
  assert.ok(savedTuples !== undefined && savedTuples > 0);
  const resumed = await train({ config: { ...cfg, epochs: 3 }, backend, out, resume: true, checkpointEvery: 1, progress: 'quiet' });
  assert.equal(resumed.epochs, 3);
  // The resumed run continued with it: epoch 2's D_env holds epochs 0–2, not epoch 2 alone.
  assert.equal(await replayCount(1), undefined);
  const after = await replayCount(2);
  assert.ok(after !== undefined && after > savedTuples, `D_env after the resumed epoch holds ${after} tuples, the checkpoint it resumed from ${savedTuples}`);
  const rows = await readMetrics(out);
  assert.deepEqual(rows.map((r) => r.epoch), [0, 1, 2]);
  assert.equal((await health()).epochs, 3, 'a resumed run is judged over all its epochs, not the ones this process ran');
  assert.equal(rows[2]!.totalEpisodes, rows[1]!.totalEpisodes + rows[2]!.episodes);
  const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.algo, 'csc');
  assert.equal(config.chi, 0.05);
  // config.json follows the resume: its epochs, and a field changed from here on, with where.
  assert.equal(config.epochs, 3);
  assert.deepEqual((config.resumes as { atEpoch: number; changed: unknown }[]).map((r) => [r.atEpoch, r.changed]), [[2, { epochs: { from: 2, to: 3 } }]]);
  // A field added to the learner after the run began (absent from its config.json) is not a change.
  const { lambdaDecay: _added, ...older } = config;
  await writeFile(join(out, 'config.json'), JSON.stringify(older));
  await train({ config: { ...cfg, epochs: 4, lambdaLr: 0 }, backend, out, resume: true, checkpointEvery: 1, progress: 'quiet' });
  const again = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(again.lambdaLr, 0);
  assert.deepEqual((again.resumes as { atEpoch: number; changed: unknown }[]).map((r) => [r.atEpoch, r.changed]), [
    [2, { epochs: { from: 2, to: 3 } }],
    [3, { epochs: { from: 3, to: 4 }, lambdaLr: { from: cfg.lambdaLr, to: 0 } }],
  ]);
  assert.equal(again.spec !== undefined && again.backendUsed !== undefined, true, 'what the first start recorded stays');
  // A stop request ends the run after the epoch in flight, with a checkpoint and status 'interrupted'.
  const out2 = await mkdtemp(join(tmpdir(), 'csc-run-'));
  let calls = 0;
  const stopped = await train({ config: { ...cfg, epochs: 5 }, backend, out: out2, resume: false, checkpointEvery: 10, progress: 'quiet', shouldStop: () => ++calls >= 1 });
  assert.ok(stopped.stopped);
  assert.equal(stopped.epochs, 1);
  assert.ok(stopped.checkpoint !== undefined);
  const s2 = JSON.parse(await readFile(join(out2, 'status.json'), 'utf8')) as { state: string };
  assert.equal(s2.state, 'interrupted');
  const h2 = JSON.parse(await readFile(join(out2, 'health.json'), 'utf8')) as { epochs: number; of: number; stopped: boolean };
  assert.deepEqual([h2.epochs, h2.of, h2.stopped], [1, 5, true], 'a stopped run says so in its health report');
});

for (const [algo, cfg] of [
  ['csc', small({ epochs: 3 })],
  ['trpo', small({ algo: 'trpo', epochs: 3 })],
  ['qensemble', small({ algo: 'qensemble', epochs: 3, ensembleSize: 2 })],
  ['cpo', small({ algo: 'cpo', epochs: 3 })],
  ['sac', resolveConfig({ algo: 'sac', numEnvs: 4, stepsPerEpoch: 400, epochs: 3, sacWarmupSteps: 100, sacBatch: 32, sacUpdatesPerStep: 0.1, policyHidden: [16], criticHidden: [16] })],
] as const) {
  test(`--resume continues the episodes in flight on point-nav (${algo}): a run stopped and resumed logs exactly what the uninterrupted run logs`, async () => {
    const whole = await mkdtemp(join(tmpdir(), 'csc-run-'));
    await train({ config: cfg, backend, out: whole, resume: false, checkpointEvery: 1, progress: 'quiet' });
    const parts = await mkdtemp(join(tmpdir(), 'csc-run-'));
    let calls = 0;
    const first = await train({ config: cfg, backend, out: parts, resume: false, checkpointEvery: 10, progress: 'quiet', shouldStop: () => ++calls >= 1 });
    assert.ok(first.stopped && first.epochs === 1);
    // 100 steps per env an epoch: episodes are in flight at the stop (point-nav's run up to 400 steps).
    const meta = JSON.parse(await readFile(join(first.checkpoint!, 'checkpoint.json'), 'utf8')) as { meta: { inFlight?: { env: { t: number[] } } } };
    assert.ok(meta.meta.inFlight !== undefined && meta.meta.inFlight.env.t.some((t) => t > 0), 'the checkpoint holds episodes in flight');
    await train({ config: cfg, backend, out: parts, resume: true, checkpointEvery: 1, progress: 'quiet' });
    assert.deepEqual(strip(await readMetrics(parts)), strip(await readMetrics(whole)));
  });
}

test('episodes in flight in a checkpoint that do not fit the env are refused, naming the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-ck-'));
  const { learner } = await runEpochs(small({ epochs: 1 }));
  await learner.save(dir);
  learner.dispose();
  const ck = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as { meta: { inFlight: { obs: number[]; env: { health: number[] } } } };
  const write = (meta: unknown): Promise<void> => writeFile(join(dir, 'checkpoint.json'), JSON.stringify({ ...ck, meta }));
  await write({ ...ck.meta, inFlight: { ...ck.meta.inFlight, obs: ck.meta.inFlight.obs.slice(1) } });
  const a = new CscLearner(small(), new PointNavVecEnv(4));
  await assert.rejects(a.restore(dir), /meta\.inFlight\.obs must be \d+ finite numbers \(4 envs\)/);
  a.dispose();
  await write({ ...ck.meta, inFlight: { ...ck.meta.inFlight, env: { ...ck.meta.inFlight.env, health: [1, 2, 3] } } });
  // Refused by restore(), with the other checkpoint errors, before a run folder says it is running.
  const b = new CscLearner(small(), new PointNavVecEnv(4));
  await assert.rejects(b.restore(dir), /meta\.inFlight\.env: point-nav snapshot: health must be 4 finite integers in \[1, 25\]/);
  b.dispose();
  // Resuming with another --num-envs is allowed: the saved episodes are left and the envs reset.
  await write(ck.meta);
  const wider = new CscLearner(small({ numEnvs: 8 }), new PointNavVecEnv(8));
  await wider.restore(dir);
  await wider.start();
  assert.equal((await wider.runEpoch()).epoch, 1);
  wider.dispose();
});

test('--init-policy into an observation with inputs added after the saved ones: zero weights for them, the same actions; other layouts refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-init-wide-'));
  const { learner } = await runEpochs(small({ algo: 'trpo', epochs: 1 }));
  await learner.save(dir);
  const base = new PointNavVecEnv(4);
  const withInputs = (names: readonly string[]): VecEnv => ({
    spec: { ...base.spec, obsSize: names.length, obsNames: names },
    numEnvs: base.numEnvs,
    reset: (seed) => base.reset(seed),
    step: (a) => base.step(a),
    close: () => base.close(),
  });
  const n = base.spec.obsSize;
  const wide = new CscLearner(small({ seed: 9 }), withInputs([...base.spec.obsNames, 'gait_phase_sin', 'gait_phase_cos']));
  await wide.initPolicyFrom(dir);
  const [w0, ...rest] = wide.policy.vars.map((v) => Array.from(v.dataSync()));
  const [s0, ...savedRest] = learner.policy.vars.map((v) => Array.from(v.dataSync()));
  const cols = s0!.length / n;
  assert.deepEqual(w0!.slice(0, n * cols), s0, 'the saved inputs keep their weights');
  assert.deepEqual(w0!.slice(n * cols), new Array<number>(2 * cols).fill(0), 'the added inputs start at zero');
  assert.deepEqual(rest, savedRest);
  const obs = Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  const withClock = Float32Array.from([...obs, 0.7, -0.3]);
  const meanOf = (l: CscLearner, o: Float32Array): number[] => tf.tidy(() => Array.from(l.policy.mean.apply(tf.tensor2d(o, [1, o.length])).dataSync()));
  assert.deepEqual(meanOf(wide, withClock), meanOf(learner, obs), 'the copied policy acts as it did, whatever the new inputs say');
  const reordered = [...base.spec.obsNames];
  [reordered[0], reordered[1]] = [reordered[1]!, reordered[0]!];
  const other = new CscLearner(small(), withInputs([...reordered, 'gait_phase_sin']));
  await assert.rejects(other.initPolicyFrom(dir), (e: unknown) => e instanceof CheckpointError && /may only add inputs after the saved ones/.test(e.message));
  for (const l of [learner, wide, other]) l.dispose();
});

test('λ rises in a run whose failures exceed χ', async () => {
  // χ = 0: any failure violates the constraint.
  const { metrics, learner } = await runEpochs(small({ chi: 0, epochs: 3, stepsPerEpoch: 1200 }));
  const withFailures = metrics.filter((m) => m.avgFailures > 0);
  assert.ok(withFailures.length > 0, 'the fixture run needs failures');
  assert.ok(metrics.at(-1)!.lambda > 0, `λ = ${metrics.at(-1)!.lambda}`);
  learner.dispose();
});

test('--init-policy copies only the policy weights, and refuses a checkpoint of another shape', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-init-'));
  const { learner } = await runEpochs(small({ algo: 'trpo', epochs: 1 }));
  await learner.save(dir);
  const fresh = new CscLearner(small({ seed: 9 }), new PointNavVecEnv(4));
  const criticBefore = Array.from((fresh.critic as { net: { getFlat(): Float32Array } }).net.getFlat());
  await fresh.initPolicyFrom(dir);
  assert.deepEqual(Array.from(fresh.policy.getFlat()), Array.from(learner.policy.getFlat()));
  assert.deepEqual(Array.from((fresh.critic as { net: { getFlat(): Float32Array } }).net.getFlat()), criticBefore);
  const other = new CscLearner(small({ policyHidden: [8] }), new PointNavVecEnv(4));
  await assert.rejects(other.initPolicyFrom(dir), /tensor 'policy\/0' has shape \[17, 16\], the network expects \[17, 8\]/);
  for (const l of [learner, fresh, other]) l.dispose();
});

test("λ's behaviour estimate reads the filter's own Q_C by default and the plain twin with lambdaRiskCritic: plain; the twin round-trips through checkpoints", async () => {
  // V̂_C^π = V̂_C^old + max(0, E_s[Q(s, a₀) − Q(s, a_exec)])/(1−γ), recomputed from the epoch's
  // rollout (no failure window: V̂_C^old is the epoch's failures). ε = 0 makes the filter replace
  // nearly every first sample, so the mean is well above 0 and the two readings differ.
  type Rollout = { obs: Float32Array; act: Float32Array; firstAct: Float32Array; firstQc: Float32Array; qc: Float32Array; dropped: Uint8Array };
  const rolloutOf = (learner: CscLearner): Rollout => (learner as unknown as { rollout: Rollout }).rollout;
  const estimate = (m: EpochMetrics, r: Rollout, first: Float32Array, exec: Float32Array): number => {
    let s = 0;
    let count = 0;
    for (let i = 0; i < r.dropped.length; i++) {
      if (r.dropped[i]) continue;
      s += first[i]! - exec[i]!;
      count++;
    }
    return m.avgFailures + Math.max(0, s / count) / (1 - 0.99);
  };
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));
  const base = { epochs: 2, failureWindowEpisodes: 0, epsilonRule: 'fixed', epsilonFixed: 0, filterCandidates: 4, filterProbe: 1 } as const;
  const conservative = await runEpochs(small(base));
  const plain = await runEpochs(small({ ...base, lambdaRiskCritic: 'plain' }));
  assert.equal(conservative.learner.riskCritic, null);
  const risk = plain.learner.riskCritic!;
  const cm = conservative.metrics.at(-1)!;
  const pm = plain.metrics.at(-1)!;
  // Default: the Q_C the filter recorded for π's first sample and for the executed action.
  const cr = rolloutOf(conservative.learner);
  assert.ok(close(cm.policyRisk!, estimate(cm, cr, cr.firstQc, cr.qc)), `${cm.policyRisk}`);
  // plain: the twin's Q of the same two actions; the filter's own reading gives another number.
  const pr = rolloutOf(plain.learner);
  const n = pr.dropped.length;
  assert.ok(close(pm.policyRisk!, estimate(pm, pr, risk.predict(pr.obs, pr.firstAct, n), risk.predict(pr.obs, pr.act, n))), `${pm.policyRisk}`);
  assert.ok(!close(pm.policyRisk!, estimate(pm, pr, pr.firstQc, pr.qc)), `${pm.policyRisk}`);

  const dir = await mkdtemp(join(tmpdir(), 'csc-risk-'));
  await plain.learner.save(dir);
  const twin = new CscLearner(small({ ...base, lambdaRiskCritic: 'plain' }), new PointNavVecEnv(4));
  await twin.restore(dir);
  const obs = new Float32Array(4 * twin.spec.obsSize).map((_, i) => Math.sin(i));
  const act = new Float32Array(4 * twin.spec.actSize).map((_, i) => Math.cos(i) * 0.5);
  assert.deepEqual(Array.from(twin.riskCritic!.predict(obs, act, 4)), Array.from(risk.predict(obs, act, 4)));
  twin.dispose();
  // A run that did not train the twin cannot resume with it: the checkpoint names what is missing.
  const dir2 = await mkdtemp(join(tmpdir(), 'csc-risk-'));
  await conservative.learner.save(dir2);
  const wants = new CscLearner(small({ ...base, lambdaRiskCritic: 'plain' }), new PointNavVecEnv(4));
  await assert.rejects(wants.restore(dir2), /tensor 'risk-critic\/0' is missing/);
  wants.dispose();
  conservative.learner.dispose();
  plain.learner.dispose();
});

test('criticGap reports the CQL term’s gap E_π Q_C − E_D Q_C: a number with α > 0, NaN without the term or the critic', async () => {
  const cql = await runEpochs(small({ epochs: 2 }));
  const bellman = await runEpochs(small({ epochs: 1, cqlAlpha: 0 }));
  const trpo = await runEpochs(small({ algo: 'trpo', epochs: 1 }));
  for (const m of cql.metrics) assert.ok(Number.isFinite(m.criticGap) && m.criticGap! > -1 && m.criticGap! < 1, `criticGap ${m.criticGap}`);
  assert.ok(Number.isNaN(bellman.metrics[0]!.criticGap), `α = 0: ${bellman.metrics[0]!.criticGap}`);
  assert.ok(Number.isNaN(trpo.metrics[0]!.criticGap), `trpo: ${trpo.metrics[0]!.criticGap}`);
  for (const l of [cql.learner, bellman.learner, trpo.learner]) l.dispose();
});

test('cqlAlphaLr: CQL’s α moves within [0, cqlAlpha] on the gap, is reported as cqlAlpha, and resumes from a checkpoint', async () => {
  const fixed = await runEpochs(small({ epochs: 2 }));
  for (const m of fixed.metrics) assert.equal(m.cqlAlpha, 0.5);
  // The Lagrangian step solves no CPO problem, so it logs no case.
  for (const m of fixed.metrics) assert.ok(Number.isNaN(m.cpoCase));
  // τ far below any gap CQL opens: α can only fall, by η_α(gap − τ) per critic update.
  const bounded = await runEpochs(small({ epochs: 2, cqlAlphaLr: 0.05, cqlGapTarget: -0.9 }));
  const [a0, a1] = bounded.metrics.map((m) => m.cqlAlpha!);
  assert.ok(a0! < 0.5 && a1! < a0!, `α per epoch ${a0}, ${a1}, from 0.5`);
  const dir = await mkdtemp(join(tmpdir(), 'csc-alpha-'));
  await bounded.learner.save(dir);
  const twin = new CscLearner(small({ epochs: 2, cqlAlphaLr: 0.05, cqlGapTarget: -0.9 }), new PointNavVecEnv(4));
  await twin.restore(dir);
  assert.equal((twin.critic as SafetyCritic).alpha, a1);
  // Resumed with a fixed α, the config's α rules, not the checkpoint's.
  const fixedTwin = new CscLearner(small({ epochs: 2 }), new PointNavVecEnv(4));
  await fixedTwin.restore(dir);
  assert.equal((fixedTwin.critic as SafetyCritic).alpha, 0.5);
  fixedTwin.dispose();
  const trpo = await runEpochs(small({ algo: 'trpo', epochs: 1 }));
  assert.ok(Number.isNaN(trpo.metrics[0]!.cqlAlpha));
  for (const l of [fixed.learner, bounded.learner, twin, trpo.learner]) l.dispose();
});

test('rejectedInGradient: π’s turned-away first samples move the policy step while λ > 0, and change nothing at λ = 0', async () => {
  // ε = 0 turns away nearly every first sample; λ is held (η_λ = 0) at 0 or at 0.5.
  const base = { epochs: 1, epsilonRule: 'fixed', epsilonFixed: 0, filterCandidates: 4, filterProbe: 1, lambdaLr: 0 } as const;
  const policyAfter = async (o: Partial<LearnerConfig>): Promise<number[]> => {
    const { learner } = await runEpochs(small({ ...base, ...o }));
    const w = Array.from(learner.policy.getFlat());
    learner.dispose();
    return w;
  };
  assert.deepEqual(await policyAfter({ lambdaInit: 0, rejectedInGradient: true }), await policyAfter({ lambdaInit: 0 }));
  const off = await policyAfter({ lambdaInit: 0.5 });
  const on = await policyAfter({ lambdaInit: 0.5, rejectedInGradient: true });
  assert.notDeepEqual(on, off);
});

test('costAdvantageSource: observed takes eq. 8’s Â_C by GAE on the observed failures with a learned V_C; the critic still filters; V_C round-trips through checkpoints', async () => {
  // λ held at 0.5 (η_λ = 0), so the cost term enters the policy step with λ′ = 0.5/(1−γ).
  const base = { epochs: 1, lambdaInit: 0.5, lambdaLr: 0, exhaustedInGradient: true } as const;
  const observed = await runEpochs(small({ ...base, costAdvantageSource: 'observed' }));
  const critic = await runEpochs(small(base));
  assert.equal(critic.learner.costValue, null);
  // costTermSpread = std over the batch of λ′Â_C, recomputed by hand: GAE on the rollout's
  // failures against V_C before its first fit (an unrun twin holds those initial weights).
  type Rollout = { obs: Float32Array; nextObs: Float32Array; failure: Uint8Array; terminated: Uint8Array; done: Uint8Array; dropped: Uint8Array };
  const r = (observed.learner as unknown as { rollout: Rollout }).rollout;
  const fresh = new CscLearner(small({ ...base, costAdvantageSource: 'observed' }), new PointNavVecEnv(4));
  const n = r.dropped.length;
  const v = fresh.costValue!.predict(r.obs, n);
  const v2 = fresh.costValue!.predict(r.nextObs, n);
  const adv = new Float64Array(n);
  const N = 4;
  for (let e = 0; e < N; e++) {
    let next = 0;
    for (let t = n / N - 1; t >= 0; t--) {
      const i = t * N + e;
      const delta = r.failure[i]! + 0.99 * (r.terminated[i] ? 0 : v2[i]!) - v[i]!;
      next = delta + 0.99 * 0.97 * (r.done[i] ? 0 : next);
      adv[i] = next;
    }
  }
  const rows = [...adv.keys()].filter((i) => !r.dropped[i]);
  const lp = 0.5 / (1 - 0.99);
  const mean = rows.reduce((s, i) => s + lp * adv[i]!, 0) / rows.length;
  const std = Math.sqrt(rows.reduce((s, i) => s + (lp * adv[i]! - mean) ** 2, 0) / rows.length);
  const got = observed.metrics[0]!.costTermSpread!;
  assert.ok(Math.abs(got - std) <= 1e-3 * std, `costTermSpread ${got}, by hand ${std}`);
  assert.ok(Math.abs(critic.metrics[0]!.costTermSpread! - std) > 1e-3 * std, 'the critic’s Â_C gives another spread');
  // The critic still filters and λ's estimate still reads it: the rollouts are the same.
  assert.equal(observed.metrics[0]!.filterFirstAcceptRate, critic.metrics[0]!.filterFirstAcceptRate);
  assert.equal(observed.metrics[0]!.policyRisk, critic.metrics[0]!.policyRisk);
  assert.notDeepEqual(Array.from(observed.learner.policy.getFlat()), Array.from(critic.learner.policy.getFlat()));

  const dir = await mkdtemp(join(tmpdir(), 'csc-costv-'));
  await observed.learner.save(dir);
  const twin = new CscLearner(small({ ...base, costAdvantageSource: 'observed' }), new PointNavVecEnv(4));
  await twin.restore(dir);
  assert.deepEqual(Array.from(twin.costValue!.predict(r.obs, 8)), Array.from(observed.learner.costValue!.predict(r.obs, 8)));
  const dir2 = await mkdtemp(join(tmpdir(), 'csc-costv-'));
  await critic.learner.save(dir2);
  const wants = new CscLearner(small({ ...base, costAdvantageSource: 'observed' }), new PointNavVecEnv(4));
  await assert.rejects(wants.restore(dir2), /tensor 'cost-value\/0' is missing/);
  for (const l of [observed.learner, critic.learner, fresh, twin, wants]) l.dispose();
});

test('costAdvantageSource: observed at λ = 0 leaves the first policy step as it is', async () => {
  const base = { epochs: 1, lambdaInit: 0, lambdaLr: 0 } as const;
  const a = await runEpochs(small({ ...base, costAdvantageSource: 'observed' }));
  const b = await runEpochs(small(base));
  assert.deepEqual(Array.from(a.learner.policy.getFlat()), Array.from(b.learner.policy.getFlat()));
  a.learner.dispose();
  b.learner.dispose();
});

test('policyUpdate: cpo solves eq. 5 exactly: CPO’s step on the filtered rollout, c = failures per episode − χ, ν* logged as λ', async () => {
  // An ε that passes every candidate: point-nav's second epoch fails beyond χ, so the constraint binds.
  const config = small({ epochs: 2, stepsPerEpoch: 1200, chi: 0.05, epsilonRule: 'fixed', epsilonFixed: 1, exhaustedInGradient: true, costAdvantageSource: 'observed', policyUpdate: 'cpo' });
  const learner = new CscLearner(config, new PointNavVecEnv(4));
  await learner.start();
  await learner.runEpoch();
  // A twin holds π, V and V_C as they were before the second epoch's step.
  const dir = await mkdtemp(join(tmpdir(), 'csc-exact-'));
  await learner.save(dir);
  const twin = new CscLearner(config, new PointNavVecEnv(4));
  await twin.restore(dir);
  const m = await learner.runEpoch();
  assert.ok(m.avgFailures > 0, 'the fixture epoch needs failures');
  assert.ok(m.lambda > 0, `ν* = ${m.lambda}: the cost constraint should bind`);
  // The same step by hand from the learner's rollout.
  type Rollout = { obs: Float32Array; nextObs: Float32Array; raw: Float32Array; reward: Float32Array; failure: Uint8Array; terminated: Uint8Array; done: Uint8Array; dropped: Uint8Array };
  const r = (learner as unknown as { rollout: Rollout }).rollout;
  const c = config;
  const rows = r.dropped.length;
  const gaeOf = (signal: Float32Array, v: { predict(o: Float32Array, n: number): Float32Array }): Float32Array =>
    gae({ steps: rows / c.numEnvs, numEnvs: c.numEnvs, rewards: signal, values: v.predict(r.obs, rows), nextValues: v.predict(r.nextObs, rows), terminated: r.terminated, done: r.done, gamma: c.gamma, lambda: c.gaeLambda }).advantages;
  const advR = gaeOf(r.reward, twin.value);
  const advC = gaeOf(Float32Array.from(r.failure), twin.costValue!);
  const valid = [...advR.keys()].filter((i) => !r.dropped[i]);
  const D = twin.spec.obsSize;
  const A = twin.spec.actSize;
  const bObs = new Float32Array(valid.length * D);
  const bRaw = new Float32Array(valid.length * A);
  valid.forEach((i, k) => {
    bObs.set(r.obs.subarray(i * D, (i + 1) * D), k * D);
    bRaw.set(r.raw.subarray(i * A, (i + 1) * A), k * A);
  });
  // Â_R standardised over the batch (population std), Â_C centred.
  const meanR = valid.reduce((a, i) => a + advR[i]!, 0) / valid.length;
  const stdR = Math.sqrt(valid.reduce((a, i) => a + (advR[i]! - meanR) ** 2, 0) / valid.length);
  const bAdv = Float32Array.from(valid, (i) => (advR[i]! - meanR) / stdR);
  const bCost = Float32Array.from(valid, (i) => advC[i]!);
  centre(bCost);
  const report = cpoPolicyStep(
    twin.policy,
    { n: valid.length, obs: bObs, actions: bRaw, advantages: bAdv, costAdvantages: bCost, costScale: m.envSteps / m.episodes, constraintValue: m.avgFailures - c.chi },
    { maxKl: c.maxKl, cgIters: c.cgIters, cgDamping: c.cgDamping, fvpSubsample: c.fvpSubsample, backtrackRatio: c.cpoBacktrackRatio, backtrackTries: c.cpoBacktrackTries },
  );
  assert.equal(m.lambda, report.direction.nu);
  assert.equal(m.cpoCase, report.direction.case);
  assert.ok(m.cpoCase === 1 || m.cpoCase === 2, `case ${m.cpoCase}: ν* > 0 only where the dual solution binds`);
  const got = learner.policy.getFlat();
  const want = twin.policy.getFlat();
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  assert.ok(worst <= 1e-6, `largest weight difference ${worst}`);
  learner.dispose();
  twin.dispose();
});
