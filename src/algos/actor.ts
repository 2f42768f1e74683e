/**
 * Acting with a policy and its safety critic outside the training loop: `csc eval`, the ROS 2
 * node, sim-in-the-loop. The decision is the training filter's ({@link filterActions}), so a
 * deployed policy behaves as it did while learning.
 */
import { Rng } from '../core/rng.ts';
import type { EnvSpec } from '../envs/env.ts';
import { EnvInputError } from '../envs/env.ts';
import type { GaussianPolicy } from '../nn/policy.ts';
import type { FilterFallback, LearnerConfig } from './config.ts';
import type { ActOptions, DeployedPolicy, FilterResult } from './deploy.ts';
import { filterActions } from './safety-filter.ts';

/** The critic interface the filter needs (a CQL critic or an ensemble). */
export interface CandidateScorer {
  predictCandidates(obs: Float32Array, n: number, actions: Float32Array, k: number): Float32Array;
}

/** How the actor's filter decides (the training config's filter fields). */
export interface FilterSettings {
  readonly candidates: number;
  readonly probe: number;
  readonly threshold: 'q' | 'advantage';
  readonly fallback: FilterFallback;
  readonly fallbackPool: number;
}

/** The filter fields of a learner config. */
export function filterSettingsOf(c: LearnerConfig): FilterSettings {
  return { candidates: c.filterCandidates, probe: c.filterProbe, threshold: c.filterThreshold, fallback: c.filterFallback, fallbackPool: c.filterFallbackPool };
}

/** The hold action of a spec: zero, clipped into the action bounds (stop, for velocity commands). */
export function holdAction(spec: EnvSpec): Float32Array {
  return Float32Array.from(spec.actLow, (lo, j) => Math.min(spec.actHigh[j]!, Math.max(lo, 0)));
}

/** Throws {@link EnvInputError} unless `obs` holds `n` finite observations of `spec`. */
export function checkObservationBatch(spec: EnvSpec, obs: Float32Array, n: number): void {
  const d = spec.obsSize;
  if (!Number.isInteger(n) || n < 1) throw new EnvInputError(`act: n must be a positive integer, got ${n}`);
  if (obs.length !== n * d) throw new EnvInputError(`act: observation batch has ${obs.length} values, expected ${n} × ${d} for ${spec.id}`);
  for (let i = 0; i < obs.length; i++) {
    if (!Number.isFinite(obs[i])) {
      throw new EnvInputError(`act: observation ${spec.obsNames[i % d] ?? i % d} of state ${Math.floor(i / d)} is ${obs[i]}, expected a finite number`);
    }
  }
}

export class PolicyActor implements DeployedPolicy {
  private readonly rng: Rng;

  constructor(
    readonly spec: EnvSpec,
    readonly algo: string,
    private readonly policy: GaussianPolicy,
    private readonly critic: CandidateScorer | null,
    readonly epsilon: number,
    private readonly filter: FilterSettings,
    seed: number,
    private readonly onDispose: () => void = () => undefined,
  ) {
    this.rng = new Rng(seed);
  }

  get hasCritic(): boolean {
    return this.critic !== null;
  }

  act(obs: Float32Array, n: number, options: ActOptions = {}): FilterResult {
    checkObservationBatch(this.spec, obs, n);
    const { mean, std } = this.policy.meanStd(obs, n);
    const useFilter = (options.filter ?? true) && this.critic !== null;
    const critic = this.critic;
    const out = filterActions({
      n,
      obs,
      mean,
      std,
      actLow: this.spec.actLow,
      actHigh: this.spec.actHigh,
      candidates: useFilter ? this.filter.candidates : 1,
      probe: useFilter ? this.filter.probe : 1,
      threshold: this.filter.threshold,
      fallback: this.filter.fallback,
      fallbackPool: this.filter.fallbackPool,
      epsilon: useFilter ? (options.epsilon ?? this.epsilon) : Number.POSITIVE_INFINITY,
      deterministicFirst: options.deterministic === true,
      critic: useFilter && critic !== null ? (o, m, a, k) => critic.predictCandidates(o, m, a, k) : (_o, m, _a, k) => new Float32Array(m * k).fill(Number.NaN),
      rng: this.rng,
    });
    if (!useFilter) {
      out.qc.fill(Number.NaN);
      out.exhausted.fill(0);
    } else if (options.onExhausted === 'hold') {
      const hold = holdAction(this.spec);
      const A = hold.length;
      for (let i = 0; i < n; i++) if (out.exhausted[i]) out.actions.set(hold, i * A);
    }
    return { actions: out.actions, qc: out.qc, tried: out.tried, exhausted: out.exhausted };
  }

  dispose(): void {
    this.onDispose();
  }
}
