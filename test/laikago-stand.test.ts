/**
 * The shipped standing controller (issue 11, item 3), through the real CLI and the real PyBullet
 * sim: `csc eval` of `checkpoints/laikago-stand` keeps laikago-stand up for whole 500-step episodes
 * with the policy's mean action (no exploration noise, no filter, seeded resets), and with its own
 * exploration noise under its critic's filter. A negative control runs the same check on a copy of
 * the controller whose mean is pushed off the stance, which falls: the check can fail.
 * `csc train --env laikago-walk` then starts from the controller unless told `--init-policy none`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simPython } from '../src/bridge/supervisor.ts';
import { STANDING_CONTROLLER_DIR } from '../src/cli/init-policy.ts';

const NO_SIM = existsSync(simPython()) ? false : 'no sim venv (scripts/setup-sim.sh)';
const EPISODE_STEPS = 500;

const csc = (...args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, ['bin/csc.mjs', ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

interface EvalSummary {
  episodes: number;
  steps: number;
  avgReward: number;
  avgFailures: number;
}

function evaluate(checkpoint: string, ...flags: string[]): EvalSummary {
  const r = csc('eval', '--checkpoint', checkpoint, '--episodes', '4', '--num-envs', '4', '--seed', '2024', ...flags);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as EvalSummary;
}

test('the shipped standing controller keeps laikago-stand up for full episodes with its mean action', { skip: NO_SIM }, () => {
  const s = evaluate(STANDING_CONTROLLER_DIR, '--no-filter', '--deterministic');
  assert.equal(s.avgFailures, 0, `fell in ${s.avgFailures * s.episodes} of ${s.episodes} episodes`);
  assert.equal(s.steps, s.episodes * EPISODE_STEPS, `episodes lasted ${s.steps / s.episodes} steps on average`);
  // holding the stance earns ≈ 0.96 per step (docs/envs.md)
  assert.ok(s.avgReward > 0.9 * EPISODE_STEPS, `return ${s.avgReward}`);
});

test('the shipped standing controller stays up with its own exploration noise under its filter', { skip: NO_SIM }, () => {
  const s = evaluate(STANDING_CONTROLLER_DIR);
  assert.equal(s.avgFailures, 0);
  assert.equal(s.steps, s.episodes * EPISODE_STEPS);
});

test('negative control: the same check on a controller pushed off the stance sees it fall', { skip: NO_SIM }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-stand-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(STANDING_CONTROLLER_DIR, dir, { recursive: true });
  // The mean MLP's output bias (the last `policy/i` before log σ) set to +1: every joint at its
  // full offset from the stance (abduction +0.3, hip +0.6, knee +0.6 rad).
  const meta = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as { tensors: { name: string; shape: number[]; offset: number }[] };
  const names = meta.tensors.map((x) => x.name).filter((n) => n.startsWith('policy/'));
  const bias = meta.tensors.find((x) => x.name === `policy/${names.length - 2}`);
  assert.ok(bias !== undefined && bias.shape.length === 1 && bias.shape[0] === 12, 'the mean head bias is policy/(n−2), 12 values');
  const weights = await readFile(join(dir, 'weights.bin'));
  const offsetBytes = 4 * bias.offset; // float32 elements into weights.bin
  for (let i = 0; i < 12; i++) weights.writeFloatLE(1, offsetBytes + 4 * i);
  await writeFile(join(dir, 'weights.bin'), weights);
  const s = evaluate(dir, '--no-filter', '--deterministic');
  assert.equal(s.avgFailures, 1, 'pushed off the stance, every episode should end in a fall');
  assert.ok(s.steps < s.episodes * EPISODE_STEPS);
});

test('csc train --env laikago-walk starts from the shipped controller by default, and from scratch with --init-policy none', { skip: NO_SIM }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-walk-init-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tiny = ['--env', 'laikago-walk', '--epochs', '1', '--num-envs', '2', '--steps-per-epoch', '100', '--set', 'criticUpdatesPerEpoch=2', '--progress', 'quiet'];
  const withDefault = csc('train', ...tiny, '--out', join(dir, 'default'));
  assert.equal(withDefault.code, 0, withDefault.err);
  assert.match(withDefault.err, /policy starts from .*checkpoints\/laikago-stand/);
  const cfg = JSON.parse(await readFile(join(dir, 'default', 'config.json'), 'utf8')) as { initPolicy: string | null };
  assert.equal(cfg.initPolicy, STANDING_CONTROLLER_DIR);
  const fresh = csc('train', ...tiny, '--init-policy', 'none', '--out', join(dir, 'fresh'));
  assert.equal(fresh.code, 0, fresh.err);
  assert.doesNotMatch(fresh.err, /policy starts from/);
  const cfgFresh = JSON.parse(await readFile(join(dir, 'fresh', 'config.json'), 'utf8')) as { initPolicy: string | null };
  assert.equal(cfgFresh.initPolicy, null);
});

test('laikago-walk with a gait clock (--env-arg gait_hz) starts from the standing controller, and csc eval and --resume rebuild the env the run used', { skip: NO_SIM }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'csc-walk-gait-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const run = join(dir, 'run');
  const tiny = ['--env', 'laikago-walk', '--num-envs', '2', '--steps-per-epoch', '100', '--set', 'criticUpdatesPerEpoch=2', '--progress', 'quiet', '--out', run];
  const r = csc('train', ...tiny, '--epochs', '1', '--env-arg', 'gait_hz=2');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /policy starts from .*checkpoints\/laikago-stand/);
  const cfg = JSON.parse(await readFile(join(run, 'config.json'), 'utf8')) as { envArgs: unknown; spec: { obsSize: number; obsNames: string[] } };
  assert.deepEqual(cfg.envArgs, { gait_hz: 2 });
  assert.equal(cfg.spec.obsSize, 50);
  assert.deepEqual(cfg.spec.obsNames.slice(-2), ['gait_phase_sin', 'gait_phase_cos']);
  // the checkpoint's policy takes 50 inputs: eval and resume must build the env with the clock
  const s = evaluate(run, '--no-filter', '--deterministic');
  assert.equal(s.episodes, 4);
  const resumed = csc('train', ...tiny, '--epochs', '2', '--resume');
  assert.equal(resumed.code, 0, resumed.err);
  const bad = csc('eval', '--checkpoint', run, '--episodes', '1', '--num-envs', '1', '--env-arg', 'gait_hz=0');
  assert.notEqual(bad.code, 0, 'an env without the clock does not fit the checkpoint');
  assert.match(bad.err, /obs/);
});
