/**
 * Fixed, deterministic actions for throughput benches that step a remote vec env (bench/bridge.ts,
 * bench/ray-scale.ts): a golden-ratio sweep over each dimension's range, clipped to [−1, 1].
 */
import type { EnvSpec } from '../src/envs/env.ts';

export function sweepActions(spec: Pick<EnvSpec, 'actLow' | 'actHigh' | 'actSize'>, numEnvs: number): Float32Array {
  const { actLow, actHigh, actSize } = spec;
  return Float32Array.from({ length: numEnvs * actSize }, (_, i) => {
    const lo = Math.max(actLow[i % actSize]!, -1);
    const hi = Math.min(actHigh[i % actSize]!, 1);
    return lo + ((i * 0.618) % 1) * (hi - lo);
  });
}
