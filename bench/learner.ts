/**
 * Learner benchmark (issues 2 and 12): end-to-end env steps/s of each learner on point-nav at the
 * default config next to raw env stepping and a plain batched policy forward pass measured in the
 * same process; each learner's profile, the wall time of every phase of an epoch (rollout: policy,
 * filter, env, store; critic updates; Â_R and Â_C; gradient, CG and line search; value fit;
 * bookkeeping) in ms and as a share; the filter's decision latency for one state with 100
 * candidates (p50/p99); RSS and live tensors across epochs. Writes bench/results/learner.json.
 *
 *   node --import tsx bench/learner.ts [--epochs 4] [--algos trpo,csc,cpo,sac] [--backend auto|wasm|cpu|tensorflow]
 *                                      [--out FILE] [--note TEXT] [--sac-updates-per-step 0.0625]
 *
 * Goals (issue 12): CSC ≥ 10,000 env steps/s and ≥ 0.5× TRPO; TRPO ≥ 20,000; SAC ≥ 2,000; filter
 * p99 ≤ 0.25 ms; flat memory. The first epoch (warm-up) is left out of rates and profiles.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig } from '../src/algos/config.ts';
import { type Algo, ALGOS } from '../src/algos/config.ts';
import { makeLearner } from '../src/runs/train.ts';
import { SafetyCritic } from '../src/algos/safety-critic.ts';
import { filterActions } from '../src/algos/safety-filter.ts';
import { Rng } from '../src/core/rng.ts';
import { PointNavVecEnv } from '../src/envs/point-nav.ts';
import { type BackendChoice, initBackend } from '../src/nn/backend.ts';
import { GaussianPolicy } from '../src/nn/policy.ts';
import { gitCommit, machineInfo } from './provenance.ts';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '4' },
    algos: { type: 'string', default: 'trpo,csc,cpo,sac' },
    note: { type: 'string' },
    // The SAC comparison in docs/results.md runs one update per vector step of 16 envs.
    'sac-updates-per-step': { type: 'string', default: '0.0625' },
    backend: { type: 'string', default: 'auto' },
    out: { type: 'string', default: 'bench/results/learner.json' },
  },
});
const epochs = Number(values.epochs);
const sacUpdatesPerStep = Number(values['sac-updates-per-step']);
const backend = await initBackend(values.backend as BackendChoice);
const config = resolveConfig({});
const N = config.numEnvs;
const spec = new PointNavVecEnv(1).spec;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

// Reference 1: raw env stepping, N envs in lock-step with fixed actions.
async function rawEnvStepsPerS(): Promise<number> {
  const env = new PointNavVecEnv(N);
  await env.reset(0);
  const a = Float32Array.from({ length: N * 2 }, (_, i) => Math.sin(i));
  const steps = 20_000;
  const t0 = performance.now();
  for (let t = 0; t < steps; t++) await env.step(a);
  return (steps * N) / ((performance.now() - t0) / 1000);
}

// Reference 2: a plain batched policy forward pass (N states) per env step, nothing else.
function forwardStepsPerS(): number {
  const policy = new GaussianPolicy({ obsSize: spec.obsSize, actSize: spec.actSize, hidden: config.policyHidden, activation: config.activation, initLogStd: 0 }, new Rng(1));
  const obs = new Float32Array(N * spec.obsSize).fill(0.1);
  for (let i = 0; i < 200; i++) policy.meanStd(obs, N);
  const calls = 3000;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) policy.meanStd(obs, N);
  const s = (performance.now() - t0) / 1000;
  policy.dispose();
  return (calls * N) / s;
}

// The filter: one state, 100 candidates, every candidate examined (ε below any Q_C: the exhausted,
// slowest case) and the accepting case (first candidate passes).
function filterLatency(epsilon: number): { p50Ms: number; p99Ms: number; meanMs: number } {
  const critic = new SafetyCritic({ obsSize: spec.obsSize, actSize: spec.actSize, hidden: config.criticHidden, activation: config.activation, lr: 1e-3, alpha: 0.5, gamma: 0.99, targetTau: 0.005 }, new Rng(2));
  const rng = new Rng(3);
  const obs = Float32Array.from({ length: spec.obsSize }, () => rng.normal());
  const mean = new Float32Array(2);
  const std = Float32Array.from([0.6, 0.6]);
  const times: number[] = [];
  for (let i = 0; i < 2200; i++) {
    const t0 = performance.now();
    filterActions({ n: 1, obs, mean, std, actLow: spec.actLow, actHigh: spec.actHigh, candidates: 100, probe: config.filterProbe, epsilon, critic: (o, n, a, k) => critic.predictCandidates(o, n, a, k), rng });
    if (i >= 200) times.push(performance.now() - t0);
  }
  critic.dispose();
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), meanMs: times.reduce((a, b) => a + b, 0) / times.length };
}

/** Per phase of an epoch: mean ms per epoch (epochs after the first) and share of the epoch's wall time. */
type Profile = Record<string, { ms: number; share: number }>;

function profileOf(epochs: Record<string, number>[]): Profile {
  const sum: Record<string, number> = {};
  for (const p of epochs) for (const [k, v] of Object.entries(p)) sum[k] = (sum[k] ?? 0) + v;
  const total = Object.values(sum).reduce((a, b) => a + b, 0);
  const out: Profile = {};
  for (const [k, v] of Object.entries(sum)) out[k] = { ms: v / epochs.length, share: v / total };
  return out;
}

