/**
 * The replay buffer D_env of Algorithm 1: tuples (s, a, s′, r, c) plus `terminated`, in
 * preallocated typed arrays (a ring: the oldest tuples are overwritten when full). The safety
 * critic trains on it; it can be seeded with offline tuples (Appendix A.10).
 */
import type { Rng } from './rng.ts';

/** One minibatch, views into reusable arrays (valid until the next `sample`). */
export interface ReplayBatch {
  readonly n: number;
  readonly obs: Float32Array;
  readonly actions: Float32Array;
  readonly nextObs: Float32Array;
  readonly rewards: Float32Array;
  /** c = C(s′) ∈ {0, 1}. */
  readonly costs: Float32Array;
  /** 1 where s′ is terminal (failure or success): no bootstrap. */
  readonly terminated: Float32Array;
  /**
   * The bootstrap discount of each tuple: γ^h for an h-step tuple (s_t, a_t, Σ_{k<h} γ^k c_{t+k},
   * s_{t+h}); NaN for a plain one-step tuple (the learner's γ).
   */
  readonly discounts: Float32Array;
}

export class ReplayBuffer {
  private readonly obs: Float32Array;
  private readonly actions: Float32Array;
  private readonly nextObs: Float32Array;
  private readonly rewards: Float32Array;
  private readonly costs: Float32Array;
  private readonly terminated: Float32Array;
  private readonly discounts: Float32Array;
  private next = 0;
  private count = 0;
  private batchCache: { n: number; batch: ReplayBatch } | null = null;

  constructor(
    readonly capacity: number,
    readonly obsSize: number,
    readonly actSize: number,
  ) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`ReplayBuffer: capacity must be a positive integer, got ${capacity}`);
    this.obs = new Float32Array(capacity * obsSize);
    this.actions = new Float32Array(capacity * actSize);
    this.nextObs = new Float32Array(capacity * obsSize);
    this.rewards = new Float32Array(capacity);
    this.costs = new Float32Array(capacity);
    this.terminated = new Float32Array(capacity);
    this.discounts = new Float32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Adds one tuple (views into larger arrays are fine); `discount` as in {@link ReplayBatch.discounts}. */
  add(obs: ArrayLike<number>, action: ArrayLike<number>, nextObs: ArrayLike<number>, reward: number, cost: number, terminated: boolean, discount = Number.NaN): void {
    const i = this.next;
    this.obs.set(obs, i * this.obsSize);
    this.actions.set(action, i * this.actSize);
    this.nextObs.set(nextObs, i * this.obsSize);
    this.rewards[i] = reward;
    this.costs[i] = cost;
    this.terminated[i] = terminated ? 1 : 0;
    this.discounts[i] = discount;
    this.next = (i + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Uniform minibatch of `n` tuples (with replacement). */
  sample(n: number, rng: Rng): ReplayBatch {
    if (this.count === 0) throw new RangeError('ReplayBuffer.sample: the buffer is empty');
    if (this.batchCache?.n !== n) {
      this.batchCache = {
        n,
        batch: {
          n,
          obs: new Float32Array(n * this.obsSize),
          actions: new Float32Array(n * this.actSize),
          nextObs: new Float32Array(n * this.obsSize),
          rewards: new Float32Array(n),
          costs: new Float32Array(n),
          terminated: new Float32Array(n),
          discounts: new Float32Array(n),
        },
      };
    }
    const b = this.batchCache.batch;
    const o = this.obsSize;
    const a = this.actSize;
    for (let k = 0; k < n; k++) {
      const i = rng.int(this.count);
      b.obs.set(this.obs.subarray(i * o, (i + 1) * o), k * o);
      b.actions.set(this.actions.subarray(i * a, (i + 1) * a), k * a);
      b.nextObs.set(this.nextObs.subarray(i * o, (i + 1) * o), k * o);
      b.rewards[k] = this.rewards[i]!;
      b.costs[k] = this.costs[i]!;
      b.terminated[k] = this.terminated[i]!;
      b.discounts[k] = this.discounts[i]!;
    }
    return b;
  }

  /** Visits stored tuples oldest first (for export to a seed-data file). */
  *entries(): Generator<{ obs: Float32Array; action: Float32Array; nextObs: Float32Array; reward: number; cost: number; terminated: boolean; discount: number }> {
    const start = this.count < this.capacity ? 0 : this.next;
    for (let k = 0; k < this.count; k++) {
      const i = (start + k) % this.capacity;
      yield {
        obs: this.obs.subarray(i * this.obsSize, (i + 1) * this.obsSize),
        action: this.actions.subarray(i * this.actSize, (i + 1) * this.actSize),
        nextObs: this.nextObs.subarray(i * this.obsSize, (i + 1) * this.obsSize),
        reward: this.rewards[i]!,
        cost: this.costs[i]!,
        terminated: this.terminated[i] === 1,
        discount: this.discounts[i]!,
      };
    }
  }
}
