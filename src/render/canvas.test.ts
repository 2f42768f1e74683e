import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Canvas, textWidthPx } from './canvas.ts';
import { drawOverlay } from './overlay.ts';
import { drawPointNav } from './point-nav.ts';

const px = (c: Canvas, x: number, y: number): number[] => Array.from(c.rgb.subarray((y * c.widthPx + x) * 3, (y * c.widthPx + x) * 3 + 3));

test('rectangles and discs land where asked, clipped to the frame, blended by alpha', () => {
  const c = new Canvas(20, 10);
  c.fill([10, 20, 30]);
  c.fillRect(15, 5, 100, 100, [200, 0, 0]);
  assert.deepEqual(px(c, 19, 9), [200, 0, 0]);
  assert.deepEqual(px(c, 14, 9), [10, 20, 30]);
  c.fillRect(0, 0, 1, 1, [110, 20, 30], 0.5);
  assert.deepEqual(px(c, 0, 0), [60, 20, 30]);
  c.fillCircle(5, 5, 2, [0, 255, 0]);
  assert.deepEqual(px(c, 5, 5), [0, 255, 0]);
  assert.deepEqual(px(c, 5, 8), [10, 20, 30]);
  assert.throws(() => new Canvas(0, 5), /size 0x5/);
  assert.throws(() => new Canvas(2, 2, new Uint8Array(5)), /needs 12 bytes, got 5/);
});

test('text draws glyph pixels inside its advance, and nothing for spaces', () => {
  const c = new Canvas(40, 12);
  assert.equal(c.text(0, 0, 'Qc 1', [255, 255, 255]), textWidthPx('Qc 1'));
  const lit = (x0: number, x1: number): number => {
    let n = 0;
    for (let y = 0; y < 12; y++) for (let x = x0; x < x1; x++) n += c.rgb[(y * 40 + x) * 3]! > 0 ? 1 : 0;
    return n;
  };
  assert.ok(lit(0, 6) > 10, 'Q has pixels');
  assert.equal(lit(12, 18), 0, 'a space has none');
  assert.ok(lit(18, 24) > 3, '1 has pixels');
  assert.equal(lit(24, 40), 0);
});

test('the overlay shows the decision: green when accepted, red when exhausted, a red edge on a failure', () => {
  const base = (): Canvas => {
    const c = new Canvas(240, 120);
    c.fill([128, 128, 128]);
    return c;
  };
  const count = (c: Canvas, pred: (r: number, g: number, b: number) => boolean): number => {
    let n = 0;
    for (let i = 0; i < c.rgb.length; i += 3) n += pred(c.rgb[i]!, c.rgb[i + 1]!, c.rgb[i + 2]!) ? 1 : 0;
    return n;
  };
  const red = (r: number, g: number, b: number): boolean => r > 200 && g < 100 && b < 100;
  const green = (r: number, g: number, b: number): boolean => g > 200 && r < 120 && b < 130;
  const ok = base();
  drawOverlay(ok, { episode: 1, step: 3, returnSoFar: 1.5, epsilon: 0.05, shown: { kind: 'decision', decision: { qc: 0.01, tried: 2, exhausted: false } } });
  const bad = base();
  drawOverlay(bad, { episode: 1, step: 3, returnSoFar: 1.5, epsilon: 0.05, shown: { kind: 'decision', decision: { qc: 0.4, tried: 100, exhausted: true } } });
  assert.ok(count(ok, green) > 50 && count(ok, red) === 0);
  assert.ok(count(bad, red) > 50 && count(bad, green) === 0);
  const fail = base();
  drawOverlay(fail, { episode: 2, step: 40, returnSoFar: -3, epsilon: 0.05, shown: { kind: 'end', outcome: 'failure' } });
  assert.deepEqual(px(fail, 0, 119), [255, 70, 60]);
  assert.deepEqual(px(fail, 239, 60), [255, 70, 60]);
});

test('point-nav is drawn from above: goal green, traps red, the agent blue where it stands', () => {
  const f = drawPointNav(
    { arenaHalfM: 2, x: -1.5, y: 0, headingRad: 0, goal: { x: 1.5, y: 0 }, goalRadiusM: 0.25, traps: [{ x: 0, y: 0 }], trapRadiusM: 0.45, health: 25, maxHealth: 25 },
    200,
    200,
  );
  const c = new Canvas(f.widthPx, f.heightPx, f.rgb);
  // 50 px per metre, origin at the centre
  const [ar, ag, ab] = px(c, 25, 100);
  assert.ok(ab! > 150 && ar! < 100 && ag! < 120, `agent pixel ${[ar, ag, ab].join(',')}`);
  const [gr, gg] = px(c, 175, 100);
  assert.ok(gg! > 140 && gr! < 100, 'goal');
  const [tr, tg] = px(c, 100, 100);
  assert.ok(tr! > 200 && tg! < 180, 'trap');
});

test('--render-size is WIDTHxHEIGHT within [16, 4096]', async () => {
  const { parseRenderSize } = await import('../cli/eval.ts');
  assert.deepEqual(parseRenderSize('480x360'), { widthPx: 480, heightPx: 360 });
  for (const bad of ['big', '480', '8x8', '480x5000', '480x360x2', '-1x20']) {
    assert.throws(() => parseRenderSize(bad), new RegExp(`--render-size ${bad}: expected WIDTHxHEIGHT`));
  }
});
