#!/usr/bin/env node
// The `csc` command: the compiled JavaScript in dist/ (`npm run build`; `npm install` and
// `npm ci` in a clone run it through `prepare`, `npm pack` through `prepack`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`csc: ${entry.pathname} not found: this checkout is not built; run 'npm run build' (or 'npm install') in ${new URL('..', import.meta.url).pathname}\n`);
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
