#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node's test runner (tsx as the TypeScript loader).
// Node 20's `--test` does not glob TypeScript files, so the list is built here. The tests that run
// the `csc` command run bin/csc.mjs, that is dist/: it is rebuilt first (incremental `tsc`, a few
// seconds when nothing changed) so that they never run a stale build of the sources.
// Usage: node scripts/run-tests.mjs [filter-substring ...]
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const roots = ['src', 'test'];
const filters = process.argv.slice(2);
const files = roots
  .flatMap((root) => readdirSync(root, { recursive: true }).map((f) => join(root, String(f))))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test files matched ${filters.join(', ') || '(all)'}`);
  process.exit(1);
}
const build = spawnSync(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.error(`run-tests: building dist/ (tsc -p tsconfig.build.json) failed with exit ${build.status}`);
  process.exit(1);
}
const concurrency = process.env.CSC_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
