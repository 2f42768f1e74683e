import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PointNavVecEnv } from './point-nav.ts';
import { EnvInputError } from './env.ts';

/** Steers env 0 toward (tx, ty): turn toward the target, drive forward. */
function steer(obsX: number, obsY: number, heading: number, tx: number, ty: number): [number, number] {
  const want = Math.atan2(ty - obsY, tx - obsX);
  let err = want - heading;
  while (err > Math.PI) err -= 2 * Math.PI;
  while (err < -Math.PI) err += 2 * Math.PI;
  return [Math.max(-1, Math.min(1, err / 0.25)), Math.abs(err) < 0.5 ? 1 : 0];
}

async function drive(env: PointNavVecEnv, waypoints: [number, number][]): Promise<{ failed: boolean; reached: boolean; ret: number; steps: number }> {
  let obs = await env.reset(11);
  let w = 0;
  let ret = 0;
  for (let t = 0; t < 500; t++) {
    const x = obs[5]! * 2;
    const y = obs[6]! * 2;
    const heading = Math.atan2(obs[4]!, obs[3]!);
    const target = waypoints[w] ?? [env.goal(0).x, env.goal(0).y];
    if (w < waypoints.length && Math.hypot(target[0] - x, target[1] - y) < 0.15) w++;
    const r = await env.step(Float32Array.from(steer(x, y, heading, target[0], target[1])));
    ret += r.reward[0]!;
    if (r.terminated[0] || r.truncated[0]) return { failed: r.failure[0] === 1, reached: r.terminated[0] === 1 && r.failure[0] === 0, ret, steps: t + 1 };
    obs = r.obs;
  }
  return { failed: false, reached: false, ret, steps: 500 };
}

test('spec documents every observation index and the action meaning', () => {
  const env = new PointNavVecEnv(2);
  assert.equal(env.spec.obsNames.length, env.spec.obsSize);
  assert.equal(env.spec.obsSize, 17);
  assert.deepEqual(env.spec.actNames, ['turn', 'forward']);
  assert.equal(env.spec.maxEpisodeSteps, 500);
  assert.equal(env.spec.obsNames.at(-1), 'health/25');
});

test('an agent parked inside a trap fails after exactly 25 steps, not before', async () => {
  const env = new PointNavVecEnv(1);
  await env.reset(3);
  const c = env.trapCentre(0, 1);
  env.setPose(0, c.x, c.y, 0);
  for (let t = 1; t <= 25; t++) {
    const r = await env.step(Float32Array.from([0, 0]));
    if (t < 25) {
      assert.equal(r.failure[0], 0, `failed early at step ${t}`);
      assert.ok(Math.abs(r.nextObs[16]! - (25 - t) / 25) < 1e-6, 'health in the observation');
    } else {
      assert.equal(r.failure[0], 1);
      assert.equal(r.terminated[0], 1);
      assert.equal(r.truncated[0], 0);
      // Auto-reset: obs is a fresh episode with full health, nextObs the dead state.
      assert.equal(r.obs[16], 1);
      assert.equal(r.nextObs[16], 0);
    }
  }
});

test('driving straight at the goal runs through the traps and fails; a detour reaches the goal', async () => {
  const straight = await drive(new PointNavVecEnv(1), []);
  assert.ok(straight.failed, 'straight route should die in the trap band');
  const detour = await drive(new PointNavVecEnv(1), [
    [-1.35, 0.95],
    [1.35, 0.95],
  ]);
  assert.ok(detour.reached && !detour.failed, `detour: ${JSON.stringify(detour)}`);
  assert.ok(detour.ret > 20, `detour return ${detour.ret}`);
});

test('the same seed gives the same trajectory; env i is seeded with seed + i', async () => {
  const run = async (seed: number): Promise<number[]> => {
    const env = new PointNavVecEnv(3);
    const out = Array.from(await env.reset(seed));
    for (let t = 0; t < 40; t++) {
      const a = Float32Array.from({ length: 6 }, (_, i) => Math.sin(t * 0.3 + i));
      out.push(...(await env.step(a)).obs);
    }
    return out;
  };
  assert.deepEqual(await run(5), await run(5));
  assert.notDeepEqual(await run(5), await run(6));
  const a = await new PointNavVecEnv(2).reset(7);
  const b = await new PointNavVecEnv(1).reset(8);
  assert.deepEqual(Array.from(a.subarray(17)), Array.from(b));
});

test('a wrong-size or NaN action batch is refused with what and where', async () => {
  const env = new PointNavVecEnv(2);
  await env.reset(0);
  await assert.rejects(async () => env.step(new Float32Array(3)), (e: unknown) => e instanceof EnvInputError && /3 values, expected 4/.test(e.message));
  await assert.rejects(async () => env.step(Float32Array.from([0, 0, NaN, 0])), /action turn of env 1 is NaN/);
});

test('episodes are truncated at 500 steps when nothing else ends them', async () => {
  const env = new PointNavVecEnv(1);
  await env.reset(1);
  let r = await env.step(Float32Array.from([1, 0]));
  let t = 1;
  while (!r.truncated[0] && !r.terminated[0]) {
    r = await env.step(Float32Array.from([1, 0]));
    t++;
  }
  assert.equal(t, 500);
  assert.equal(r.truncated[0], 1);
});

test('a snapshot continues every episode exactly, and one that does not fit is refused without touching the env', async () => {
  const env = new PointNavVecEnv(3);
  await env.reset(5);
  const act = (k: number): Float32Array => Float32Array.from({ length: 3 * env.spec.actSize }, (_, i) => Math.sin(k + i));
  for (let k = 0; k < 40; k++) await env.step(act(k));
  const snap = JSON.parse(JSON.stringify(env.snapshot())) as Record<string, unknown>;
  const after = async (e: PointNavVecEnv): Promise<number[]> => {
    const out: number[] = [];
    for (let k = 40; k < 2000; k++) {
      const s = await e.step(act(k));
      out.push(...s.obs, ...s.reward, ...s.failure, ...s.terminated, ...s.truncated);
      ends += s.terminated.reduce((a, b) => a + b, 0) + s.truncated.reduce((a, b) => a + b, 0);
    }
    return out;
  };
  let ends = 0;
  const twin = new PointNavVecEnv(3);
  twin.restoreSnapshot(snap);
  assert.deepEqual(await after(twin), await after(env));
  assert.ok(ends >= 2 * 9, `every env's random stream is used for several resets (${ends / 2} episode ends each run)`);
  // Wrong size, wrong env, a bad field: refused with the field named; the env keeps its state.
  const other = new PointNavVecEnv(2);
  await other.reset(1);
  const before = JSON.stringify(other.snapshot());
  assert.throws(() => { other.restoreSnapshot(snap); }, /point-nav snapshot: holds 3 envs, this vector has 2/);
  const four = new PointNavVecEnv(3);
  await four.reset(1);
  const kept = JSON.stringify(four.snapshot());
  assert.throws(() => { four.restoreSnapshot({ ...snap, heading: [0, Number.NaN, 0] }); }, /heading must be 3 finite numbers/);
  assert.throws(() => { four.restoreSnapshot({ ...snap, env: 'car-nav' }); }, /env is "car-nav", expected "point-nav"/);
  assert.equal(JSON.stringify(four.snapshot()), kept);
  assert.equal(JSON.stringify(other.snapshot()), before);
  assert.throws(() => new PointNavVecEnv(1).snapshot(), /snapshot\(\) before reset\(\)/);
});
