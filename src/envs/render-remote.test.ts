// Rendering through RemoteVecEnv over real servers: a frame from the worker that holds the env,
// the step's frame of s′, the server's cannot_render passed on, and bad requests refused here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRemoteVecEnv } from './remote.ts';
import { EnvInputError } from './env.ts';
import { SimServerError } from '../bridge/errors.ts';
import { PointNavVecEnv } from './point-nav.ts';

const REQ = { widthPx: 40, heightPx: 30 };

test('laikago-walk, 2 servers × 1 env: env 1 is rendered by the second server, its step frame shows the motion', async () => {
  const env = await makeRemoteVecEnv({ kind: 'spawn', envId: 'laikago-walk', workers: 2, envsPerWorker: 1 });
  try {
    await env.reset(5);
    const before = await env.renderFrame({ env: 1, ...REQ });
    assert.equal(before.rgb.length, 40 * 30 * 3);
    const actions = Float32Array.from({ length: 24 }, (_, i) => (i % 3 === 1 ? 0.9 : -0.9));
    let frame = before;
    for (let t = 0; t < 5; t++) {
      const r = await env.stepRendered(actions, { env: 1, ...REQ });
      assert.equal(r.step.dropped[1], 0);
      assert.ok(r.frame !== undefined);
      frame = r.frame;
    }
    let diff = 0;
    for (let i = 0; i < frame.rgb.length; i++) diff += Math.abs(frame.rgb[i]! - before.rgb[i]!);
    assert.ok(diff / frame.rgb.length > 0.5, `mean change ${diff / frame.rgb.length}`);
    await assert.rejects(env.renderFrame({ env: 2, ...REQ }), (e: unknown) => e instanceof EnvInputError && /render env 2, expected an integer in \[0, 1\]/.test(e.message));
    await assert.rejects(env.stepRendered(actions, { env: 0, widthPx: 0, heightPx: 30 }), /render widthPx 0/);
  } finally {
    await env.close();
  }
});

test('an env without a renderer answers cannot_render, and stepping goes on', async () => {
  const env = await makeRemoteVecEnv({ kind: 'spawn', envId: 'gym:Pendulum-v1', workers: 1, envsPerWorker: 1 });
  try {
    await env.reset(1);
    await assert.rejects(env.renderFrame({ env: 0, ...REQ }), (e: unknown) => e instanceof SimServerError && e.code === 'cannot_render');
    const r = await env.step(new Float32Array([0.5]));
    assert.equal(r.dropped[0], 0);
  } finally {
    await env.close();
  }
});

test('point-nav renders without changing its trajectory', async () => {
  const a = new PointNavVecEnv(2);
  const b = new PointNavVecEnv(2);
  await a.reset(3);
  await b.reset(3);
  for (let t = 0; t < 30; t++) {
    const act = Float32Array.from({ length: 4 }, (_, i) => Math.sin(t + i));
    const ra = await a.step(act);
    const rb = await b.stepRendered(act, { env: 1, ...REQ });
    assert.deepEqual(rb.step.nextObs, ra.nextObs);
    assert.ok(rb.frame !== undefined && rb.frame.rgb.length === 40 * 30 * 3);
  }
  assert.throws(() => b.stepRendered(new Float32Array(4), { env: 5, ...REQ }), /render env 5/);
});
