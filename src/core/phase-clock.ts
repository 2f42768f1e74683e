/**
 * Wall time per phase of an epoch, for the learner profile (bench/learner.ts, issue 12): each
 * `lap(phase)` charges the time since the previous lap (or `start()`) to `phase`. A few
 * `performance.now()` calls per env step, cheap next to any tensor call.
 */
export class PhaseClock {
  private readonly ms = new Map<string, number>();
  private last = 0;

  /** Begins timing; the next lap is measured from here. */
  start(): void {
    this.last = performance.now();
  }

  /** Charges the time since the last lap to `phase`. */
  lap(phase: string): void {
    const now = performance.now();
    this.ms.set(phase, (this.ms.get(phase) ?? 0) + (now - this.last));
    this.last = now;
  }

  /** Milliseconds per phase since the last `take()`, in first-seen order; then clears. */
  take(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.ms) out[k] = v;
    this.ms.clear();
    return out;
  }
}
