/**
 * The embedded point-nav drawn from above: the 4 m × 4 m arena, traps (red), the goal (green), the
 * agent (blue, with its heading) and its health as a bar.
 */
import type { Frame } from '../envs/env.ts';
import { Canvas } from './canvas.ts';

/** The state of one point-nav env, in metres and radians (world frame, x right, y up). */
export interface PointNavScene {
  readonly arenaHalfM: number;
  readonly x: number;
  readonly y: number;
  readonly headingRad: number;
  readonly goal: { readonly x: number; readonly y: number };
  readonly goalRadiusM: number;
  readonly traps: readonly { readonly x: number; readonly y: number }[];
  readonly trapRadiusM: number;
  readonly health: number;
  readonly maxHealth: number;
}

/** Draws `scene` into a new `widthPx × heightPx` frame; the arena fits the shorter side. */
export function drawPointNav(scene: PointNavScene, widthPx: number, heightPx: number): Frame {
  const c = new Canvas(widthPx, heightPx);
  c.fill([235, 235, 230]);
  const side = Math.min(widthPx, heightPx);
  const pxPerM = side / (2 * scene.arenaHalfM);
  const ox = widthPx / 2;
  const oy = heightPx / 2;
  const px = (x: number): number => ox + x * pxPerM;
  const py = (y: number): number => oy - y * pxPerM;
  c.fillRect(ox - side / 2, oy - side / 2, side, side, [250, 250, 248]);
  for (let m = -scene.arenaHalfM; m <= scene.arenaHalfM; m++) {
    c.line(px(m), py(-scene.arenaHalfM), px(m), py(scene.arenaHalfM), [215, 215, 210]);
    c.line(px(-scene.arenaHalfM), py(m), px(scene.arenaHalfM), py(m), [215, 215, 210]);
  }
  for (const t of scene.traps) c.fillCircle(px(t.x), py(t.y), scene.trapRadiusM * pxPerM, [220, 40, 40], 0.45);
  c.fillCircle(px(scene.goal.x), py(scene.goal.y), scene.goalRadiusM * pxPerM, [30, 170, 60], 0.8);
  const r = Math.max(3, 0.07 * pxPerM);
  const ax = px(scene.x);
  const ay = py(scene.y);
  c.line(ax, ay, ax + 2.2 * r * Math.cos(scene.headingRad), ay - 2.2 * r * Math.sin(scene.headingRad), [20, 40, 120], Math.max(2, r / 2));
  c.fillCircle(ax, ay, r, [40, 80, 220]);
  // health bar along the right edge of the arena
  const barH = side * 0.5;
  const barX = ox + side / 2 - 0.04 * side;
  const barY = oy + side / 2 - barH - 0.04 * side;
  c.fillRect(barX, barY, 0.02 * side + 2, barH, [60, 60, 60], 0.5);
  const frac = Math.max(0, Math.min(1, scene.health / scene.maxHealth));
  c.fillRect(barX, barY + barH * (1 - frac), 0.02 * side + 2, barH * frac, frac > 0.3 ? [40, 160, 70] : [220, 60, 40]);
  return c;
}
