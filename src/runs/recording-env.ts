/**
 * Recording during training (`csc train --record-transitions FILE`): a VecEnv that passes every
 * call through to the env it wraps and writes each valid transition to a seed-data sink, so any
 * learner's experience — whatever the algorithm — becomes a seed-data file (docs/seed-data.md).
 */
import type { VecEnv, VecStepResult } from '../envs/env.ts';
import type { SeedDataSink } from './seed-data.ts';

export class RecordingVecEnv implements VecEnv {
  private prev: Float32Array | null = null;
  /** Transitions written so far. */
  recorded = 0;

  constructor(
    private readonly inner: VecEnv,
    private readonly sink: SeedDataSink,
  ) {}

  get spec(): VecEnv['spec'] {
    return this.inner.spec;
  }

  get numEnvs(): number {
    return this.inner.numEnvs;
  }

  async reset(seed: number): Promise<Float32Array> {
    const obs = await this.inner.reset(seed);
    this.prev = obs.slice();
    return obs;
  }

  async step(actions: Float32Array): Promise<VecStepResult> {
    const prev = this.prev;
    if (prev === null) throw new Error('RecordingVecEnv.step() before reset()');
    const r = await this.inner.step(actions);
    const { obsSize: D, actSize: A } = this.inner.spec;
    for (let e = 0; e < this.inner.numEnvs; e++) {
      if (r.dropped[e] === 1) continue;
      await this.sink.write({
        obs: prev.subarray(e * D, (e + 1) * D),
        action: actions.subarray(e * A, (e + 1) * A),
        reward: r.reward[e]!,
        failure: r.failure[e] === 1 ? 1 : 0,
        terminated: r.terminated[e] === 1,
        truncated: r.truncated[e] === 1,
        nextObs: r.nextObs.subarray(e * D, (e + 1) * D),
      });
      this.recorded++;
    }
    this.prev = r.obs.slice();
    return r;
  }

  /** Closes the wrapped env; the sink is the caller's to close. */
  close(): Promise<void> {
    return this.inner.close();
  }
}
