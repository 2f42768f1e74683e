// Sim servers as Ray actors (docs/scale-out.md), end to end on a real multi-node Ray cluster on
// this machine (sim/tests/ray_local_cluster.py: a head and three one-CPU worker nodes, each its
// own raylet): actors spread over nodes, endpoints and CURVE keys handed over, training on them,
// a node killed mid-run with its episodes dropped and counted while training finishes, and CURVE
// refusing clients without the run's keys. Skips with one line when Ray is not installed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { curveKeyPair } from 'zeromq';
import { resolveConfig } from '../src/algos/config.ts';
import { SimClient } from '../src/bridge/client.ts';
import { SimStartError, SimTimeoutError } from '../src/bridge/errors.ts';
import { REPO_ROOT, simChildEnv, simPython } from '../src/bridge/supervisor.ts';
import type { VecEnv } from '../src/envs/env.ts';
import { makeRemoteVecEnv, type BridgeFault, type RemoteVecEnv } from '../src/envs/remote.ts';
import { initBackend } from '../src/nn/backend.ts';
import { readMetrics } from '../src/runs/run-folder.ts';
import { train } from '../src/runs/train.ts';

const ENV = 'gym:Pendulum-v1';
const hasRay = spawnSync(simPython(), ['-c', 'import ray'], { stdio: 'ignore' }).status === 0;
const skip = hasRay ? false : 'Ray is not installed in sim/.venv (scripts/setup-sim.sh installs sim/requirements-ray.txt)';

/** The local cluster helper: its address and worker node ids; `removeNode` kills one node. */
interface LocalCluster {
  readonly address: string;
  readonly nodes: readonly string[];
  removeNode(node: string): Promise<void>;
  shutdown(): Promise<void>;
}

