// The Ray driver's wire (JSON lines) and --sim-cluster addresses, checked without Ray.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnvInputError } from '../envs/env.ts';
import { parseClusterAddress, parseDriverEvent } from './ray-cluster.ts';

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
