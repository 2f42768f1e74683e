/**
 * Backend benchmark (issue 2): the project's own networks on each TensorFlow.js backend, so the
 * learner can choose a backend per role. Per backend: forward latency of the policy
 * (17→64→64→2 tanh, `GaussianPolicy.meanStd`) and of the safety critic (19→64→64→1 tanh + sigmoid,
 * `SafetyCritic.predict`; the 1600-row case is the rollout's filter, 16 envs × 100 candidates, via
 * `SafetyCritic.predictCandidates`), one CQL update at batch 256 (`SafetyCritic.update`) and one
 * Fisher-vector product on 2000 states (`GaussianPolicy.fisherVectorProduct`), and whole CSC epochs
 * on point-nav (`CscLearner.runEpoch`: rollout with the filter, critic updates, policy step; one
 * untimed warm-up epoch first). Each forward is also run as a hand-written Float32Array MLP with
 * the same weights in the same process: the reference the ratios are taken against, and a check
 * that the backend computes the same numbers.
 *
 *   node --import tsx bench/backends.ts [--backends wasm,cpu,tensorflow] [--rounds 3] [--budget-ms 400]
 *                                       [--epochs 1] [--epoch-steps 2000] [--out FILE]
 *
 * On a machine with an NVIDIA GPU, after `bash scripts/build-tfjs-node.sh --gpu` (docs/backends.md):
 *
 *   node --import tsx bench/backends.ts --backends wasm,tensorflow,tensorflow-gpu
 *
 * measures the GPU build against the CPU backends in the same run; with tensorflow-gpu in the list
 * the results go to bench/results/backends-gpu.json, and each backend's report says whether
 * TensorFlow ran on a GPU (`gpu`).
 *
 * One child process per backend: a process holds one initialised backend (src/nn/backend.ts
 * refuses to switch), importing tfjs-node switches the global backend by itself, and a fresh
 * process keeps one backend's JIT and allocator state out of another's numbers.
 * Writes bench/results/backends.json (backends-gpu.json when tensorflow-gpu is measured).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig } from '../src/algos/config.ts';
import { CscLearner } from '../src/algos/csc.ts';
import { SafetyCritic } from '../src/algos/safety-critic.ts';
import { Rng } from '../src/core/rng.ts';
import type { ReplayBatch } from '../src/core/replay.ts';
import { PointNavVecEnv } from '../src/envs/point-nav.ts';
import { type BackendChoice, BACKEND_CHOICES, initBackend } from '../src/nn/backend.ts';
import { GaussianPolicy } from '../src/nn/policy.ts';
import { gitCommit } from './provenance.ts';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu,tensorflow' },
    child: { type: 'string' },
    'budget-ms': { type: 'string', default: '400' },
    rounds: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '1' },
    'epoch-steps': { type: 'string', default: '2000' },
    out: { type: 'string' },
  },
});
const budgetMs = Number(values['budget-ms']);
const numRounds = Math.max(1, Math.floor(Number(values.rounds)));
/** Timed CSC epochs per round (after one warm-up epoch); 0 skips the epoch measurement. */
const numEpochs = Math.max(0, Math.floor(Number(values.epochs)));
const epochSteps = Math.floor(Number(values['epoch-steps']));

/** One timed operation: median wall time per call over `samples` samples. */
interface Timing {
  readonly medianUs: number;
  readonly p90Us: number;
  readonly samples: number;
  /** Calls per sample (fast calls are timed in groups so the clock's resolution does not matter). */
  readonly callsPerSample: number;
  /** With several rounds: each round's median (`medianUs` is then their median). */
  readonly roundMediansUs?: readonly number[];
}

/** A forward pass measured with its hand-written reference. */
interface ForwardResult {
  readonly op: string;
  readonly rows: number;
  readonly backend: Timing;
  readonly reference: Timing;
  /** backend median / reference median. */
  readonly ratioToReference: number;
  /** Largest |backend − reference| over the outputs. */
  readonly maxAbsDiff: number;
}

interface UpdateResult {
  readonly op: string;
  readonly rows: number;
  readonly backend: Timing;
  /** Tensors alive after the timed calls minus before: must be 0. */
  readonly leakedTensors: number;
}

/** Whole CSC epochs on point-nav: wall time per epoch and env steps/s. */
interface EpochResult {
  readonly op: string;
  readonly envSteps: number;
  /** Wall time of each timed epoch, ms. */
  readonly epochMs: readonly number[];
  readonly medianMs: number;
  readonly envStepsPerS: number;
  /** Tensors alive after the timed epochs minus after the warm-up: must stay ≈ 0. */
  readonly leakedTensors: number;
}