interface TrainBench {
  algo: string;
  envStepsPerS: number;
  /** Env steps per CPU-second of this process: the rate to compare on a machine shared with other work. */
  envStepsPerCpuS: number;
  profile: Profile;
  perEpoch: { epoch: number; wallS: number; cpuS: number; stepsPerS: number; rssMiB: number; tensors: number; exhaustions: number }[];
}

async function trainThroughput(algo: Algo): Promise<TrainBench> {
  const cfg = resolveConfig({ algo, epochs, seed: 0, backend: values.backend as BackendChoice, ...(algo === 'sac' ? { sacUpdatesPerStep } : {}) });
  const learner = makeLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await learner.start();
  const perEpoch: TrainBench['perEpoch'] = [];
  let steps = 0;
  let wall = 0;
  let cpuTotal = 0;
  const phases: Record<string, number>[] = [];
  for (let e = 0; e < epochs; e++) {
    const cpu0 = process.cpuUsage();
    const m = await learner.runEpoch();
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    if (e > 0) phases.push(learner.lastPhaseMs);
    perEpoch.push({ epoch: e, wallS: m.wallS, cpuS, stepsPerS: m.stepsPerS, rssMiB: process.memoryUsage().rss / 2 ** 20, tensors: tf.memory().numTensors, exhaustions: m.filterExhaustions });
    if (e > 0) {
      steps += m.envSteps;
      wall += m.wallS;
      cpuTotal += cpuS;
    }
  }
  learner.dispose();
  return { algo, envStepsPerS: steps / wall, envStepsPerCpuS: steps / cpuTotal, profile: profileOf(phases), perEpoch };
}

const algos = values.algos.split(',').map((a) => {
  if (!(ALGOS as readonly string[]).includes(a)) throw new RangeError(`--algos: unknown algorithm '${a}', expected one of ${ALGOS.join(', ')}`);
  return a as Algo;
});
const raw = await rawEnvStepsPerS();
const forward = forwardStepsPerS();
const exhausted = filterLatency(-1);
const accepting = filterLatency(2);
const train: Partial<Record<Algo, TrainBench>> = {};
for (const algo of algos) {
  train[algo] = await trainThroughput(algo);
  console.error(`${algo}: ${Math.round(train[algo].envStepsPerS)} env steps/s`);
}
const rate = (a: Algo): number | null => train[a]?.envStepsPerS ?? null;
const csc = rate('csc');
const trpo = rate('trpo');
const sac = rate('sac');
const result = {
  bench: 'learner',
  commit: gitCommit(),
  date: new Date().toISOString(),
  machine: machineInfo(),
  backend,
  ...(values.note === undefined ? {} : { note: values.note }),
  ...(process.env.CSC_WASM_STOCK_KERNELS === '1' ? { kernels: 'stock tfjs-wasm kernels (CSC_WASM_STOCK_KERNELS=1)' } : {}),
  config: { numEnvs: config.numEnvs, stepsPerEpoch: config.stepsPerEpoch, filterCandidates: config.filterCandidates, criticHidden: config.criticHidden, policyHidden: config.policyHidden, criticUpdatesPerEpoch: config.criticUpdatesPerEpoch, criticBatch: config.criticBatch, sacUpdatesPerStep },
  reference: { rawEnvStepsPerS: raw, plainForwardStepsPerS: forward },
  train,
  ratios: { cscVsRaw: csc === null ? null : csc / raw, cscVsTrpo: csc === null || trpo === null ? null : csc / trpo, cscVsForward: csc === null ? null : csc / forward },
  filterLatency: { exhausted100: exhausted, acceptFirst: accepting },
  goals: {
    cscStepsPerS: 10_000,
    cscOverTrpo: 0.5,
    trpoStepsPerS: 20_000,
    sacStepsPerS: 2_000,
    filterP99Ms: 0.25,
    met: {
      cscStepsPerS: csc === null ? null : csc >= 10_000,
      cscOverTrpo: csc === null || trpo === null ? null : csc / trpo >= 0.5,
      trpoStepsPerS: trpo === null ? null : trpo >= 20_000,
      sacStepsPerS: sac === null ? null : sac >= 2_000,
      filterP99Ms: exhausted.p99Ms <= 0.25,
    },
  },
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify({ backend: backend.name, raw: Math.round(raw), forward: Math.round(forward), steps: Object.fromEntries(Object.entries(train).map(([k, t]) => [k, Math.round(t.envStepsPerS)])), perCpuS: Object.fromEntries(Object.entries(train).map(([k, t]) => [k, Math.round(t.envStepsPerCpuS)])), filterExhaustedMs: exhausted, filterAcceptMs: accepting }));
for (const t of Object.values(train)) {
  console.log(`${t.algo} profile (ms per epoch, share); memory per epoch: ${t.perEpoch.map((p) => `${p.tensors} tensors ${Math.round(p.rssMiB)} MiB`).join(', ')}`);
  for (const [k, v] of Object.entries(t.profile)) console.log(`  ${k.padEnd(18)} ${v.ms.toFixed(1).padStart(8)}  ${(100 * v.share).toFixed(1).padStart(5)}%`);
}
