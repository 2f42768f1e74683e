// The npm package as a user gets it: `npm pack` of this checkout installed into an empty folder,
// then `npx csc --version` and a tiny `npx csc train` there. dist/ is built by the test runner
// (scripts/run-tests.mjs) before the tests, so the pack skips `prepare`. The install takes the
// dependencies from npm's cache where `npm ci` left them (--prefer-offline), from the registry
// otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

function run(cmd: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 240_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} in ${cwd}: exit ${String(r.status)}\n${r.stdout}\n${r.stderr}`);
  return r;
}

test('npm pack installs into an empty folder and runs csc --version and csc train there', async (t) => {
  assert.ok(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is not built: run the tests through scripts/run-tests.mjs, or npm run build');
  const tmp = await mkdtemp(join(tmpdir(), 'csc-pkg-'));
  t.after(() => rm(tmp, { recursive: true, force: true }));

  const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT);
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  assert.ok(info !== undefined);
  const paths = info.files.map((f) => f.path);
  for (const want of ['bin/csc.mjs', 'dist/cli/main.js', 'hardware/panda.yaml', 'sim/csc_sim/server.py', 'scripts/setup-sim.sh', 'package.xml', 'checkpoints/laikago-stand/checkpoint.json', 'checkpoints/laikago-stand/weights.bin'])
    assert.ok(paths.includes(want), `${want} is not in the package`);
  for (const p of paths) assert.doesNotMatch(p, /^src\/|\.test\.|\.tsbuildinfo$|^sim\/\.venv|^node_modules\//, `${p} should not be in the package`);

  const app = join(tmp, 'app');
  run('mkdir', [app], tmp);
  await writeFile(join(app, 'package.json'), '{ "name": "csc-package-test", "private": true }\n');
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, info.filename)], app);
  assert.ok(!existsSync(join(app, 'node_modules', 'tsx')), 'tsx was installed: the package must not need it at run time');

  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(run('npx', ['csc', '--version'], app).stdout, `${pkg.version}\n`);
  const train = run('npx', ['csc', 'train', '--env', 'point-nav', '--epochs', '1', '--steps-per-epoch', '400', '--num-envs', '4', '--set', 'criticUpdatesPerEpoch=5', '--progress', 'plain'], app);
  assert.match(train.stderr, /epoch 1\/1/);
  const runs = readdirSync(join(app, 'runs'));
  assert.equal(runs.length, 1, `one run folder expected in ${app}/runs, got ${runs.join(', ')}`);
  assert.ok(existsSync(join(app, 'runs', runs[0]!, 'config.json')));
});
