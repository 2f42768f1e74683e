/**
 * What the safety filter decided, drawn on a frame (`csc eval --render`): a band along the top with
 * the episode, step and return so far, and the decision taken in the pictured state — Q_C of the
 * executed action against ε, how many candidates were tried, and whether the filter was exhausted
 * (no candidate under ε, the lowest-Q_C one executed) — plus a Q_C gauge with a tick at ε. The last
 * frame of an episode carries its outcome instead.
 */
import { Canvas, FONT_HEIGHT_PX, type Rgb, textWidthPx } from './canvas.ts';

/** The decision taken in the pictured state (Algorithm 1, line 6). */
export interface FilterDecision {
  /** Q_C(s, a) of the executed action; NaN when the policy has no critic or the filter is off. */
  readonly qc: number;
  /** Candidates examined, 1..K. */
  readonly tried: number;
  readonly exhausted: boolean;
}

/** Everything drawn on one frame. */
export interface OverlayInfo {
  /** 1-based episode number. */
  readonly episode: number;
  /** Steps taken in the episode before this frame's state. */
  readonly step: number;
  /** Sum of rewards so far in the episode. */
  readonly returnSoFar: number;
  /** Whether the filter is on, and its threshold ε (NaN when off). */
  readonly epsilon: number;
  /** The decision in this state, or the episode's outcome on its last frame. */
  readonly shown: { readonly kind: 'decision'; readonly decision: FilterDecision } | { readonly kind: 'end'; readonly outcome: EpisodeOutcome };
}

/** How an episode ended. */
export type EpisodeOutcome = 'failure' | 'success' | 'time limit' | 'dropped';

const WHITE: Rgb = [255, 255, 255];
const GREEN: Rgb = [80, 220, 100];
const RED: Rgb = [255, 70, 60];
const AMBER: Rgb = [255, 190, 60];
const GREY: Rgb = [170, 170, 170];

/** Text scale for a frame: 1 below 480 px wide, 2 from 480 px (two lines of up to 40 characters). */
export function overlayScale(widthPx: number): number {
  return widthPx >= 480 ? 2 : 1;
}

/** Draws `info` on `canvas` (in place). */
export function drawOverlay(canvas: Canvas, info: OverlayInfo): void {
  const s = overlayScale(canvas.widthPx);
  const lineH = (FONT_HEIGHT_PX + 1) * s;
  const pad = 2 * s;
  canvas.fillRect(0, 0, canvas.widthPx, 2 * lineH + 2 * pad, [0, 0, 0], 0.6);
  const head = `ep ${info.episode}  t ${info.step}  R ${info.returnSoFar.toFixed(2)}`;
  canvas.text(pad, pad, head, WHITE, s);
  const y2 = pad + lineH;
  if (info.shown.kind === 'end') {
    const o = info.shown.outcome;
    const color = o === 'failure' ? RED : o === 'success' ? GREEN : o === 'dropped' ? GREY : AMBER;
    canvas.text(pad, y2, o === 'failure' ? 'FAILURE' : o.toUpperCase(), color, s);
    if (o === 'failure') {
      // a frame edge in the failure colour: the frame people look for
      const b = 3 * s;
      canvas.fillRect(0, 0, canvas.widthPx, b, RED);
      canvas.fillRect(0, canvas.heightPx - b, canvas.widthPx, b, RED);
      canvas.fillRect(0, 0, b, canvas.heightPx, RED);
      canvas.fillRect(canvas.widthPx - b, 0, b, canvas.heightPx, RED);
    }
    return;
  }
  const d = info.shown.decision;
  if (!Number.isFinite(d.qc)) {
    canvas.text(pad, y2, 'no filter: policy action', GREY, s);
    return;
  }
  const color = d.exhausted ? RED : GREEN;
  const rel = d.exhausted ? '>' : '<=';
  canvas.text(pad, y2, `Qc ${d.qc.toFixed(3)} ${rel} eps ${info.epsilon.toFixed(3)}  tried ${d.tried}`, color, s);
  if (d.exhausted) {
    // no candidate passed: the lowest-Q_C one was executed
    const label = 'EXHAUSTED';
    canvas.text(canvas.widthPx - pad - textWidthPx(label, s), pad, label, RED, s);
  }
  drawGauge(canvas, d.qc, info.epsilon, color, s);
}

/** A bar along the bottom: Q_C on [0, 1] (clipped), a white tick at ε. */
function drawGauge(canvas: Canvas, qc: number, epsilon: number, color: Rgb, s: number): void {
  const h = 4 * s;
  const y = canvas.heightPx - h - 2 * s;
  const x0 = 2 * s;
  const w = canvas.widthPx - 4 * s;
  canvas.fillRect(x0, y, w, h, [0, 0, 0], 0.5);
  canvas.fillRect(x0, y, Math.round(w * clamp01(qc)), h, color);
  if (Number.isFinite(epsilon)) canvas.fillRect(x0 + Math.round(w * clamp01(epsilon)) - Math.floor(s / 2), y - s, s, h + 2 * s, WHITE);
  const label = 'Qc';
  if (textWidthPx(label, s) < w) canvas.text(x0 + w - textWidthPx(label, s), y - (FONT_HEIGHT_PX + 1) * s, label, GREY, s);
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
