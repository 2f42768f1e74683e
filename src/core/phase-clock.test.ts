import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PhaseClock } from './phase-clock.ts';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('PhaseClock charges each lap to its phase, sums repeats, and clears on take()', () => {
  const c = new PhaseClock();
  c.start();
  busy(4);
  c.lap('a');
  busy(8);
  c.lap('b');
  busy(4);
  c.lap('a');
  const t = c.take();
  assert.deepEqual(Object.keys(t), ['a', 'b']);
  assert.ok(t.a! >= 8 && t.b! >= 8, JSON.stringify(t));
  assert.deepEqual(c.take(), {});
});
