import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Canvas } from './canvas.ts';
import { decodeVideo, ffmpegArgs, VideoError, videoFormatOf, VideoWriter } from './video.ts';

const W = 64;
const H = 48;

/** Frame i: a white square moving right on a background whose red channel counts up. */
function frame(i: number): Canvas {
  const c = new Canvas(W, H);
  c.fill([i * 20, 40, 90]);
  c.fillRect(4 + 4 * i, 16, 16, 16, [255, 255, 255]);
  return c;
}

for (const ext of ['mp4', 'gif'] as const) {
  test(`a .${ext} written frame by frame decodes to the same number of frames, in order`, async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'csc-video-')), `clip.${ext}`);
    const writer = VideoWriter.open(path, { widthPx: W, heightPx: H, fps: 10 });
    for (let i = 0; i < 9; i++) await writer.write(frame(i));
    await writer.close();
    assert.equal(writer.frames, 9);
    const decoded = decodeVideo(path, W, H);
    assert.equal(decoded.length, 9);
    // the moving square: the pixel at its centre in frame i is white, the background around it is not
    decoded.forEach((rgb, i) => {
      const at = (x: number, y: number): number => rgb[(y * W + x) * 3]! + rgb[(y * W + x) * 3 + 1]! + rgb[(y * W + x) * 3 + 2]!;
      assert.ok(at(12 + 4 * i, 24) > 600, `frame ${i}: square centre is ${at(12 + 4 * i, 24)}`);
      assert.ok(at(2, 2) < 500, `frame ${i}: background is ${at(2, 2)}`);
    });
  });
}

test('bad paths, sizes and frames are refused with a message naming them', async () => {
  assert.throws(() => videoFormatOf('out.avi'), (e: unknown) => e instanceof VideoError && /out.avi: expected a .mp4 or .gif file name, got .avi/.test(e.message));
  assert.throws(() => videoFormatOf('out'), /got no extension/);
  assert.equal(videoFormatOf('x/OUT.GIF'), 'gif');
  assert.throws(() => VideoWriter.open('a.mp4', { widthPx: 65, heightPx: 48, fps: 10 }), /H.264 needs an even frame size, got 65x48/);
  assert.throws(() => VideoWriter.open('a.gif', { widthPx: 8, heightPx: 48, fps: 10 }), /at least 16/);
  assert.throws(() => VideoWriter.open('a.gif', { widthPx: 64, heightPx: 48, fps: 0 }), /fps 0/);
  assert.ok(ffmpegArgs('a.gif', { widthPx: 64, heightPx: 48, fps: 10 }).some((a) => a.includes('palettegen')));
  const path = join(await mkdtemp(join(tmpdir(), 'csc-video-')), 'clip.gif');
  const writer = VideoWriter.open(path, { widthPx: W, heightPx: H, fps: 10 });
  await assert.rejects(writer.write(new Canvas(W + 2, H)), /frame 66x48 \(9504 bytes\), expected 64x48 RGB/);
  await writer.write(frame(0));
  await writer.close();
  assert.equal(decodeVideo(path, W, H).length, 1);
});
