/**
 * Bridge benchmark: for each env id given, raw in-process stepping (`python -m csc_sim bench`) vs.
 * stepping through RemoteVecEnv for 1..N servers × K envs per server, measured in the same run,
 * plus ping round-trip latency p50/p99 by payload size. Writes bench/results/bridge.json.
 *
 *   node --import tsx bench/bridge.ts [ENV_ID ...] [--workers 1,2] [--envs-per-worker 1,4,16,64,256]
 *                                     [--seconds 1.5] [--raw-steps 50000]
 *
 * Goal (DESIGN.md "Performance principles"): with batching, bridge throughput ≥ 0.9× raw
 * single-process stepping on two cores.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SimClient } from '../src/bridge/client.ts';
import { REPO_ROOT, SimProcess, makeIpcDir, simChildEnv, simPython } from '../src/bridge/supervisor.ts';
import { makeRemoteVecEnv } from '../src/envs/remote.ts';
import { sweepActions } from './sweep-actions.ts';

const GOAL_RATIO = 0.9;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workers: { type: 'string', default: '1,2' },
    'envs-per-worker': { type: 'string', default: '1,4,16,64,256' },
    seconds: { type: 'string', default: '1.5' },
    'raw-steps': { type: 'string', default: '50000' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results', 'bridge.json') },
  },
});
const envIds = positionals.length > 0 ? positionals : ['gym:Pendulum-v1'];
const workerCounts = values.workers.split(',').map(Number);
const kValues = values['envs-per-worker'].split(',').map(Number);
const seconds = Number(values.seconds);
const rawSteps = Number(values['raw-steps']);

interface RawResult {
  single: { stepsPerS: number; usPerStep: number };
  batch: { numEnvs: number; stepsPerS: number; usPerStep: number };
}

function rawBench(envId: string, numEnvs: number): RawResult {
  const out = execFileSync(simPython(), ['-m', 'csc_sim', 'bench', '--env', envId, '--steps', String(rawSteps), '--num-envs', String(numEnvs)], {
    cwd: REPO_ROOT,
    env: simChildEnv(),
    encoding: 'utf8',
  });
  const parsed: unknown = JSON.parse(out);
  if (typeof parsed !== 'object' || parsed === null || !('single' in parsed) || !('batch' in parsed)) {
    throw new Error(`csc_sim bench printed ${out}, expected {single, batch}`);
  }
  const { single, batch } = parsed;
  return { single: rates(single), batch: { numEnvs, ...rates(batch) } };
}

function rates(x: unknown): { stepsPerS: number; usPerStep: number } {
  if (typeof x === 'object' && x !== null && 'stepsPerS' in x && 'usPerStep' in x && typeof x.stepsPerS === 'number' && typeof x.usPerStep === 'number') {
    return { stepsPerS: x.stepsPerS, usPerStep: x.usPerStep };
  }
  throw new Error(`csc_sim bench: expected {stepsPerS, usPerStep}, got ${JSON.stringify(x)}`);
}

async function bridgeBench(envId: string, workers: number, k: number) {
  const env = await makeRemoteVecEnv({ kind: 'spawn', envId, workers, envsPerWorker: k });
  try {
    const n = env.numEnvs;
    const actions = sweepActions(env.spec, n);
    await env.reset(0);
    for (let i = 0; i < 10; i++) await env.step(actions);
    let rounds = 0;
    const t0 = process.hrtime.bigint();
    let elapsedS = 0;
    while (elapsedS < seconds || rounds < 20) {
      await env.step(actions);
      rounds++;
      elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
    }
    return { workers, envsPerWorker: k, numEnvs: n, rounds, stepsPerS: (rounds * n) / elapsedS, msPerBatch: (1000 * elapsedS) / rounds };
  } finally {
    await env.close();
  }
}

async function latencyBench(envId: string) {
  const ipc = makeIpcDir();
  const proc = await SimProcess.spawn({ envId, numEnvs: 1, bind: `ipc://${ipc.dir}/lat.sock` });
  const client = SimClient.connect(proc.endpoint);
  const out = [];
  try {
    for (const bytes of [0, 1024, 65536]) {
      const payload = new Uint8Array(bytes).fill(7);
      const count = bytes >= 65536 ? 1000 : 3000;
      for (let i = 0; i < 100; i++) await client.ping(payload);
      const us: number[] = [];
      for (let i = 0; i < count; i++) {
        const t = process.hrtime.bigint();
        await client.ping(payload);
        us.push(Number(process.hrtime.bigint() - t) / 1e3);
      }
      us.sort((a, b) => a - b);
      out.push({ transport: 'ipc', payloadBytes: bytes, count, p50Us: pct(us, 0.5), p99Us: pct(us, 0.99) });
    }
  } finally {
    client.disconnect();
    await proc.stop();
    ipc.remove();
  }
  return out;
}

function pct(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const loadavgAtStart = loadavg()[0];
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
const results = [];
for (const envId of envIds) {
  console.error(`${envId}: raw in-process stepping`);
  const rawBefore = rawBench(envId, Math.max(...kValues));
  console.error(`  single env ${rawBefore.single.stepsPerS.toFixed(0)} steps/s, batch of ${rawBefore.batch.numEnvs} ${rawBefore.batch.stepsPerS.toFixed(0)} steps/s`);
  const bridgeRuns = [];
  for (const w of workerCounts) {
    for (const k of kValues) {
      const r = await bridgeBench(envId, w, k);
      console.error(`  ${w} server(s) × ${k} envs: ${r.stepsPerS.toFixed(0)} steps/s, ${r.msPerBatch.toFixed(3)} ms per batch`);
      bridgeRuns.push(r);
    }
  }
  // the machine is shared: measure the reference again afterwards and compare against the mean
  const rawAfter = rawBench(envId, Math.max(...kValues));
  const rawSingleStepsPerS = (rawBefore.single.stepsPerS + rawAfter.single.stepsPerS) / 2;
  console.error(`  raw single env again: ${rawAfter.single.stepsPerS.toFixed(0)} steps/s (reference: mean ${rawSingleStepsPerS.toFixed(0)})`);
  const bridge = bridgeRuns.map((r) => ({ ...r, ratioToRawSingle: r.stepsPerS / rawSingleStepsPerS }));
  for (const r of bridge) console.error(`  ${r.workers} × ${r.envsPerWorker}: ${r.ratioToRawSingle.toFixed(2)}× raw`);
  const latency = await latencyBench(envId);
  for (const l of latency) console.error(`  ping ${l.payloadBytes} B: p50 ${l.p50Us.toFixed(0)} µs, p99 ${l.p99Us.toFixed(0)} µs`);
  const best = bridge.reduce((a, b) => (b.stepsPerS > a.stepsPerS ? b : a));
  results.push({
    env: envId,
    raw: { before: rawBefore, after: rawAfter, singleStepsPerSMean: rawSingleStepsPerS },
    bridge,
    latency,
    goal: {
      rule: `bridge steps/s ≥ ${GOAL_RATIO} × raw single-process steps/s`,
      best: { workers: best.workers, envsPerWorker: best.envsPerWorker, ratio: best.ratioToRawSingle },
      met: best.ratioToRawSingle >= GOAL_RATIO,
    },
  });
}

const report = {
  bench: 'bridge',
  commit,
  date: new Date().toISOString(),
  host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadavg1mStart: loadavgAtStart, loadavg1mEnd: loadavg()[0], node: process.version },
  settings: { workers: workerCounts, envsPerWorker: kValues, secondsPerPoint: seconds, rawSteps },
  results,
};
mkdirSync(join(values.out, '..'), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
console.error(`wrote ${values.out}`);
