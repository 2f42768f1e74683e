// `csc sim serve`: argument errors, help, an early server error passed through, and a real
// foreground server that shuts down cleanly when the command gets SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { simCommand } from './sim.ts';

test('--help succeeds; bad arguments are usage errors (exit 2)', async () => {
  assert.equal(await simCommand(['--help']), 0);
  assert.equal(await simCommand(['serve']), 2);
  assert.equal(await simCommand(['serve', '--env', 'gym:Pendulum-v1', '--num-envs', 'many']), 2);
  assert.equal(await simCommand(['launch', '--env', 'x']), 2);
  assert.equal(await simCommand(['serve', '--env', 'x', '--bogus']), 2);
});

test("an unknown env id exits with the server's code 2", async () => {
  assert.equal(await simCommand(['serve', '--env', 'no-such-env']), 2);
});

test('SIGTERM to `csc sim serve` is forwarded and the server exits cleanly', async () => {
  const script = "const m = await import('./src/cli/sim.ts'); process.exitCode = await m.simCommand(process.argv.slice(1));";
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script, 'serve', '--env', 'gym:Pendulum-v1', '--num-envs', '2'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  child.stdout.setEncoding('utf8');
  const firstLine = new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
  const ready: unknown = JSON.parse(await firstLine);
  assert.ok(typeof ready === 'object' && ready !== null && 'pid' in ready && typeof ready.pid === 'number');
  const serverPid = ready.pid;
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.throws(() => process.kill(serverPid, 0), /ESRCH/, 'the python server is gone too');
});