async function startLocalCluster(nodes: number): Promise<LocalCluster> {
  const child: ChildProcessWithoutNullStreams = spawn(simPython(), [join('sim', 'tests', 'ray_local_cluster.py'), '--nodes', String(nodes)], {
    cwd: REPO_ROOT,
    env: simChildEnv(),
  });
  child.stderr.resume(); // Ray's chatter
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    buf += s;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w !== undefined) w(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<number | null>((res) => child.once('close', res));
  const nextLine = (timeoutMs: number): Promise<string> =>
    new Promise((res, rej) => {
      const l = lines.shift();
      if (l !== undefined) {
        res(l);
        return;
      }
      const timer = setTimeout(() => { rej(new Error(`local Ray cluster: no answer within ${timeoutMs} ms`)); }, timeoutMs);
      waiting.push((line) => {
        clearTimeout(timer);
        res(line);
      });
      void exited.then((code) => { rej(new Error(`local Ray cluster exited (${code}) before answering`)); });
    });
  const first = JSON.parse(await nextLine(180_000)) as { address: string; nodes: string[] };
  return {
    address: first.address,
    nodes: first.nodes,
    async removeNode(node) {
      child.stdin.write(`${JSON.stringify({ op: 'remove_node', node })}\n`);
      assert.deepEqual(JSON.parse(await nextLine(60_000)), { removed: node });
    },
    async shutdown() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Trains TRPO for 3 epochs of 400 steps on `env` (4 envs). After the first epoch it runs
 * `afterFirstEpoch` (a node or driver kill) and holds the next step until that has happened, so
 * epochs 1 and 2 step on the killed actors however fast the training is; checks every epoch
 * finished and returns the run's metrics rows.
 */
async function trainThreeEpochs(env: RemoteVecEnv, afterFirstEpoch: () => Promise<void>): Promise<Awaited<ReturnType<typeof readMetrics>>> {
  const config = resolveConfig({ env: ENV, algo: 'trpo', numEnvs: 4, stepsPerEpoch: 400, epochs: 3, valueEpochs: 1, policyHidden: [16], valueHidden: [16] });
  const out = await mkdtemp(join(tmpdir(), 'csc-ray-run-'));
  let epochsDone = 0;
  let gate: Promise<void> | undefined;
  const gated: VecEnv = {
    spec: env.spec,
    numEnvs: env.numEnvs,
    reset: (seed) => env.reset(seed),
    step: async (actions) => {
      await gate;
      return env.step(actions);
    },
    close: () => env.close(),
  };
  const result = await train({
    config,
    backend: await initBackend('auto'),
    out,
    resume: false,
    checkpointEvery: 10,
    progress: 'quiet',
    env: gated,
    shouldStop: () => {
      if (++epochsDone === 1) gate = afterFirstEpoch();
      return false;
    },
  });
  assert.equal(result.epochs, 3, 'training finishes every epoch');
  return readMetrics(out);
}

let cluster: LocalCluster | undefined;
before(async () => {
  if (hasRay) cluster = await startLocalCluster(3);
});
after(async () => {
  await cluster?.shutdown();
});

test('Ray actors: spread over nodes, CURVE hand-off, a node killed mid-training is replaced and its episodes counted as dropped', { skip, timeout: 600_000 }, async (t) => {
  const c = cluster!;
  const t0 = performance.now();
  const mark = (what: string): void => { t.diagnostic(`${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s`); };
  const env: RemoteVecEnv = await makeRemoteVecEnv({
    kind: 'cluster',
    address: c.address,
    envId: ENV,
    workers: 2,
    envsPerWorker: 2,
    stepTimeoutMs: 5_000,
  });
  mark('2 actors serving');
  const faults: BridgeFault[] = [];
  env.faults.subscribe((f) => {
    faults.push(f);
    mark(`fault ${f.kind} of worker ${f.worker}`);
  });
  try {
    // placement and hand-off: one actor per node (one CPU each), endpoints on the node's address
    const ray = env.cluster!;
    const placed = [0, 1].map((j) => ray.endpoint(j));
    assert.equal(new Set(placed.map((e) => e.node)).size, 2, `actors on distinct nodes: ${placed.map((e) => e.node).join(', ')}`);
    for (const e of placed) {
      assert.ok(c.nodes.includes(e.node), `actor on a worker node of the cluster, got ${e.node}`);
      assert.match(e.endpoint, /^tcp:\/\/\d+\.\d+\.\d+\.\d+:\d+$/);
      assert.ok(!e.endpoint.startsWith('tcp://0.0.0.0'));
    }
    assert.deepEqual(env.endpoints, placed.map((e) => e.endpoint));
    assert.equal(env.numEnvs, 4);

    // training, with worker 0's node killed after the first epoch
    const victim = placed[0]!.node;
    // (the actor's process may outlive its raylet and keep answering: hold the training until
    // the driver has reported the loss, or a fast run finishes before Ray notices the dead node)
    const rows = await trainThreeEpochs(env, async () => {
      const lost = firstValueFrom(ray.lost.pipe(filter((l) => l.worker === 0)));
      await c.removeNode(victim);
      await lost;
    });
    mark('training done');
    assert.deepEqual(rows.map((r) => r.epoch), [0, 1, 2]);
    const dropped = rows.reduce((s, r) => s + r.droppedEpisodes, 0);
    assert.equal(rows[0]!.droppedEpisodes, 0, 'nothing dropped before the node was killed');
    assert.ok(dropped >= 2, `the lost worker's 2 in-flight episodes are counted as dropped, got ${dropped}`);
    assert.ok(dropped % 2 === 0 && dropped <= 4, `only the lost worker's envs are dropped (2 per loss), got ${dropped}`);
    // nothing else is lost: every epoch's 400 transitions are either kept or dropped
    for (const r of rows) assert.equal(r.envSteps + r.droppedEpisodes, 400, `epoch ${r.epoch}: ${r.envSteps} kept + ${r.droppedEpisodes} dropped`);
    const s = env.stats;
    assert.ok(s.restarts >= 1 && s.droppedEpisodes === dropped, JSON.stringify(s));
    assert.ok(faults.some((f) => f.kind === 'restart' && f.worker === 0), JSON.stringify(faults));
    assert.ok(ray.lostActors >= 1);
    const replaced = ray.endpoint(0);
    assert.ok(replaced.generation >= 1);
    assert.notEqual(replaced.node, victim, 'the replacement runs on a live node');
    assert.equal(ray.endpoint(1).endpoint, placed[1]!.endpoint, 'the other worker was left alone');

    // CURVE: the run's client answers; a plain client, or one with a key of its own, gets nothing
    const mine = SimClient.connect(replaced.endpoint, { timeoutMs: 10_000, curve: ray.curveFor(replaced) });
    const plain = SimClient.connect(replaced.endpoint, { timeoutMs: 1500 });
    const stranger = SimClient.connect(replaced.endpoint, { timeoutMs: 1500, curve: { serverKey: replaced.serverKey, ...curveKeyPair() } });
    try {
      assert.equal((await mine.spec()).numEnvs, 2);
      await assert.rejects(plain.spec(), SimTimeoutError);
      await assert.rejects(stranger.spec(), SimTimeoutError);
    } finally {
      mine.disconnect();
      plain.disconnect();
      stranger.disconnect();
    }
  } finally {
    await env.close();
  }
  // closing the env kills the actors: the replaced server no longer answers even the run's client
  const e = env.cluster!.endpoint(0);
  const late = SimClient.connect(e.endpoint, { timeoutMs: 1500, curve: env.cluster!.curveFor(e) });
  try {
    await assert.rejects(late.ping(), SimTimeoutError);
  } finally {
    late.disconnect();
  }
});

test('an env the actors cannot build fails the start with the server\'s own words, and leaves no actor', { skip, timeout: 300_000 }, async () => {
  const c = cluster!;
  await assert.rejects(
    makeRemoteVecEnv({ kind: 'cluster', address: c.address, envId: 'no-such-env', workers: 2, envsPerWorker: 1 }),
    (e: unknown) => e instanceof SimStartError && e.reason === 'unknown_env' && /no-such-env/.test(e.message),
  );
  // the failed actors were killed: two new ones fit on the two live nodes and serve
  const env = await makeRemoteVecEnv({ kind: 'cluster', address: c.address, envId: ENV, workers: 2, envsPerWorker: 1, startTimeoutMs: 120_000 });
  await env.close();
});

test('a driver killed mid-training is started again: its actors are replaced, their episodes dropped and counted, training finishes', { skip, timeout: 600_000 }, async (t) => {
  const c = cluster!;
  const env = await makeRemoteVecEnv({ kind: 'cluster', address: c.address, envId: ENV, workers: 2, envsPerWorker: 2, stepTimeoutMs: 5_000, startTimeoutMs: 120_000 });
  try {
    const ray = env.cluster!;
    const before = [0, 1].map((j) => ray.endpoint(j));
    const driver = ray.pid!;
    const rows = await trainThreeEpochs(env, () => {
      process.kill(driver, 'SIGKILL');
      return Promise.resolve();
    });
    assert.equal(ray.driverRestarts, 1);
    assert.notEqual(ray.pid, driver, 'a new driver runs');
    assert.equal(rows[0]!.droppedEpisodes, 0);
    const dropped = rows.reduce((s, r) => s + r.droppedEpisodes, 0);
    t.diagnostic(`dropped ${dropped}, stats ${JSON.stringify(env.stats)}`);
    assert.ok(dropped >= 2 && dropped <= 4, `the in-flight episodes of the dead driver's actors are dropped (2 envs each), got ${dropped}`);
    for (const r of rows) assert.equal(r.envSteps + r.droppedEpisodes, 400, `epoch ${r.epoch}: ${r.envSteps} kept + ${r.droppedEpisodes} dropped`);
    assert.ok(env.stats.restarts >= 1 && env.stats.droppedEpisodes === dropped, JSON.stringify(env.stats));
    for (const j of [0, 1]) {
      const now = ray.endpoint(j);
      assert.notEqual(now.endpoint, before[j]!.endpoint, `worker ${j} serves from a new actor`);
    }
    // the old actors died with their driver: the run's own client gets no answer there
    const old = SimClient.connect(before[0]!.endpoint, { timeoutMs: 1500, curve: ray.curveFor(before[0]!) });
    try {
      await assert.rejects(old.ping(), SimTimeoutError);
    } finally {
      old.disconnect();
    }
  } finally {
    await env.close();
  }
});
