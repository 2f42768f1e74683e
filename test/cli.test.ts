import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const csc = (...args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, ['bin/csc.mjs', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('--help works for the command and its subcommands', () => {
  assert.match(csc('--help').out, /Commands:/);
  assert.match(csc('train', '--help').out, /--chi X/);
  assert.match(csc('eval', '--help').out, /--no-filter/);
});

test('--version prints the version of package.json', async () => {
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
  for (const flag of ['--version', '-v', 'version']) {
    const r = csc(flag);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${pkg.version}\n`);
  }
});

test('bad flags and config values exit non-zero with a message naming the problem', () => {
  const unknown = csc('train', '--bogus');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /Unknown option '--bogus'/);
  const chi = csc('train', '--chi', '2', '--epochs', '1');
  assert.equal(chi.code, 1);
  assert.match(chi.err, /ConfigError: config.chi = 2: expected in \[0, 1\)/);
  const notNumber = csc('train', '--epochs', 'ten');
  assert.equal(notNumber.code, 2);
  assert.match(notNumber.err, /--epochs "ten": expected an integer/);
  const env = csc('train', '--env', 'moon-walk', '--epochs', '1', '--out', join(tmpdir(), `csc-never-${process.pid}`));
  assert.equal(env.code, 1);
  assert.match(env.err, /moon-walk/);
  assert.equal(csc('nope').code, 2);
});

test('csc train then csc eval: a run folder from the command line, evaluated with and without the filter', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'csc-cli-')), 'run');
  const t = csc('train', '--epochs', '1', '--num-envs', '4', '--steps-per-epoch', '400', '--set', 'criticUpdatesPerEpoch=5', '--set', 'filterCandidates=10', '--set', 'filterProbe=2', '--progress', 'plain', '--out', out);
  assert.equal(t.code, 0, t.err);
  assert.match(t.err, /epoch 1\/1/);
  const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.filterCandidates, 10);
  const withFilter = csc('eval', '--checkpoint', out, '--episodes', '2', '--num-envs', '2');
  assert.equal(withFilter.code, 0, withFilter.err);
  const summary = JSON.parse(withFilter.out) as { filter: boolean; episodes: number };
  assert.equal(summary.filter, true);
  assert.ok(summary.episodes >= 2);
  const noFilter = JSON.parse(csc('eval', '--checkpoint', out, '--episodes', '2', '--num-envs', '2', '--no-filter').out) as { filter: boolean };
  assert.equal(noFilter.filter, false);
});

test('--env-arg is parsed as JSON (bare words as strings) and refused for embedded envs', async () => {
  const { parseEnvArgs } = await import('../src/cli/train.ts');
  assert.deepEqual(parseEnvArgs(['failure_from=cost', 'health_budget=25', 'flag=true', 'name="x"']), { failure_from: 'cost', health_budget: 25, flag: true, name: 'x' });
  assert.equal(parseEnvArgs(undefined), undefined);
  const r = csc('train', '--env', 'point-nav', '--env-arg', 'a=1', '--epochs', '1', '--out', join(tmpdir(), `csc-never2-${process.pid}`));
  assert.equal(r.code, 1);
  assert.match(r.err, /point-nav is embedded: --sim, --sim-cluster, --sim-workers and --env-arg apply only to Python simulators/);
});