type ChildReport =
  | {
      readonly status: 'ok';
      readonly name: string;
      readonly detail: string;
      /** Native backends: whether TensorFlow ran on a GPU. */
      readonly gpu?: boolean;
      readonly forward: ForwardResult[];
      readonly updates: UpdateResult[];
      readonly epochs?: EpochResult;
    }
  | { readonly status: 'unavailable'; readonly error: string };

function median(xs: readonly number[], q = 0.5): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Warms up, then samples `f` until the budget is spent (at least 7 samples, at most 400). */
function time(f: () => unknown): Timing {
  for (let i = 0; i < 3; i++) f();
  let t0 = performance.now();
  f();
  const oneUs = Math.max(1, (performance.now() - t0) * 1000);
  const callsPerSample = Math.max(1, Math.ceil(300 / oneUs));
  const per: number[] = [];
  const start = performance.now();
  while (per.length < 7 || (per.length < 400 && performance.now() - start < budgetMs)) {
    t0 = performance.now();
    for (let i = 0; i < callsPerSample; i++) f();
    per.push(((performance.now() - t0) * 1000) / callsPerSample);
  }
  return { medianUs: median(per), p90Us: median(per, 0.9), samples: per.length, callsPerSample };
}

/**
 * The reference: `x` (rows × in) through dense layers `W` (fanIn × fanOut, row-major) + `b`,
 * tanh between layers, optional sigmoid on the output, in plain Float32Array loops.
 */
function referenceForward(layers: readonly { w: Float32Array; b: Float32Array; fanIn: number; fanOut: number }[], x: Float32Array, rows: number, sigmoid: boolean, scratch: Float32Array[]): Float32Array {
  let inp = x;
  for (let l = 0; l < layers.length; l++) {
    const { w, b, fanIn, fanOut } = layers[l]!;
    const out = scratch[l]!;
    const last = l + 1 === layers.length;
    for (let r = 0; r < rows; r++) {
      const o = r * fanOut;
      out.set(b, o);
      const xi = r * fanIn;
      for (let i = 0; i < fanIn; i++) {
        const v = inp[xi + i]!;
        const wi = i * fanOut;
        for (let j = 0; j < fanOut; j++) out[o + j]! += v * w[wi + j]!;
      }
      for (let j = 0; j < fanOut; j++) {
        const z = out[o + j]!;
        out[o + j] = last ? (sigmoid ? 1 / (1 + Math.exp(-z)) : z) : Math.tanh(z);
      }
    }
    inp = out;
  }
  return inp;
}

