/**
 * `csc eval --render` end to end (issue 11, item 5): a checkpoint trained for one tiny epoch, then
 * rendered episodes written by the real CLI, decoded with ffmpeg, counted and compared frame to
 * frame. point-nav is drawn in TypeScript; laikago-walk by a real sim server (PyBullet's
 * TinyRenderer), whose episodes end within a few dozen steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simPython } from '../src/bridge/supervisor.ts';
import { decodeVideo } from '../src/render/video.ts';

const csc = (...args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, ['bin/csc.mjs', ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const TINY = ['--epochs', '1', '--num-envs', '2', '--steps-per-epoch', '200', '--set', 'criticUpdatesPerEpoch=5', '--set', 'filterCandidates=10', '--set', 'filterProbe=2', '--progress', 'quiet'];

interface Summary {
  episodes: number;
  steps: number;
  avgFailures: number;
  render: { path: string; frames: number; widthPx: number; heightPx: number; fps: number };
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

async function trainAndRender(env: string, video: string, size: string, extra: readonly string[], trainExtra: readonly string[] = []): Promise<{ summary: Summary; frames: Uint8Array[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'csc-render-'));
  const run = join(dir, 'run');
  const t = csc('train', '--env', env, ...TINY, ...trainExtra, '--out', run);
  assert.equal(t.code, 0, t.err);
  const out = join(dir, video);
  const e = csc('eval', '--checkpoint', run, '--render', out, '--render-size', size, '--seed', '7', ...extra);
  assert.equal(e.code, 0, e.err);
  const summary = JSON.parse(e.out) as Summary;
  const [w, h] = size.split('x').map(Number) as [number, number];
  assert.deepEqual([summary.render.widthPx, summary.render.heightPx], [w, h]);
  return { summary, frames: decodeVideo(out, w, h) };
}

test('point-nav: the .gif holds one frame per state, T + 1 per episode, and the frames change', async () => {
  const { summary, frames } = await trainAndRender('point-nav', 'pn.gif', '96x96', ['--episodes', '1']);
  assert.equal(summary.episodes, 1);
  assert.equal(summary.render.frames, summary.steps + summary.episodes);
  assert.equal(frames.length, summary.render.frames);
  assert.equal(summary.render.fps, 10);
  // the agent moves and the step counter ticks: consecutive frames differ
  const changed = frames.slice(1).filter((f, i) => meanAbsDiff(f, frames[i]!) > 0).length;
  assert.ok(changed >= 0.9 * (frames.length - 1), `${changed} of ${frames.length - 1} frame pairs differ`);
});

test('laikago-walk: rendered by the sim server into an .mp4 that decodes to the frames written', async (t) => {
  if (!existsSync(simPython())) {
    t.skip('no sim venv (scripts/setup-sim.sh)');
    return;
  }
  // a fresh policy (not the standing controller laikago-walk starts from by default), which falls
  // within a few dozen steps and moves the picture
  const { summary, frames } = await trainAndRender('laikago-walk', 'walk.mp4', '128x96', ['--episodes', '2'], ['--init-policy', 'none']);
  assert.equal(summary.episodes, 2);
  assert.equal(summary.render.frames, summary.steps + summary.episodes);
  assert.equal(frames.length, summary.render.frames);
  assert.equal(summary.render.fps, 50);
  // a real picture (floor, sky, robot), not a blank one, that changes as the robot moves
  const first = frames[0]!;
  let min = 255;
  let max = 0;
  for (const v of first) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.ok(max - min > 100, `first frame spans ${min}..${max}`);
  assert.ok(meanAbsDiff(frames[0]!, frames[Math.min(10, frames.length - 1)]!) > 1);
});

test('--render flags are checked before anything runs', () => {
  const many = csc('eval', '--checkpoint', 'nowhere', '--render', 'x.mp4', '--num-envs', '4');
  assert.equal(many.code, 2);
  assert.match(many.err, /--render pictures one env: drop --num-envs 4/);
  const avi = csc('eval', '--checkpoint', 'nowhere', '--render', 'x.avi');
  assert.equal(avi.code, 2);
  assert.match(avi.err, /x.avi: expected a .mp4 or .gif file name, got .avi/);
  const odd = csc('eval', '--checkpoint', 'nowhere', '--render', 'x.mp4', '--render-size', '101x80');
  assert.equal(odd.code, 2);
  assert.match(odd.err, /\.mp4 \(H.264\) needs even numbers/);
});
