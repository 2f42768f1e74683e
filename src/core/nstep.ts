/**
 * h-step tuples for the safety critic's replay buffer, built from the lock-step rollout as it
 * runs: per env a queue of the last n steps; the oldest leaves as (s_t, a_t, Σ_{k<h} γ^k c_{t+k},
 * s_{t+h}, terminated_{t+h−1}, γ^h) once n steps follow it (h = n), or earlier, with h < n, when
 * its episode ends, a step is dropped, or the rollout stops (`flushAll`). A one-step target
 * propagates a failure one step back per target-network refresh; an n-step target n steps.
 */
import type { ReplayBuffer } from './replay.ts';

/** One env step of one env, as the rollout stores it. */
export interface NStepRow {
  readonly obs: ArrayLike<number>;
  readonly action: ArrayLike<number>;
  readonly nextObs: ArrayLike<number>;
  readonly reward: number;
  readonly cost: number;
  readonly terminated: boolean;
}

export class NStepWriter {
  private readonly queues: NStepRow[][];

  constructor(
    private readonly buffer: ReplayBuffer,
    readonly numEnvs: number,
    readonly n: number,
    readonly gamma: number,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`NStepWriter: n must be an integer ≥ 1, got ${n}`);
    this.queues = Array.from({ length: numEnvs }, () => []);
  }

  /** Adds env `e`'s step (copy the arrays if the caller reuses them); `done` ends its episode. */
  push(e: number, row: NStepRow, done: boolean): void {
    const q = this.queues[e]!;
    q.push({ ...row, obs: Array.from(row.obs), action: Array.from(row.action), nextObs: Array.from(row.nextObs) });
    if (done) this.flush(e);
    else if (q.length === this.n) this.emit(e);
  }

  /** Writes every pending step of env `e` with the horizon it has (its episode ended or broke off). */
  flush(e: number): void {
    while (this.queues[e]!.length > 0) this.emit(e);
  }

  flushAll(): void {
    for (let e = 0; e < this.numEnvs; e++) this.flush(e);
  }

  /** Writes the oldest pending step of env `e` over the steps queued after it. */
  private emit(e: number): void {
    const q = this.queues[e]!;
    const first = q[0]!;
    const last = q[q.length - 1]!;
    let cost = 0;
    let reward = 0;
    let d = 1;
    for (const r of q) {
      cost += d * r.cost;
      reward += d * r.reward;
      d *= this.gamma;
    }
    // One-step tuples keep NaN (the learner's γ), so n = 1 writes exactly what a plain add would.
    this.buffer.add(first.obs, first.action, last.nextObs, reward, cost, last.terminated, q.length === 1 && this.n === 1 ? Number.NaN : d);
    q.shift();
  }
}
