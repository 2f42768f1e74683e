// SimClient and SimProcess against real `python -m csc_sim serve` processes over ipc and tcp:
// the happy path, every error reply the server can give, timeouts, and clean shutdown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Dealer } from 'zeromq';
import { Packr } from 'msgpackr';
import { SimClient } from './client.ts';
import { decodeReply, f32ToWire } from './codec.ts';
import { SimServerError, SimStartError, SimTimeoutError } from './errors.ts';
import { makeIpcDir, SimProcess } from './supervisor.ts';

const ENV = 'gym:Pendulum-v1';
const packr = new Packr({ useRecords: false });
const ipc = makeIpcDir();
after(() => { ipc.remove(); });

for (const transport of ['ipc', 'tcp'] as const) {
  describe(`over ${transport}`, () => {
    let proc: SimProcess;
    let client: SimClient;
    before(async () => {
      const bind = transport === 'ipc' ? `ipc://${ipc.dir}/client-test.sock` : 'tcp://127.0.0.1:0';
      proc = await SimProcess.spawn({ envId: ENV, numEnvs: 2, bind });
      client = SimClient.connect(proc.endpoint, { timeoutMs: 10_000 });
    });
    after(async () => {
      client.disconnect();
      await proc.stop();
    });

    test('the ready line reports the bound endpoint (a real port for tcp port 0)', () => {
      if (transport === 'tcp') assert.match(proc.endpoint, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
      else assert.equal(proc.endpoint, `ipc://${ipc.dir}/client-test.sock`);
    });

    test('spec, reset, step and ping', async () => {
      const spec = await client.spec();
      assert.equal(spec.id, ENV);
      assert.equal(spec.numEnvs, 2);
      assert.equal(spec.obsSize, 3);
      assert.deepEqual(spec.actHigh, [2]);
      const r0 = await client.reset(5, 2, 3);
      const again = await client.reset(5, 2, 3);
      assert.deepEqual(Array.from(again.obs), Array.from(r0.obs), 'same seed, same observations');
      // Pendulum's observation is (cos θ, sin θ, θ̇): a unit vector in the first two entries
      assert.ok(Math.abs(r0.obs[0]! ** 2 + r0.obs[1]! ** 2 - 1) < 1e-5);
      const s = await client.step(new Float32Array([0.5, -0.5]), 2, 1, 3);
      assert.equal(s.obs.length, 6);
      assert.deepEqual(Array.from(s.obs), Array.from(s.nextObs), 'no episode ended: obs is s′');
      assert.deepEqual(Array.from(s.failure), [0, 0]);
      assert.ok(s.reward.every((x) => x <= 0), 'Pendulum rewards are costs ≤ 0');
      const payload = new Uint8Array(1025).map((_, i) => i & 0xff);
      assert.deepEqual((await client.ping(payload)).payload, Buffer.from(payload));
    });

    test('several requests in flight are matched to their replies by id', async () => {
      const payloads = [1, 2, 3, 4].map((n) => new Uint8Array([n]));
      const got = await Promise.all(payloads.map((p) => client.ping(p)));
      assert.deepEqual(got.map((g) => g.payload[0]), [1, 2, 3, 4]);
    });

    test('a wrong-size action batch is answered with bad_action and the server keeps serving', async () => {
      await assert.rejects(client.step(new Float32Array([0, 0, 0]), 3, 1, 3), (e: unknown) => {
        assert.ok(e instanceof SimServerError);
        assert.equal(e.code, 'bad_action');
        assert.equal(e.op, 'step');
        assert.match(e.message, /shape \[3, 1\], expected \[2, 1\]/);
        return true;
      });
      await client.ping();
    });

    test('every error reply, from raw frames', async () => {
      const raw = new Dealer({ linger: 0, receiveTimeout: 10_000 });
      raw.connect(proc.endpoint);
      const ask = async (frame: Buffer): Promise<{ id: number | null; code: string; message: string }> => {
        await raw.send(frame);
        const [reply] = await raw.receive();
        const r = decodeReply(reply!);
        assert.equal(r.ok, false);
        if (r.ok) throw new Error('unreachable');
        return { id: r.id, code: r.error.code, message: r.error.message };
      };
      const nanAction = f32ToWire(new Float32Array([0, NaN]), [2, 1]);
      const cases: [Buffer, number | null, string, RegExp][] = [
        [Buffer.from([0xc1, 0x00]), null, 'bad_frame', /not valid msgpack/],
        [packr.pack([1, 2]), null, 'bad_frame', /must be a msgpack map/],
        [packr.pack({ v: 1, op: 'ping' }), null, 'bad_frame', /'id' must be a non-negative integer/],
        [packr.pack({ v: 9, id: 1, op: 'ping' }), 1, 'bad_version', /v=9/],
        [packr.pack({ v: 1, id: 2, op: 'teleport' }), 2, 'unknown_op', /unknown op 'teleport'/],
        [packr.pack({ v: 1, id: 3, op: 'reset', seed: 'x' }), 3, 'bad_request', /reset\.seed/],
        [packr.pack({ v: 1, id: 4, op: 'step', actions: { dtype: 'f32', shape: [2, 1], data: Buffer.alloc(4) } }), 4, 'bad_request', /needs 8 bytes, got 4/],
        [packr.pack({ v: 1, id: 5, op: 'step', actions: f32ToWire(new Float32Array(4), [4, 1]) }), 5, 'bad_action', /expected \[2, 1\]/],
        [packr.pack({ v: 1, id: 6, op: 'step', actions: nanAction }), 6, 'bad_action', /act_0 of env 1 is nan/],
      ];
      for (const [frame, id, code, re] of cases) {
        const r = await ask(frame);
        assert.equal(r.code, code, r.message);
        assert.equal(r.id, id);
        assert.match(r.message, re);
      }
      // a fresh server has not been reset
      raw.close();
      const fresh = await SimProcess.spawn({ envId: ENV, numEnvs: 1, bind: 'tcp://127.0.0.1:0' });
      const c = SimClient.connect(fresh.endpoint);
      await assert.rejects(c.step(new Float32Array([0]), 1, 1, 3), (e: unknown) => e instanceof SimServerError && e.code === 'not_reset');
      await c.close();
      c.disconnect();
      assert.deepEqual(await fresh.exited, { code: 0, signal: null }, 'close op ends the server cleanly');
    });
  });
}

test('a request to an endpoint nobody serves times out with SimTimeoutError', async () => {
  const c = SimClient.connect(`ipc://${ipc.dir}/nobody.sock`);
  await assert.rejects(c.ping(undefined, 200), (e: unknown) => {
    assert.ok(e instanceof SimTimeoutError);
    assert.equal(e.op, 'ping');
    assert.equal(e.timeoutMs, 200);
    return true;
  });
  c.disconnect();
  await assert.rejects(c.ping(), /after the client was closed/);
});

test('SIGTERM shuts a server down cleanly', async () => {
  const p = await SimProcess.spawn({ envId: ENV, numEnvs: 1, bind: 'tcp://127.0.0.1:0' });
  assert.deepEqual(await p.stop(), { code: 0, signal: null });
});

const startFailures: [string, string, RegExp][] = [
  ['no-such-env', 'unknown_env', /unknown env id 'no-such-env'/],
  ['gym:NoSuchThing-v0', 'unknown_env', /NoSuchThing/],
  ['gym:csc_no_such_sim_pkg:Thing-v0', 'missing_simulator', /needs the Python package 'csc_no_such_sim_pkg'/],
  ['gym:CartPole-v1', 'env_error', /expected Box/],
];
for (const [envId, reason, re] of startFailures) {
  test(`starting ${envId} fails early with ${reason} and the server's message`, async () => {
    await assert.rejects(SimProcess.spawn({ envId, numEnvs: 1, bind: 'tcp://127.0.0.1:0' }), (e: unknown) => {
      assert.ok(e instanceof SimStartError);
      assert.equal(e.reason, reason);
      assert.match(e.message, re);
      assert.match(e.stderrTail, /csc_sim serve: error:/);
      return true;
    });
  });
}

test('a missing interpreter is named with the fix', async () => {
  await assert.rejects(
    SimProcess.spawn({ envId: ENV, numEnvs: 1, bind: 'tcp://127.0.0.1:0', python: '/nonexistent/python' }),
    (e: unknown) => e instanceof SimStartError && e.reason === 'no_python' && /setup-sim\.sh/.test(e.message),
  );
});
