#!/usr/bin/env node
// The `csc` command. The sources are TypeScript run through tsx's loader, so no build step
// stands between a clone and a training run.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
