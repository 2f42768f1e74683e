/**
 * Throughput of the baselines with many critics (issue 12, item 3): end-to-end env steps/s of
 * `qensemble` (20 plain Bellman critics) and `sac` (twin Q critics) training on point-nav, with
 * CSC in the same run as the reference (goals: Q-ensembles ≥ 0.3× CSC, SAC ≥ 2,000 env steps/s).
 * The first epoch (warm-up: kernel compilation, the buffer filling) is left out of the rate.
 * Besides the wall-clock rate it reports env steps per CPU-second of this process (the learner
 * runs on one thread), the number to compare on a machine shared with other work.
 *
 *   node --import tsx bench/baselines.ts [--algos csc,qensemble,sac] [--epochs 3] [--steps-per-epoch 8000]
 *
 * Writes bench/results/baselines.json (or --out), tagged with the commit and the machine's load.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { type Algo, ALGOS, resolveConfig } from '../src/algos/config.ts';
import { PointNavVecEnv } from '../src/envs/point-nav.ts';
import { type BackendChoice, initBackend } from '../src/nn/backend.ts';
import { makeLearner } from '../src/runs/train.ts';
import { gitCommit, machineInfo } from './provenance.ts';

const { values } = parseArgs({
  options: {
    algos: { type: 'string', default: 'csc,qensemble,sac' },
    epochs: { type: 'string', default: '3' },
    'steps-per-epoch': { type: 'string', default: '8000' },
    backend: { type: 'string', default: 'auto' },
    out: { type: 'string', default: 'bench/results/baselines.json' },
  },
});
const epochs = Number(values.epochs);
const stepsPerEpoch = Number(values['steps-per-epoch']);
if (!Number.isInteger(epochs) || epochs < 2) throw new RangeError(`--epochs ${values.epochs}: expected an integer ≥ 2 (the first is warm-up)`);
const algos = values.algos.split(',').map((a) => {
  if (!(ALGOS as readonly string[]).includes(a)) throw new RangeError(`--algos: unknown algorithm '${a}', expected one of ${ALGOS.join(', ')}`);
  return a as Algo;
});
const backend = await initBackend(values.backend as BackendChoice);

interface AlgoBench {
  algo: Algo;
  envStepsPerS: number;
  envStepsPerCpuS: number;
  perEpoch: { epoch: number; wallS: number; cpuS: number; stepsPerS: number; rssMiB: number; tensors: number; cumulativeFailures: number }[];
}

async function throughput(algo: Algo): Promise<AlgoBench> {
  const config = resolveConfig({ algo, epochs, stepsPerEpoch, seed: 0, backend: values.backend as BackendChoice });
  const learner = makeLearner(config, new PointNavVecEnv(config.numEnvs));
  await learner.start();
  const perEpoch: AlgoBench['perEpoch'] = [];
  let steps = 0;
  let wall = 0;
  let cpu = 0;
  for (let e = 0; e < epochs; e++) {
    const cpu0 = process.cpuUsage();
    const m = await learner.runEpoch();
    const used = process.cpuUsage(cpu0);
    const cpuS = (used.user + used.system) / 1e6;
    perEpoch.push({ epoch: e, wallS: m.wallS, cpuS, stepsPerS: m.stepsPerS, rssMiB: process.memoryUsage().rss / 2 ** 20, tensors: tf.memory().numTensors, cumulativeFailures: m.cumulativeFailures });
    console.log(`${algo} epoch ${e + 1}/${epochs}: ${m.stepsPerS.toFixed(0)} env steps/s, ${(m.envSteps / cpuS).toFixed(0)} per CPU-s, ${m.wallS.toFixed(1)} s`);
    if (e > 0) {
      steps += m.envSteps;
      wall += m.wallS;
      cpu += cpuS;
    }
  }
  learner.dispose();
  return { algo, envStepsPerS: steps / wall, envStepsPerCpuS: steps / cpu, perEpoch };
}

const results: AlgoBench[] = [];
for (const algo of algos) results.push(await throughput(algo));
const rate = (a: Algo): number | null => results.find((r) => r.algo === a)?.envStepsPerCpuS ?? null;
const csc = rate('csc');
const qens = rate('qensemble');
const sac = rate('sac');
const result = {
  bench: 'baselines',
  commit: gitCommit(),
  date: new Date().toISOString(),
  machine: machineInfo(),
  backend,
  setup: { env: 'point-nav', epochs, warmupEpochs: 1, stepsPerEpoch, seed: 0 },
  // Goals on env steps per CPU-second (the wall-clock rate of a busy machine says more about the load).
  goals: {
    qensembleOverCsc: { goal: 0.3, actual: csc !== null && qens !== null ? qens / csc : null },
    sacEnvStepsPerS: { goal: 2000, actual: sac },
  },
  algos: results,
};
for (const r of results) console.log(`${r.algo}: ${r.envStepsPerS.toFixed(0)} env steps/s, ${r.envStepsPerCpuS.toFixed(0)} per CPU-second`);
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(values.out);
