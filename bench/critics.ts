/**
 * The critic calls of the baselines with many critics, one by one, in CPU time of this process
 * (the learner runs on one thread; CPU time is what to compare on a machine shared with other
 * work): the Q-ensemble's (20 critics) filter passes — the probe pass (16 states × 4 candidates)
 * and the full pass (16 × 96) —, its Â_C pass over an epoch's states, one `updateFrom` (20
 * minibatches of 256); one SAC update (twin critics, policy, temperature; batch 256). Default
 * sizes (resolveConfig({})). The same script runs on an older checkout to compare (the calls'
 * signatures have not changed).
 *
 *   node --import tsx bench/critics.ts [--reps 20] [--advantage-states 8000] [--out bench/results/critics.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig } from '../src/algos/config.ts';
import { CriticEnsemble } from '../src/algos/critic-ensemble.ts';
import { SacLearner } from '../src/algos/sac.ts';
import { ReplayBuffer } from '../src/core/replay.ts';
import { Rng } from '../src/core/rng.ts';
import { PointNavVecEnv } from '../src/envs/point-nav.ts';
import { type BackendChoice, initBackend } from '../src/nn/backend.ts';
import { gitCommit, machineInfo } from './provenance.ts';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '20' },
    'advantage-states': { type: 'string', default: '8000' },
    backend: { type: 'string', default: 'auto' },
    out: { type: 'string', default: 'bench/results/critics.json' },
  },
});
const reps = Number(values.reps);
const advantageStates = Number(values['advantage-states']);
const backend = await initBackend(values.backend as BackendChoice);
const config = resolveConfig({});
const spec = new PointNavVecEnv(1).spec;
const { obsSize: D, actSize: A } = spec;
const rng = new Rng(1);
const uniform = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.range(-1, 1));

interface Timing {
  label: string;
  reps: number;
  cpuMsPerCall: number;
  wallMsPerCall: number;
}

/** CPU and wall ms per call of `f`, after `warm` untimed calls. */
function time(label: string, n: number, f: () => void, warm = 2): Timing {
  for (let i = 0; i < warm; i++) f();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const t = { label, reps: n, cpuMsPerCall: (cpu.user + cpu.system) / 1000 / n, wallMsPerCall: wallMs / n };
  console.log(`${label.padEnd(44)} ${t.cpuMsPerCall.toFixed(2).padStart(9)} CPU ms/call  ${t.wallMsPerCall.toFixed(2).padStart(9)} wall ms/call`);
  return t;
}

const criticConfig = { obsSize: D, actSize: A, hidden: config.criticHidden, activation: config.activation, lr: config.criticLr, alpha: 0, gamma: config.gamma, targetTau: config.criticTargetTau };
const ens = new CriticEnsemble(criticConfig, config.ensembleSize, config.ensembleStdWeight, new Rng(0));
const N = config.numEnvs;
const obs = uniform(N * D);
const probe = uniform(N * config.filterProbe * A);
const rest = uniform(N * (config.filterCandidates - config.filterProbe) * A);
const timings: Timing[] = [];
timings.push(time(`qensemble filter probe pass (${N} × ${config.filterProbe})`, reps * 5, () => ens.predictCandidates(obs, N, probe, config.filterProbe)));
timings.push(time(`qensemble filter full pass (${N} × ${config.filterCandidates - config.filterProbe})`, reps, () => ens.predictCandidates(obs, N, rest, config.filterCandidates - config.filterProbe)));
const M = config.costAdvantageSamples + 1;
const advObs = uniform(advantageStates * D);
const advAct = uniform(advantageStates * M * A);
timings.push(time(`qensemble Â_C pass (${advantageStates} × ${M})`, 1, () => ens.predictCandidates(advObs, advantageStates, advAct, M), 1));

const replay = new ReplayBuffer(10_000, D, A);
for (let i = 0; i < 5000; i++) replay.add(uniform(D), uniform(A), uniform(D), rng.range(-1, 1), rng.uniform() < 0.1 ? 1 : 0, rng.uniform() < 0.05);
const m = config.criticPolicySamples;
const samples = (_o: Float32Array, _o2: Float32Array, n: number): { atObs: Float32Array; atNextObs: Float32Array; m: number } => ({ atObs: uniform(n * m * A), atNextObs: uniform(n * m * A), m });
timings.push(time(`qensemble updateFrom (${config.ensembleSize} × ${config.criticBatch})`, Math.max(2, Math.round(reps / 4)), () => ens.updateFrom(replay, config.criticBatch, samples, rng)));
ens.dispose();

const sacConfig = resolveConfig({ algo: 'sac' });
const sac = new SacLearner(sacConfig, new PointNavVecEnv(sacConfig.numEnvs));
for (let i = 0; i < 5000; i++) sac.replay.add(uniform(D), uniform(A), uniform(D), rng.range(-1, 1), rng.uniform() < 0.1 ? 1 : 0, rng.uniform() < 0.05);
timings.push(time(`sac update (batch ${sacConfig.sacBatch})`, reps, () => sac.update(sac.replay.sample(sacConfig.sacBatch, rng))));
sac.dispose();

const result = {
  bench: 'critics',
  commit: gitCommit(),
  date: new Date().toISOString(),
  machine: machineInfo(),
  backend,
  tensorsLeft: tf.memory().numTensors,
  timings,
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(values.out);
