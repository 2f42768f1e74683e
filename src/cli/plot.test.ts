import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunFileFormatError } from '../runs/run-folder.ts';
import { plotCommand, plotRuns, type CommandIo } from './plot.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'runs');
const made: string[] = [];
after(async () => {
  for (const d of made) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'csc-cli-plot-'));
  made.push(d);
  return d;
}

/** Runs a command with its output captured (never the process's streams: the test reporter uses them). */
async function captured(fn: (io: CommandIo) => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
  const code = await fn(io);
  return { code, out: out.join(''), err: err.join('') };
}

function lineMarks(svg: string, panel: number): number {
  return svg.split(`class="mark-line role-mark concat_${panel}_layer_1_marks"`).length - 1;
}

test('csc plot on a folder of run folders draws one line per algorithm', async () => {
  const prefix = join(await tmp(), 'cmp');
  const r = await captured((io) => plotCommand([FIXTURES, '--out', prefix, '--title', 'fixtures'], io));
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `wrote ${prefix}.svg\nwrote ${prefix}.png\n`);
  const svg = await readFile(`${prefix}.svg`, 'utf8');
  for (let i = 0; i < 3; i++) assert.equal(lineMarks(svg, i), 2);
  assert.ok(svg.includes('>Base (TRPO)</text>') && svg.includes('>CSC</text>'));
  assert.ok((await stat(`${prefix}.png`)).size > 20_000);
});

test('--group-by chi puts all fixture runs (one χ) in one group', async () => {
  const prefix = join(await tmp(), 'chi');
  const r = await captured((io) => plotCommand([FIXTURES, '--group-by', 'chi', '--out', prefix], io));
  assert.equal(r.code, 0, r.err);
  const svg = await readFile(`${prefix}.svg`, 'utf8');
  for (let i = 0; i < 3; i++) assert.equal(lineMarks(svg, i), 1);
  assert.ok(svg.includes('>χ = 0.05</text>'));
});

test('one run folder gives its figure inside the folder by default', async () => {
  const dir = join(await tmp(), 'one');
  await cp(join(FIXTURES, 'csc-chi0.05-s1'), dir, { recursive: true });
  const r = await captured((io) => plotCommand([dir], io));
  assert.equal(r.code, 0, r.err);
  assert.ok((await stat(join(dir, 'figure.png'))).isFile());
  assert.ok((await readFile(join(dir, 'figure.svg'), 'utf8')).includes('seed 1'));
});

test('a config.json without the algorithm fails naming the file and the field', async () => {
  const dir = join(await tmp(), 'noalgo');
  await cp(join(FIXTURES, 'trpo-chi0.05-s0'), dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify({ env: 'point-nav', seed: 0, chi: 0.05 }));
  await assert.rejects(plotRuns([dir]), (e: unknown) => {
    assert.ok(e instanceof RunFileFormatError);
    assert.match(e.message, /noalgo\/config\.json: top-level "algo": expected a non-empty string, got nothing/);
    return true;
  });
  const r = await captured((io) => plotCommand([dir], io));
  assert.equal(r.code, 1);
  assert.match(r.err, /^csc plot: .*top-level "algo"/);
});

test('usage errors exit 2 with the usage text; --help exits 0', async () => {
  const cases: [string[], RegExp][] = [
    [[], /no RUN_DIR given/],
    [['--group-by', 'seed', FIXTURES], /--group-by: expected one of algo, chi, label, got "seed"/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['/nonexistent/dir'], /\/nonexistent\/dir: no such folder/],
  ];
  for (const [argv, want] of cases) {
    const r = await captured((io) => plotCommand(argv, io));
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, want);
    assert.match(r.err, /Usage: csc plot/);
  }
  const h = await captured((io) => plotCommand(['--help'], io));
  assert.equal(h.code, 0);
  assert.match(h.out, /^Usage: csc plot RUN_DIR/);
});
