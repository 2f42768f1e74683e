// The Ray driver's wire (JSON lines), --sim-cluster addresses and the driver's supervision, checked without Ray.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvInputError } from '../envs/env.ts';
import { SimStartError } from './errors.ts';
import { parseClusterAddress, parseDriverEvent, RaySimCluster } from './ray-cluster.ts';

const KEY = 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7';

test('--sim-cluster takes auto, ray://HOST:PORT and HOST:PORT, and names the forms otherwise', () => {
  for (const ok of ['auto', 'ray://head:10001', 'ray://10.0.0.5:10001', '10.0.0.5:6379', 'head.example.org:6379']) assert.equal(parseClusterAddress(` ${ok} `), ok);
  for (const bad of ['', 'ray://head', 'tcp://head:6379', 'head', 'http://head:8265', 'ray://:10001']) {
    assert.throws(() => parseClusterAddress(bad), (e: unknown) => e instanceof EnvInputError && /expected auto, ray:\/\/HOST:PORT/.test(e.message), bad);
  }
});

const cases: [string, unknown][] = [
  [`{"event": "endpoint", "worker": 1, "generation": 2, "endpoint": "tcp://10.0.0.5:40001", "serverKey": "${KEY}", "node": "n1", "pid": 77, "nice": 0}`,
    { event: 'endpoint', worker: 1, generation: 2, endpoint: 'tcp://10.0.0.5:40001', serverKey: KEY, node: 'n1', pid: 77 }],
  ['{"event": "ready", "workers": 4}', { event: 'ready', workers: 4 }],
  ['{"event": "lost", "worker": 0, "generation": 0, "endpoint": "tcp://h:1", "reason": "node died"}', { event: 'lost', worker: 0, generation: 0, endpoint: 'tcp://h:1', reason: 'node died' }],
  ['{"event": "lost", "worker": 0, "generation": 3, "endpoint": null, "reason": "x"}', { event: 'lost', worker: 0, generation: 3, endpoint: undefined, reason: 'x' }],
  ['{"event": "error", "code": "unknown_env", "message": "no env nope"}', { event: 'error', code: 'unknown_env', message: 'no env nope' }],
  // not ours, or malformed: ignored rather than trusted
  ['(SimServerActor pid=12) {"event": "ready", "workers": 1}', undefined],
  ['{"event": "endpoint", "worker": 1, "generation": 0, "endpoint": "tcp://h:1", "serverKey": "short"}', undefined],
  ['{"event": "endpoint", "worker": -1, "generation": 0, "endpoint": "tcp://h:1", "serverKey": "' + KEY + '"}', undefined],
  ['{"event": "ready", "workers": "4"}', undefined],
  ['{"event": "lost", "worker": 0, "generation": 0}', undefined],
  ['{"event": "other"}', undefined],
  ['{not json', undefined],
  ['[1, 2]', undefined],
];
test('driver events are parsed field by field; anything else is ignored', () => {
  for (const [line, want] of cases) assert.deepEqual(parseDriverEvent(line), want, line);
});

test('makeVecEnv checks --sim-cluster before starting anything', async () => {
  const { makeVecEnv } = await import('../envs/make.ts');
  const rejects = (p: Promise<unknown>, re: RegExp): Promise<void> => assert.rejects(p, (e: unknown) => e instanceof EnvInputError && re.test(e.message));
  await rejects(makeVecEnv('point-nav', 4, { simCluster: 'auto' }), /embedded: --sim, --sim-cluster/);
  await rejects(makeVecEnv('gym:Pendulum-v1', 4, { simCluster: 'tcp://head:6379' }), /--sim-cluster "tcp:\/\/head:6379": expected auto/);
  await rejects(makeVecEnv('gym:Pendulum-v1', 4, { simCluster: 'auto', simEndpoints: ['tcp://h:1'] }), /--sim and --sim-cluster both/);
  await rejects(makeVecEnv('gym:Pendulum-v1', 4, { simCluster: 'auto', simWorkers: 3 }), /does not split evenly over --sim-workers 3/);
});

