/**
 * An RGB frame to draw on: the few primitives the rendered episodes need (rectangles, discs,
 * lines, bitmap text), with alpha blending. Coordinates are pixels, x right, y down; everything is
 * clipped to the frame.
 */
import type { Frame } from '../envs/env.ts';
import { FONT_FIRST_CODE, FONT_GLYPHS, FONT_HEIGHT_PX, FONT_WIDTH_PX } from './font.ts';

/** A colour, 0..255 per channel. */
export type Rgb = readonly [number, number, number];

/** A frame that can be drawn on. */
export class Canvas implements Frame {
  readonly rgb: Uint8Array;

  constructor(
    readonly widthPx: number,
    readonly heightPx: number,
    rgb?: Uint8Array,
  ) {
    if (!Number.isInteger(widthPx) || !Number.isInteger(heightPx) || widthPx < 1 || heightPx < 1) {
      throw new RangeError(`Canvas: size ${widthPx}x${heightPx}, expected positive integers`);
    }
    const bytes = widthPx * heightPx * 3;
    if (rgb !== undefined && rgb.length !== bytes) {
      throw new RangeError(`Canvas: ${widthPx}x${heightPx} RGB needs ${bytes} bytes, got ${rgb.length}`);
    }
    this.rgb = rgb ?? new Uint8Array(bytes);
  }

  /** A canvas holding a copy of `frame` (the frame itself is left as it is). */
  static copyOf(frame: Frame): Canvas {
    return new Canvas(frame.widthPx, frame.heightPx, Uint8Array.from(frame.rgb));
  }

  fill(color: Rgb): void {
    this.fillRect(0, 0, this.widthPx, this.heightPx, color);
  }

  /** Blends one pixel with `color` at opacity `alpha` (0..1). */
  blend(x: number, y: number, color: Rgb, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.widthPx || y >= this.heightPx) return;
    const i = (y * this.widthPx + x) * 3;
    const px = this.rgb;
    for (let c = 0; c < 3; c++) px[i + c] = Math.round(px[i + c]! * (1 - alpha) + color[c]! * alpha);
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb, alpha = 1): void {
    const x0 = Math.max(0, Math.floor(x));
    const y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.widthPx, Math.floor(x + w));
    const y1 = Math.min(this.heightPx, Math.floor(y + h));
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.blend(px, py, color, alpha);
  }

  /** A filled disc of radius `r` centred on (cx, cy). */
  fillCircle(cx: number, cy: number, r: number, color: Rgb, alpha = 1): void {
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(this.heightPx - 1, Math.ceil(cy + r));
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(this.widthPx - 1, Math.ceil(cx + r));
    for (let py = y0; py <= y1; py++) {
      for (let px = x0; px <= x1; px++) {
        const dx = px + 0.5 - cx;
        const dy = py + 0.5 - cy;
        if (dx * dx + dy * dy <= r * r) this.blend(px, py, color, alpha);
      }
    }
  }

  /** A line `thickness` pixels wide (drawn as discs along it). */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    for (let i = 0; i <= n; i++) {
      const t = i / n;
      this.fillCircle(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, thickness / 2, color);
    }
  }

  /**
   * Draws `text` with its top-left corner at (x, y), each font pixel `scale` pixels wide; returns
   * the width drawn. Characters outside printable ASCII are drawn as `?`.
   */
  text(x: number, y: number, text: string, color: Rgb, scale = 1): number {
    let cx = Math.floor(x);
    for (const ch of text) {
      const code = ch.codePointAt(0) ?? 63;
      const glyph = FONT_GLYPHS[code - FONT_FIRST_CODE] ?? FONT_GLYPHS[63 - FONT_FIRST_CODE]!;
      for (let row = 0; row < FONT_HEIGHT_PX; row++) {
        const bits = parseInt(glyph.slice(2 * row, 2 * row + 2), 16);
        for (let col = 0; col < FONT_WIDTH_PX; col++) {
          if ((bits >> (FONT_WIDTH_PX - 1 - col)) & 1) this.fillRect(cx + col * scale, Math.floor(y) + row * scale, scale, scale, color);
        }
      }
      cx += FONT_WIDTH_PX * scale;
    }
    return cx - Math.floor(x);
  }
}

/** Width in pixels of `text` drawn at `scale`. */
export function textWidthPx(text: string, scale = 1): number {
  // the overlay's text is ASCII: one UTF-16 unit per drawn character
  return text.length * FONT_WIDTH_PX * scale;
}

export { FONT_HEIGHT_PX };
