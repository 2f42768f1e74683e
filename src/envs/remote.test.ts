// RemoteVecEnv over real Python servers: layout-independent determinism, SIGKILL and SIGSTOP
// mid-run (restart, dropped transitions, counters, fault events), remote endpoints, early start
// errors, and teardown that leaves no process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { makeRemoteVecEnv, parseSimEndpoints, type BridgeFault } from './remote.ts';
import { EnvInputError } from './env.ts';
import { SimStartError, SimWorkerLostError } from '../bridge/errors.ts';
import { makeIpcDir, SimProcess } from '../bridge/supervisor.ts';

const ENV = 'gym:Pendulum-v1';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function actionsFor(step: number, numEnvs: number): Float32Array {
  // a fixed, varied action pattern in Pendulum's [-2, 2]
  return Float32Array.from({ length: numEnvs }, (_, i) => Math.sin(0.3 * step + i) * 2);
}

test('2 servers × 2 envs and 1 server × 4 envs give identical trajectories (env i seeded seed + i)', async () => {
  const [a, b] = await Promise.all([
    makeRemoteVecEnv({ kind: 'spawn', envId: ENV, workers: 2, envsPerWorker: 2 }),
    makeRemoteVecEnv({ kind: 'spawn', envId: ENV, workers: 1, envsPerWorker: 4, transport: 'tcp' }),
  ]);
  try {
    assert.equal(a.numEnvs, 4);
    assert.equal(b.numEnvs, 4);
    assert.deepEqual(a.spec, b.spec);
    assert.equal(a.spec.maxEpisodeSteps, 200);
    const [oa, ob] = await Promise.all([a.reset(11), b.reset(11)]);
    assert.deepEqual(Array.from(oa), Array.from(ob));
    assert.notDeepEqual(Array.from(oa.subarray(0, 3)), Array.from(oa.subarray(3, 6)), 'envs get distinct seeds');
    let truncations = 0;
    for (let t = 0; t < 205; t++) {
      // 205 steps cross Pendulum's 200-step time limit: auto-reset is exercised too
      const acts = actionsFor(t, 4);
      const [ra, rb] = await Promise.all([a.step(acts), b.step(acts)]);
      assert.deepEqual(Array.from(ra.obs), Array.from(rb.obs));
      assert.deepEqual(Array.from(ra.reward), Array.from(rb.reward));
      assert.deepEqual(Array.from(ra.dropped), [0, 0, 0, 0]);
      truncations += ra.truncated.reduce((s, x) => s + x, 0);
      if (t === 199) {
        assert.deepEqual(Array.from(ra.truncated), [1, 1, 1, 1]);
        assert.notDeepEqual(Array.from(ra.obs), Array.from(ra.nextObs), 'obs = fresh reset, nextObs = true s′');
      }
    }
    assert.equal(truncations, 4);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('bad actions throw EnvInputError before anything is sent', async () => {
  const env = await makeRemoteVecEnv({ kind: 'spawn', envId: ENV, workers: 1, envsPerWorker: 2 });
  try {
    await assert.rejects(env.step(new Float32Array(2)), /step before reset/);
    await env.reset(0);
    await assert.rejects(env.step(new Float32Array(3)), (e: unknown) => e instanceof EnvInputError && /3 values, expected 2/.test(e.message));
    await assert.rejects(env.step(new Float32Array([0, NaN])), (e: unknown) => e instanceof EnvInputError && /env 1 is NaN/.test(e.message));
    const ok = await env.step(new Float32Array(2));
    assert.deepEqual(Array.from(ok.dropped), [0, 0]);
  } finally {
    await env.close();
  }
  await assert.rejects(env.step(new Float32Array(2)), /closed RemoteVecEnv/);
});

test('a SIGKILLed server is restarted, its envs dropped, and stepping goes on; close leaves nothing behind', async () => {
  const env = await makeRemoteVecEnv({ kind: 'spawn', envId: ENV, workers: 2, envsPerWorker: 2 });
  const faults: BridgeFault[] = [];
  let completed = false;
  env.faults.subscribe({ next: (f) => faults.push(f), complete: () => { completed = true; } });
  const ipcDir = env.endpoints[0]!.replace(/^ipc:\/\//, '').replace(/\/[^/]+$/, '');
  const firstPids = [...env.pids];
  try {
    await env.reset(3);
    for (let t = 0; t < 5; t++) await env.step(actionsFor(t, 4));
    process.kill(firstPids[0]!, 'SIGKILL');
    const r = await env.step(actionsFor(5, 4));
    assert.deepEqual(Array.from(r.dropped), [1, 1, 0, 0]);
    assert.deepEqual(Array.from(r.obs.subarray(0, 6)), Array.from(r.nextObs.subarray(0, 6)));
    assert.ok(r.obs.every(Number.isFinite));
    assert.equal(env.stats.restarts, 1);
    assert.equal(env.stats.deaths, 1);
    assert.equal(env.stats.droppedEpisodes, 2);
    assert.equal(faults.length, 1);
    const f = faults[0]!;
    assert.equal(f.kind, 'restart');
    if (f.kind === 'restart') {
      assert.equal(f.cause, 'died');
      assert.equal(f.worker, 0);
      assert.equal(f.droppedEpisodes, 2);
      assert.match(f.message, /exited with signal SIGKILL/);
    }
    assert.notEqual(env.pids[0], firstPids[0]);
    assert.equal(env.pids[1], firstPids[1]);
    assert.equal(alive(firstPids[0]), false);
    for (let t = 6; t < 10; t++) {
      assert.deepEqual(Array.from((await env.step(actionsFor(t, 4))).dropped), [0, 0, 0, 0]);
    }
    // a server that dies between steps (its exit already seen) is caught by the next step
    const second = env.pids[1]!;
    process.kill(second, 'SIGKILL');
    while (alive(second)) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(Array.from((await env.step(actionsFor(10, 4))).dropped), [0, 0, 1, 1]);
    assert.equal(env.stats.restarts, 2);
    assert.equal(env.stats.droppedEpisodes, 4);
    firstPids.push(second);
  } finally {
    const pids = [...firstPids, ...env.pids];
    await env.close();
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still running after close`);
    assert.equal(existsSync(ipcDir), false, 'ipc socket directory removed');
    assert.equal(completed, true, 'faults stream completes on close');
  }
});

test('a hung server (SIGSTOP) times out, is killed and replaced', async () => {
  const env = await makeRemoteVecEnv({ kind: 'spawn', envId: ENV, workers: 2, envsPerWorker: 1, stepTimeoutMs: 1000, transport: 'tcp' });
  const faults: BridgeFault[] = [];
  env.faults.subscribe((f) => faults.push(f));
  const hung = env.pids[1]!;
  try {
    await env.reset(0);
    process.kill(hung, 'SIGSTOP');
    const r = await env.step(new Float32Array([1, 1]));
    assert.deepEqual(Array.from(r.dropped), [0, 1]);
    assert.equal(env.stats.timeouts, 1);
    assert.equal(env.stats.restarts, 1);
    assert.deepEqual(faults.map((f) => (f.kind === 'restart' ? `${f.kind}:${f.cause}:${f.worker}` : f.kind)), ['restart:hung:1']);
    assert.equal(alive(hung), false);
    assert.deepEqual(Array.from((await env.step(new Float32Array([1, 1]))).dropped), [0, 0]);
  } finally {
    const pids = env.pids;
    await env.close();
    for (const pid of pids) assert.equal(alive(pid), false);
  }
});

test('given endpoints: a dead remote server is reported as lost (we cannot restart it), a restarted one is reconnected', async () => {
  const ipc = makeIpcDir();
  const bind = `ipc://${ipc.dir}/remote.sock`;
  let server = await SimProcess.spawn({ envId: ENV, numEnvs: 2, bind });
  const env = await makeRemoteVecEnv({ kind: 'connect', endpoints: [bind], envId: ENV, stepTimeoutMs: 800, resetTimeoutMs: 800, maxRecoveryAttempts: 2 });
  const faults: BridgeFault[] = [];
  env.faults.subscribe((f) => faults.push(f));
  try {
    assert.equal(env.numEnvs, 2);
    await env.reset(1);
    await env.step(new Float32Array([0, 0]));

    // the server is restarted by its owner on the same endpoint: we recover, dropping its episodes
    server.kill('SIGKILL');
    await server.exited;
    server = await SimProcess.spawn({ envId: ENV, numEnvs: 2, bind });
    const r = await env.step(new Float32Array([0, 0]));
    assert.deepEqual(Array.from(r.dropped), [1, 1]);
    assert.equal(env.stats.reconnects + env.stats.envResets, 1);
    assert.equal(env.stats.droppedEpisodes, 2);
    assert.deepEqual(Array.from((await env.step(new Float32Array([0, 0]))).dropped), [0, 0]);

    // the server is gone for good: step fails with a clear error after the reconnect attempts
    server.kill('SIGKILL');
    await server.exited;
    await assert.rejects(env.step(new Float32Array([0, 0])), (e: unknown) => {
      assert.ok(e instanceof SimWorkerLostError);
      assert.match(e.message, /remote server we cannot restart, and 2 reconnects got no answer/);
      return true;
    });
    assert.equal(faults.filter((f) => f.kind === 'recovery_failed').length, 2);
  } finally {
    await env.close();
    await server.stop();
    ipc.remove();
  }
});

test('makeRemoteVecEnv fails early with the server’s message for an unknown env or missing simulator', async () => {
  await assert.rejects(makeRemoteVecEnv({ kind: 'spawn', envId: 'gym:NoSuchThing-v0', workers: 2 }), (e: unknown) => {
    assert.ok(e instanceof SimStartError);
    assert.equal(e.reason, 'unknown_env');
    assert.match(e.message, /NoSuchThing/);
    return true;
  });
  await assert.rejects(
    makeRemoteVecEnv({ kind: 'spawn', envId: 'gym:csc_no_such_sim_pkg:Thing-v0' }),
    (e: unknown) => e instanceof SimStartError && e.reason === 'missing_simulator' && /csc_no_such_sim_pkg/.test(e.message),
  );
  await assert.rejects(makeRemoteVecEnv({ kind: 'connect', endpoints: ['localhost:5555'] }), /not a ZeroMQ address/);
  await assert.rejects(makeRemoteVecEnv({ kind: 'spawn', envId: ENV, workers: 0 }), /workers=0/);
});

test('env kwargs reach the server constructor (failure_from, max_episode_steps)', async () => {
  const env = await makeRemoteVecEnv({
    kind: 'spawn',
    envId: 'gym:MountainCarContinuous-v0',
    envArgs: { failure_from: 'none', max_episode_steps: 7 },
  });
  try {
    assert.equal(env.spec.maxEpisodeSteps, 7);
    assert.match(env.spec.failureMeaning, /never/);
  } finally {
    await env.close();
  }
});

test('an env_error reply resets that server\'s envs and drops their transitions, without a restart', async () => {
  // cost mode on an env that reports no info['cost']: every step raises inside the server
  const env = await makeRemoteVecEnv({ kind: 'spawn', envId: ENV, workers: 1, envsPerWorker: 2, envArgs: { failure_from: 'cost' }, maxConsecutiveFaults: 2 });
  const faults: BridgeFault[] = [];
  env.faults.subscribe((f) => faults.push(f));
  const pid = env.pids[0];
  try {
    assert.equal(env.spec.obsNames.at(-1), 'health');
    const obs = await env.reset(0);
    assert.deepEqual([obs[3], obs[7]], [25, 25], 'health starts at the budget');
    const r = await env.step(new Float32Array(2));
    assert.deepEqual(Array.from(r.dropped), [1, 1]);
    assert.equal(env.stats.envResets, 1);
    assert.equal(env.stats.restarts, 0);
    assert.equal(env.pids[0], pid);
    const f = faults[0];
    assert.ok(f?.kind === 'env_reset');
    assert.match(f.message, /env_error: .*needs info\['cost'\]/);
    // it faults on every step: after maxConsecutiveFaults (2 here) the env gives up loudly
    await env.step(new Float32Array(2));
    await assert.rejects(env.step(new Float32Array(2)), (e: unknown) => e instanceof SimWorkerLostError && /faulted on 3 steps in a row/.test(e.message));
  } finally {
    await env.close();
  }
});

test('parseSimEndpoints', () => {
  assert.deepEqual(parseSimEndpoints('tcp://10.0.0.2:5555, ipc:///tmp/a.sock'), ['tcp://10.0.0.2:5555', 'ipc:///tmp/a.sock']);
  assert.throws(() => parseSimEndpoints('tcp://host'), /"tcp:\/\/host" is not a ZeroMQ address/);
  assert.throws(() => parseSimEndpoints(' , '), EnvInputError);
});

test('servers follow a learner that is SIGKILLed (no orphans)', async () => {
  const script = [
    "const { makeRemoteVecEnv } = await import('./src/envs/remote.ts');",
    "const env = await makeRemoteVecEnv({ kind: 'spawn', envId: 'gym:Pendulum-v1', workers: 2 });",
    'console.log(JSON.stringify(env.pids));',
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.setEncoding('utf8');
  const line = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
  });
  const parsed: unknown = JSON.parse(line);
  assert.ok(Array.isArray(parsed) && parsed.length === 2);
  const pids = parsed.filter((p): p is number => typeof p === 'number');
  assert.equal(pids.length, 2);
  assert.ok(pids.every(alive));
  child.kill('SIGKILL');
  // the servers poll for their parent (--parent-pid) about once a second
  const deadline = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(pids.filter(alive), [], 'servers still running after their learner died');
});