// A stand-in for `python -m csc_sim ray-cluster`: each start appends to a log and, by its number in
// `plan`, serves (endpoint and ready events, then runs until `kill()` or the end of its stdin) or
// dies at once. The real driver under real Ray is test/ray-cluster.test.ts; this pins the
// learner's side of the supervision.
function standInDriver(plan: readonly ('serve' | 'die')[]): { python: string; starts: () => number; kill: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'csc-driver-'));
  const log = join(dir, 'starts');
  writeFileSync(log, '');
  const script = join(dir, 'driver.sh');
  writeFileSync(script, `#!/bin/bash
echo start >> ${log}
n=$(grep -c start ${log})
plan=(${plan.join(' ')})
[ "\${plan[$((n-1))]:-die}" = die ] && { echo "driver $n dies" >&2; exit 3; }
echo "{\\"event\\": \\"endpoint\\", \\"worker\\": 0, \\"generation\\": 0, \\"endpoint\\": \\"tcp://127.0.0.1:$((40000+n))\\", \\"serverKey\\": \\"${KEY}\\", \\"node\\": \\"n$n\\", \\"pid\\": $$}"
echo '{"event": "ready", "workers": 1}'
dies=$(grep -c die ${log})
while [ "$(grep -c die ${log})" -le "$dies" ]; do
  # end of stdin (the learner's close) ends it cleanly
  if ! read -r -t 0.05 _; then [ $? -le 128 ] && exit 0; fi
done
exit 1
`);
  chmodSync(script, 0o755);
  return { python: script, starts: () => readFileSync(log, 'utf8').split('\n').filter((l) => l === 'start').length, kill: () => { writeFileSync(log, 'die\n', { flag: 'a' }); } };
}

test('a driver that dies mid-run is started again, its actors reported lost; the new endpoint answers a replacement', async () => {
  const d = standInDriver(['serve', 'die', 'serve']);
  const c = await RaySimCluster.start({ address: 'auto', envId: 'x', workers: 1, envsPerWorker: 1, python: d.python, driverRestartBackoffMs: 10 });
  const lost: string[] = [];
  c.lost.subscribe((l) => lost.push(`${l.worker}:${l.endpoint}`));
  try {
    assert.equal(c.endpoint(0).endpoint, 'tcp://127.0.0.1:40001');
    const first = c.pid;
    d.kill();
    const e = await c.replace(0, 'tcp://127.0.0.1:40001', 10_000);
    assert.equal(e.endpoint, 'tcp://127.0.0.1:40003');
    assert.deepEqual(lost, ['0:tcp://127.0.0.1:40001']);
    assert.equal(c.driverRestarts, 2);
    assert.equal(c.lostActors, 1);
    assert.notEqual(c.pid, first);
  } finally {
    await c.close();
  }
  assert.equal(d.starts(), 3);
});

test('drivers that keep dying before they serve end the cluster after maxDriverRestarts, naming why', async () => {
  const d = standInDriver(['serve']);
  const c = await RaySimCluster.start({ address: 'auto', envId: 'x', workers: 1, envsPerWorker: 1, python: d.python, driverRestartBackoffMs: 10, maxDriverRestarts: 2 });
  d.kill();
  await assert.rejects(c.replace(0, 'tcp://127.0.0.1:40001', 10_000), /the 2 restarted drivers in a row died before their actors served.*driver 3 dies/s);
  assert.equal(d.starts(), 3);
  await assert.rejects(c.replace(0, 'tcp://127.0.0.1:40001', 10_000), /Ray sim driver exited/, 'a finished cluster answers at once');
  await c.close();
});

test('a driver that dies before it serves fails the start; it is not restarted', async () => {
  const d = standInDriver(['die']);
  await assert.rejects(RaySimCluster.start({ address: 'auto', envId: 'x', workers: 1, envsPerWorker: 1, python: d.python, driverRestartBackoffMs: 10 }),
    (e: unknown) => e instanceof SimStartError && /before its actors were ready: .*driver 1 dies/s.test(e.message));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(d.starts(), 1);
});