function layersOf(vars: readonly tf.Variable[]): { w: Float32Array; b: Float32Array; fanIn: number; fanOut: number }[] {
  const out = [];
  for (let k = 0; k + 1 < vars.length; k += 2) {
    const w = vars[k]!;
    out.push({ w: Float32Array.from(w.dataSync()), b: Float32Array.from(vars[k + 1]!.dataSync()), fanIn: w.shape[0] ?? 0, fanOut: w.shape[1] ?? 0 });
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`output lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function child(choice: BackendChoice): Promise<ChildReport> {
  let info;
  try {
    info = await initBackend(choice);
  } catch (e) {
    return { status: 'unavailable', error: e instanceof Error ? e.message : String(e) };
  }
  const config = resolveConfig({});
  const spec = new PointNavVecEnv(1).spec;
  const { obsSize, actSize } = spec;
  const rng = new Rng(7);
  const policy = new GaussianPolicy({ obsSize, actSize, hidden: config.policyHidden, activation: config.activation, initLogStd: 0 }, new Rng(1));
  const critic = new SafetyCritic({ obsSize, actSize, hidden: config.criticHidden, activation: config.activation, lr: config.criticLr, alpha: 0.5, gamma: 0.99, targetTau: 0.005 }, new Rng(2));
  const randn = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
  const maxRows = config.numEnvs * config.filterCandidates;
  const scratch = [0, 1, 2].map(() => new Float32Array(maxRows * 64));
  const forward: ForwardResult[] = [];

  // Policy mean μ_φ(s).
  const piLayers = layersOf(policy.mean.vars);
  for (const rows of [1, 16, 100, maxRows]) {
    const obs = randn(rows * obsSize);
    const got = policy.meanStd(obs, rows).mean;
    const want = Float32Array.from(referenceForward(piLayers, obs, rows, false, scratch).subarray(0, rows * actSize));
    const backend = time(() => policy.meanStd(obs, rows));
    const reference = time(() => referenceForward(piLayers, obs, rows, false, scratch));
    forward.push({ op: 'policy.meanStd', rows, backend, reference, ratioToReference: backend.medianUs / reference.medianUs, maxAbsDiff: maxAbsDiff(got, want) });
  }

  // Safety critic Q_C(s, a): plain rows, then the filter's shape (numEnvs states × K candidates).
  const qcLayers = layersOf(critic.net.vars);
  const concat = (obs: Float32Array, act: Float32Array, n: number, k: number): Float32Array => {
    const x = new Float32Array(n * k * (obsSize + actSize));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < k; j++) {
        const r = i * k + j;
        x.set(obs.subarray(i * obsSize, (i + 1) * obsSize), r * (obsSize + actSize));
        x.set(act.subarray(r * actSize, (r + 1) * actSize), r * (obsSize + actSize) + obsSize);
      }
    }
    return x;
  };
  for (const rows of [1, 16, 100]) {
    const obs = randn(rows * obsSize);
    const act = randn(rows * actSize);
    const x = concat(obs, act, rows, 1);
    const got = critic.predict(obs, act, rows);
    const want = Float32Array.from(referenceForward(qcLayers, x, rows, true, scratch).subarray(0, rows));
    const backend = time(() => critic.predict(obs, act, rows));
    const reference = time(() => referenceForward(qcLayers, x, rows, true, scratch));
    forward.push({ op: 'critic.predict', rows, backend, reference, ratioToReference: backend.medianUs / reference.medianUs, maxAbsDiff: maxAbsDiff(got, want) });
  }
  {
    const n = config.numEnvs;
    const k = config.filterCandidates;
    const obs = randn(n * obsSize);
    const act = randn(n * k * actSize);
    const x = concat(obs, act, n, k);
    const got = critic.predictCandidates(obs, n, act, k);
    const want = Float32Array.from(referenceForward(qcLayers, x, n * k, true, scratch).subarray(0, n * k));
    const backend = time(() => critic.predictCandidates(obs, n, act, k));
    const reference = time(() => referenceForward(qcLayers, x, n * k, true, scratch));
    forward.push({ op: 'critic.predictCandidates', rows: n * k, backend, reference, ratioToReference: backend.medianUs / reference.medianUs, maxAbsDiff: maxAbsDiff(got, want) });
  }

  const updates: UpdateResult[] = [];
  {
    const n = config.criticBatch;
    const m = config.criticPolicySamples;
    const batch: ReplayBatch = {
      n,
      obs: randn(n * obsSize),
      actions: randn(n * actSize),
      nextObs: randn(n * obsSize),
      rewards: randn(n),
      costs: Float32Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 1 : 0)),
      terminated: Float32Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 1 : 0)),
      discounts: new Float32Array(n).fill(Number.NaN),
    };
    const samples = { atObs: randn(n * m * actSize), atNextObs: randn(n * m * actSize), m };
    critic.update(batch, samples);
    const before = tf.memory().numTensors;
    const backend = time(() => critic.update(batch, samples));
    updates.push({ op: 'critic.update (CQL, eq. 2)', rows: n, backend, leakedTensors: tf.memory().numTensors - before });
  }
  {
    const rows = Math.floor(config.stepsPerEpoch / config.fvpSubsample);
    const obs = tf.tensor2d(randn(rows * obsSize), [rows, obsSize]);
    const v = randn(policy.numParams);
    policy.fisherVectorProduct(obs, v);
    const before = tf.memory().numTensors;
    const backend = time(() => policy.fisherVectorProduct(obs, v));
    updates.push({ op: 'policy.fisherVectorProduct (eq. 6)', rows, backend, leakedTensors: tf.memory().numTensors - before });
    obs.dispose();
  }
  policy.dispose();
  critic.dispose();
  const epochs = numEpochs > 0 ? await cscEpochs(choice) : undefined;
  return { status: 'ok', name: info.name, detail: info.detail, ...(info.gpu === undefined ? {} : { gpu: info.gpu }), forward, updates, ...(epochs ? { epochs } : {}) };
}

/** One warm-up CSC epoch (kernel set-up, first allocations), then `numEpochs` timed ones. */
async function cscEpochs(choice: BackendChoice): Promise<EpochResult> {
  const cfg = resolveConfig({ algo: 'csc', seed: 0, backend: choice, stepsPerEpoch: epochSteps });
  const learner = new CscLearner(cfg, new PointNavVecEnv(cfg.numEnvs));
  await learner.start();
  await learner.runEpoch();
  const before = tf.memory().numTensors;
  const epochMs: number[] = [];
  let steps = 0;
  for (let e = 0; e < numEpochs; e++) {
    const t0 = performance.now();
    const m = await learner.runEpoch();
    epochMs.push(performance.now() - t0);
    steps += m.envSteps;
  }
  const leakedTensors = tf.memory().numTensors - before;
  learner.dispose();
  const totalS = epochMs.reduce((a, b) => a + b, 0) / 1000;
  return { op: 'CSC epoch (point-nav)', envSteps: Math.round(steps / numEpochs), epochMs, medianMs: median(epochMs), envStepsPerS: steps / totalS, leakedTensors };
}

/** One report from several rounds of the same backend: per timing, the median of the rounds' medians. */
function mergeRounds(reports: readonly ChildReport[]): ChildReport {
  const ok = reports.flatMap((r) => (r.status === 'ok' ? [r] : []));
  const first = ok[0];
  if (first === undefined) return reports[0] ?? { status: 'unavailable', error: 'not run' };
  const merge = (ts: readonly Timing[]): Timing => ({
    medianUs: median(ts.map((t) => t.medianUs)),
    p90Us: median(ts.map((t) => t.p90Us)),
    samples: ts.reduce((a, t) => a + t.samples, 0),
    callsPerSample: ts[0]!.callsPerSample,
    roundMediansUs: ts.map((t) => t.medianUs),
  });
  const forward = first.forward.map((f, i) => {
    const backend = merge(ok.map((r) => r.forward[i]!.backend));
    const reference = merge(ok.map((r) => r.forward[i]!.reference));
    return { ...f, backend, reference, ratioToReference: backend.medianUs / reference.medianUs, maxAbsDiff: Math.max(...ok.map((r) => r.forward[i]!.maxAbsDiff)) };
  });
  const updates = first.updates.map((u, i) => ({ ...u, backend: merge(ok.map((r) => r.updates[i]!.backend)), leakedTensors: Math.max(...ok.map((r) => r.updates[i]!.leakedTensors)) }));
  const eps = ok.flatMap((r) => (r.epochs ? [r.epochs] : []));
  const epochs: EpochResult | undefined =
    eps[0] === undefined
      ? undefined
      : {
          ...eps[0],
          epochMs: eps.flatMap((e) => e.epochMs),
          medianMs: median(eps.flatMap((e) => e.epochMs)),
          envStepsPerS: median(eps.map((e) => e.envStepsPerS)),
          leakedTensors: Math.max(...eps.map((e) => e.leakedTensors)),
        };
  return { ...first, forward, updates, ...(epochs ? { epochs } : {}) };
}

function isChoice(s: string): s is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(s);
}

if (values.child !== undefined) {
  const choice = values.child;
  if (!isChoice(choice)) throw new RangeError(`--child: unknown backend '${choice}', expected one of ${BACKEND_CHOICES.join(', ')}`);
  // The report is the only line on stdout; libraries' chatter goes to stderr.
  process.stdout.write(`${JSON.stringify(await child(choice))}\n`);
} else {
  const choices = values.backends.split(',').map((s) => s.trim());
  for (const c of choices) if (!isChoice(c)) throw new RangeError(`--backends: unknown backend '${c}', expected a comma list of ${BACKEND_CHOICES.join(', ')}`);
  const loadStart = loadavg();
  // Rounds interleave the backends, so a burst of load from other work on a shared machine lands
  // on one round of each rather than on all of one backend; the report keeps every round.
  const rounds: Record<string, ChildReport[]> = {};
  for (let round = 0; round < numRounds; round++) {
    for (const c of choices) {
      if (rounds[c]?.[0]?.status === 'unavailable') continue;
      process.stderr.write(`bench/backends: round ${round + 1}/${numRounds}: ${c} …\n`);
      const args = ['--child', c, '--budget-ms', String(budgetMs), '--epochs', String(numEpochs), '--epoch-steps', String(epochSteps)];
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 16 << 20,
      });
      const line = r.stdout.trim().split('\n').at(-1) ?? '';
      const report: ChildReport =
        r.status !== 0 || line === ''
          ? { status: 'unavailable', error: `child exited with ${r.status ?? r.signal ?? 'unknown'}` }
          : (JSON.parse(line) as ChildReport); // our own child's output, written just above
      (rounds[c] ??= []).push(report);
    }
  }
  const backends: Record<string, ChildReport> = {};
  for (const c of choices) backends[c] = mergeRounds(rounds[c] ?? []);
  const config = resolveConfig({});
  const result = {
    bench: 'backends',
    commit: gitCommit(),
    date: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavg1mStart: loadStart[0], loadavg1mEnd: loadavg()[0] },
    settings: { budgetMsPerTiming: budgetMs, rounds: numRounds, cscEpochs: numEpochs, cscEpochSteps: epochSteps, policy: `17→${config.policyHidden.join('→')}→2 ${config.activation}`, critic: `19→${config.criticHidden.join('→')}→1 ${config.activation} + sigmoid`, criticBatch: config.criticBatch, criticPolicySamples: config.criticPolicySamples, fvpStates: Math.floor(config.stepsPerEpoch / config.fvpSubsample), filterRows: `${config.numEnvs} envs × ${config.filterCandidates} candidates` },
    backends,
  };
  const out = values.out ?? (choices.includes('tensorflow-gpu') ? 'bench/results/backends-gpu.json' : 'bench/results/backends.json');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`bench/backends: wrote ${out}\n`);

  // A markdown table for docs/backends.md: medians in µs.
  const ok = choices.flatMap((c) => {
    const r = backends[c];
    return r?.status === 'ok' ? [[c, r] as const] : [];
  });
  const fmt = (us: number): string => (us >= 1e6 ? `${(us / 1e6).toFixed(2)} s` : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(us < 10 ? 1 : 0)} µs`);
  const first = ok[0]?.[1];
  const wasm = backends.wasm?.status === 'ok' ? backends.wasm : undefined;
  const native = backends.tensorflow?.status === 'ok' ? backends.tensorflow : undefined;
  const gpuBuild = backends['tensorflow-gpu']?.status === 'ok' ? backends['tensorflow-gpu'] : undefined;
  const ratio = (a: number | undefined, b: number | undefined): string => (a !== undefined && b !== undefined ? ` ${(a / b).toFixed(1)}× |` : '');
  // Ratio columns: wasm ÷ tensorflow (CPU), and tensorflow ÷ tensorflow-gpu when both ran.
  const pairs = [
    ...(wasm !== undefined && native !== undefined ? [['wasm', wasm, native] as const] : []),
    ...(native !== undefined && gpuBuild !== undefined ? [['tensorflow', native, gpuBuild] as const] : []),
  ];
  if (first !== undefined) {
    const head = pairs.map(([a]) => ` ${a} ÷ ${a === 'wasm' ? 'tensorflow' : 'tensorflow-gpu'} |`).join('');
    console.log(`| op | rows | ${ok.map(([c]) => c).join(' | ')} | reference (Float32Array) |${head}`);
    console.log(`|---|---|${ok.map(() => '---|').join('')}---|${pairs.map(() => '---|').join('')}`);
    first.forward.forEach((f, i) => {
      const refs = ok.map(([, r]) => r.forward[i]!.reference.medianUs);
      const cells = ok.map(([, r]) => fmt(r.forward[i]!.backend.medianUs)).join(' | ');
      console.log(`| ${f.op} | ${f.rows} | ${cells} | ${fmt(median(refs))} |${pairs.map(([, a, b]) => ratio(a.forward[i]?.backend.medianUs, b.forward[i]?.backend.medianUs)).join('')}`);
    });
    first.updates.forEach((u, i) => {
      const cells = ok.map(([, r]) => fmt(r.updates[i]!.backend.medianUs)).join(' | ');
      console.log(`| ${u.op} | ${u.rows} | ${cells} | — |${pairs.map(([, a, b]) => ratio(a.updates[i]?.backend.medianUs, b.updates[i]?.backend.medianUs)).join('')}`);
    });
    if (first.epochs !== undefined) {
      const cells = ok.map(([, r]) => (r.epochs ? `${fmt(r.epochs.medianMs * 1000)} (${Math.round(r.epochs.envStepsPerS)} steps/s)` : '—')).join(' | ');
      console.log(`| ${first.epochs.op} | ${first.epochs.envSteps} steps | ${cells} | — |${pairs.map(([, a, b]) => ratio(a.epochs?.medianMs, b.epochs?.medianMs)).join('')}`);
    }
    for (const [c, r] of ok) if (r.gpu !== undefined) console.log(`${c}: ${r.detail}`);
  }
  for (const c of choices) {
    const r = backends[c];
    if (r?.status === 'unavailable') console.log(`${c}: unavailable: ${r.error}`);
  }
}
