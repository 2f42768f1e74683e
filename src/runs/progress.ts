/**
 * Progress of a long training run: a live `cli-progress` bar on a terminal, one plain line per
 * epoch when the output is a file or a pipe (CI logs, `nohup`, `csc compare` children), or nothing.
 */
import { MultiBar, type SingleBar } from 'cli-progress';
import type { EpochMetrics } from './metrics.ts';

/** `auto`: bar on a TTY, plain lines otherwise. */
export type ProgressMode = 'auto' | 'bar' | 'plain' | 'quiet';

/** Options of `ProgressReporter`. */
export interface ProgressOptions {
  /** Epochs the run will reach (the bar's total): epoch indices run 0 … totalEpochs − 1. */
  readonly totalEpochs: number;
  readonly mode?: ProgressMode;
  /** Where progress goes; stderr by default so stdout stays free for results. */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Prefix naming the run, e.g. `csc s0`; helps when several runs share one log. */
  readonly label?: string;
  /** First epoch this process trains (a resumed run starts past 0). */
  readonly startEpoch?: number;
}

/** Compact duration: `42s`, `3m07s`, `2h05m`. */
export function formatDurationS(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const r = Math.round(s);
  if (r < 60) return `${r}s`;
  if (r < 3600) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
}

function fmt(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}

/**
 * The plain-mode line for one epoch, e.g.
 * `[csc s0] epoch 3/100 episodes 16 (+4) avgReward 12.345 avgFailures 0.250 cumFailures 5 λ 0.0310 steps/s 10432 ETA 3m12s`.
 * `epoch` is shown 1-based (epochs done / total).
 */
export function formatEpochLine(m: EpochMetrics, totalEpochs: number, etaS: number, label?: string): string {
  const parts = [
    `epoch ${m.epoch + 1}/${totalEpochs}`,
    `episodes ${m.totalEpisodes} (+${m.episodes})`,
    `avgReward ${fmt(m.avgReward, 3)}`,
    `avgFailures ${fmt(m.avgFailures, 3)}`,
    `cumFailures ${m.cumulativeFailures}`,
    `λ ${fmt(m.lambda, 4)}`,
    `steps/s ${fmt(m.stepsPerS, 0)}`,
    `ETA ${formatDurationS(etaS)}`,
  ];
  return `${label === undefined ? '' : `[${label}] `}${parts.join(' ')}`;
}

/**
 * Reports each epoch's metrics. ETA = mean wall time of the epochs seen by this process × epochs
 * left, so it uses the run's own clock (`wallS`) and is reproducible in tests.
 */
export class ProgressReporter {
  readonly mode: 'bar' | 'plain' | 'quiet';
  private readonly stream: NodeJS.WritableStream;
  private readonly multi: MultiBar | undefined;
  private readonly bar: SingleBar | undefined;
  private wallSumS = 0;
  private seen = 0;

  constructor(private readonly opts: ProgressOptions) {
    if (!Number.isInteger(opts.totalEpochs) || opts.totalEpochs < 1) {
      throw new RangeError(`ProgressReporter: totalEpochs must be an integer ≥ 1, got ${opts.totalEpochs}`);
    }
    const stream = opts.stream ?? process.stderr;
    this.stream = stream;
    const mode = opts.mode ?? 'auto';
    this.mode = mode === 'auto' ? (stream.isTTY === true ? 'bar' : 'plain') : mode;
    if (this.mode === 'bar') {
      const label = opts.label === undefined ? '' : `${opts.label} `;
      this.multi = new MultiBar({
        stream,
        // Most important first: a terminal narrower than the line cuts its right end.
        format: `${label}[{bar}] epoch {value}/{total} ETA {etaText} | R {avgReward} | fail {avgFailures} | episodes {episodes} | λ {lambda} | {stepsPerS} steps/s`,
        barsize: 12,
        hideCursor: true,
        gracefulExit: false,
        // A bar forced onto a non-TTY stream still draws, on demand only.
        noTTYOutput: stream.isTTY !== true,
      });
      this.bar = this.multi.create(opts.totalEpochs, opts.startEpoch ?? 0, {
        episodes: 0,
        avgReward: '-',
        avgFailures: '-',
        lambda: '-',
        stepsPerS: '-',
        etaText: '?',
      });
    }
  }

  /** Reports one finished epoch. */
  update(m: EpochMetrics): void {
    if (Number.isFinite(m.wallS)) {
      this.wallSumS += m.wallS;
      this.seen += 1;
    }
    const left = Math.max(0, this.opts.totalEpochs - (m.epoch + 1));
    const etaS = this.seen === 0 ? NaN : (this.wallSumS / this.seen) * left;
    switch (this.mode) {
      case 'quiet':
        return;
      case 'plain':
        this.stream.write(`${formatEpochLine(m, this.opts.totalEpochs, etaS, this.opts.label)}\n`);
        return;
      case 'bar':
        this.bar?.update(m.epoch + 1, {
          episodes: m.totalEpisodes,
          avgReward: fmt(m.avgReward, 2),
          avgFailures: fmt(m.avgFailures, 3),
          lambda: fmt(m.lambda, 3),
          stepsPerS: fmt(m.stepsPerS, 0),
          etaText: formatDurationS(etaS),
        });
        return;
    }
  }

  /** Prints a message without breaking the bar (above it in bar mode); dropped in quiet mode. */
  log(message: string): void {
    switch (this.mode) {
      case 'quiet':
        return;
      case 'plain':
        this.stream.write(`${message}\n`);
        return;
      case 'bar':
        this.multi?.log(`${message}\n`);
        return;
    }
  }

  /** Stops the bar (restoring the cursor); safe to call twice. */
  stop(): void {
    this.multi?.stop();
  }
}
