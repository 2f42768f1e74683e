/**
 * Scale-out benchmark (docs/scale-out.md): env steps/s of `panda-push-topple` and `laikago-walk`
 * through RemoteVecEnv with 1, 2, 4 … sim servers as Ray actors (`--sim-cluster auto`: a local
 * Ray cluster, ZeroMQ CURVE over TCP), beside the same numbers of locally spawned servers (ipc,
 * no encryption) and raw in-process stepping (`python -m csc_sim bench`), all in the same run.
 * Writes bench/results/ray-scale.json.
 *
 *   node --import tsx bench/ray-scale.ts [--envs panda-push-topple,laikago-walk] [--workers 1,2,4]
 *                                        [--seconds 6] [--modes ray,local] [--envs-per-worker K]
 *
 * On a machine with fewer cores than workers, servers share cores: the speed-up then measures
 * overlap of stepping with the round trips, not parallel simulation. The host block says how many
 * cores there were and how loaded they were.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, simChildEnv, simPython } from '../src/bridge/supervisor.ts';
import { makeRemoteVecEnv, type RemoteVecEnvOptions } from '../src/envs/remote.ts';
import { gitCommit, machineInfo } from './provenance.ts';
import { sweepActions } from './sweep-actions.ts';

const { values } = parseArgs({
  options: {
    envs: { type: 'string', default: 'panda-push-topple,laikago-walk' },
    workers: { type: 'string', default: '1,2,4' },
    modes: { type: 'string', default: 'ray,local' },
    seconds: { type: 'string', default: '6' },
    'envs-per-worker': { type: 'string' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results', 'ray-scale.json') },
  },
});
const envIds = values.envs.split(',');
const workerCounts = values.workers.split(',').map(Number);
const modes = values.modes.split(',');
const seconds = Number(values.seconds);
for (const m of modes) if (m !== 'ray' && m !== 'local') throw new Error(`--modes ${values.modes}: expected ray and/or local`);
if (workerCounts.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`--workers ${values.workers}: expected integers >= 1`);
const envsPerWorker = values['envs-per-worker'] === undefined ? undefined : Number(values['envs-per-worker']);
if (envsPerWorker !== undefined && (!Number.isInteger(envsPerWorker) || envsPerWorker < 1)) throw new Error(`--envs-per-worker ${values['envs-per-worker']}: expected an integer >= 1`);

/** Envs per server unless --envs-per-worker: a round trip should carry several env steps (panda ≈ 19 ms a step, laikago ≈ 2 ms). */
const ENVS_PER_WORKER: Record<string, number> = { 'panda-push-topple': 2, 'panda-push-boundary': 2, 'laikago-walk': 8, 'laikago-stand': 8 };
/** Steps of the raw measurement: a few seconds of one core. */
const RAW_STEPS: Record<string, number> = { 'panda-push-topple': 200, 'panda-push-boundary': 200, 'laikago-walk': 2000, 'laikago-stand': 2000 };

interface Rate {
  readonly stepsPerS: number;
  readonly usPerStep: number;
}

function rawBench(envId: string, numEnvs: number): { single: Rate; batch: Rate & { numEnvs: number } } {
  const out = execFileSync(simPython(), ['-m', 'csc_sim', 'bench', '--env', envId, '--steps', String(RAW_STEPS[envId] ?? 1000), '--num-envs', String(numEnvs)], {
    cwd: REPO_ROOT,
    env: { ...simChildEnv(), OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
    encoding: 'utf8',
  });
  const parsed = JSON.parse(out.trim().split('\n').pop() ?? '') as { single: Rate; batch: Rate };
  return { single: { stepsPerS: parsed.single.stepsPerS, usPerStep: parsed.single.usPerStep }, batch: { numEnvs, stepsPerS: parsed.batch.stepsPerS, usPerStep: parsed.batch.usPerStep } };
}

async function remoteBench(envId: string, mode: 'ray' | 'local', workers: number, k: number) {
  const t0 = performance.now();
  const options: RemoteVecEnvOptions =
    mode === 'ray'
      ? { kind: 'cluster', address: 'auto', envId, workers, envsPerWorker: k, startTimeoutMs: 300_000 }
      : { kind: 'spawn', envId, workers, envsPerWorker: k, startTimeoutMs: 300_000 };
  const env = await makeRemoteVecEnv(options);
  const startS = (performance.now() - t0) / 1000;
  try {
    const n = env.numEnvs;
    const actions = sweepActions(env.spec, n);
    await env.reset(0);
    for (let i = 0; i < 5; i++) await env.step(actions);
    let rounds = 0;
    const t1 = performance.now();
    let elapsedS = 0;
    while (elapsedS < seconds || rounds < 10) {
      await env.step(actions);
      rounds++;
      elapsedS = (performance.now() - t1) / 1000;
    }
    const nodes = env.cluster === undefined ? undefined : new Set(Array.from({ length: workers }, (_, j) => env.cluster!.endpoint(j).node)).size;
    return { mode, workers, envsPerWorker: k, numEnvs: n, stepsPerS: (rounds * n) / elapsedS, roundTripMs: (1000 * elapsedS) / rounds, rounds, startS, stats: env.stats, ...(nodes !== undefined ? { rayNodes: nodes } : {}) };
  } finally {
    await env.close();
  }
}

const started = { date: new Date().toISOString(), loadavg: loadavg() };
const results = [];
for (const envId of envIds) {
  const k = envsPerWorker ?? ENVS_PER_WORKER[envId] ?? 4;
  const raw = rawBench(envId, k);
  process.stderr.write(`${envId}: raw single ${raw.single.stepsPerS.toFixed(1)} steps/s, batch of ${k} ${raw.batch.stepsPerS.toFixed(1)} steps/s\n`);
  const remote = [];
  for (const workers of workerCounts) {
    for (const mode of modes as ('ray' | 'local')[]) {
      // raw stepping right before each measurement: on a shared machine the load moves by minutes
      const adjacentRaw = rawBench(envId, k).single;
      const r = await remoteBench(envId, mode, workers, k);
      remote.push({ ...r, rawSingleStepsPerS: adjacentRaw.stepsPerS, vsRawSingle: r.stepsPerS / adjacentRaw.stepsPerS });
      process.stderr.write(`${envId}: ${mode} ${workers} × ${k}: ${r.stepsPerS.toFixed(1)} steps/s (${(r.stepsPerS / adjacentRaw.stepsPerS).toFixed(2)}× raw ${adjacentRaw.stepsPerS.toFixed(1)}), started in ${r.startS.toFixed(1)} s\n`);
    }
  }
  // the raw reference again at the end: the machine's load moves during a run
  const rawAfter = rawBench(envId, k);
  results.push({ env: envId, envsPerWorker: k, raw, rawAfter, remote });
}

const report = {
  bench: 'ray-scale',
  what:
    'env steps/s through RemoteVecEnv: sim servers as Ray actors (--sim-cluster auto, a local Ray cluster; ZeroMQ CURVE over TCP) and as local processes (ipc, plain), N servers × K envs, lock-step rounds with fixed actions; vsRawSingle = steps/s over raw single-env in-process stepping (python -m csc_sim bench) measured just before it (rawSingleStepsPerS); raw and rawAfter: the same at the start and end of each env',
  commit: gitCommit(),
  started,
  host: { ...machineInfo(), loadavgEnd: loadavg() },
  secondsPerMeasurement: seconds,
  results,
};
mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(`wrote ${values.out}\n`);
