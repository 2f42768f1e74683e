/**
 * Constrained Policy Optimization (Achiam et al., ICML 2017), the paper's CPO baseline: the cost
 * is the per-step failure indicator c_t ∈ {0, 1} and the limit is χ. No safety critic and no
 * filter: CPO acts with the raw policy and keeps the expected failures below χ only through its
 * policy steps.
 *
 * Units. J_C(π) is the expected number of failures per episode, *undiscounted* — the quantity χ
 * bounds and the one every run logs as `avgFailures`. So d = χ with no conversion, and
 * c = J_C(π_old) − χ with J_C(π_old) estimated by this epoch's failures per finished episode. The
 * cost surrogate whose gradient is b is T̄ · E_t[π_φ(a|s)/π_old(a|s) · Â_C(s,a)], with T̄ the mean
 * episode length (env steps of the epoch ÷ episodes ended in it): per episode, J_C(π) − J_C(π_old)
 * ≈ E_τ[Σ_t Â_C] = T̄ · E_t[Â_C] (the reference implementation's `safety_rescale`, which divides
 * the batch size by the number of trajectories). Â_C comes from GAE with the reward's γ and λ on
 * the cost value function V_C (a second value network regressed on discounted failures, like V):
 * the discount is variance reduction, as it is for the reward, not a change of J_C's units.
 *
 * One epoch, top to bottom:
 *   1. rollout: a ∼ π_old, clipped to the action bounds, stored with (r, c) per step
 *   2. J_C(π_old) ← failures per finished episode; c = J_C − χ
 *   3. Â_R by GAE on V, Â_C by GAE on V_C                    (eq. 8 of the CSC paper; CPO §6)
 *   4. g = ∇ E[ρ Â_R] (Â_R standardised: the step is invariant to g's scale),
 *      b = ∇ T̄ E[ρ Â_C] (Â_C centred only: b's scale matters)
 *   5. x from the dual of CPO's local problem, then the line search   (`cpo-step.ts`)
 *   6. V and V_C regressed on their GAE returns
 */
import * as tf from '@tensorflow/tfjs-core';
import { gae } from '../core/gae.ts';
import { PhaseClock } from '../core/phase-clock.ts';
import { Rng } from '../core/rng.ts';
import type { EnvSpec, VecEnv } from '../envs/env.ts';
import { type AdamSlot, adamState, restoreAdam } from '../nn/adam-state.ts';
import { CheckpointError, type NamedArray, loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.ts';
import { GaussianPolicy } from '../nn/policy.ts';
import { ValueFunction } from '../nn/value.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import { PolicyActor, filterSettingsOf } from './actor.ts';
import type { LearnerConfig } from './config.ts';
import { type CpoDirection, type CpoLineSearchResult, cpoDirection, cpoLineSearch } from './cpo-step.ts';
import type { DeployedPolicy } from './deploy.ts';
import type { Learner } from './learner.ts';
import { assignFrom, checkSpecMatches, copyPolicyWeights } from './restore.ts';
import { type InFlight, continueInFlight, inFlightMeta, readInFlight } from './in-flight.ts';

/** On-policy batch of one CPO step (valid rows only). */
export interface CpoBatch {
  readonly n: number;
  readonly obs: Float32Array;
  /** Sampled (unclipped) actions whose log-probabilities the surrogates use. */
  readonly actions: Float32Array;
  /** Â_R, standardised. */
  readonly advantages: Float32Array;
  /** Â_C, centred, in failures. */
  readonly costAdvantages: Float32Array;
  /** T̄: the cost surrogate is T̄ · E[ρ Â_C], in failures per episode. */
  readonly costScale: number;
  /** c = J_C(π_old) − d. */
  readonly constraintValue: number;
}

/** Settings of one CPO step. */
export interface CpoStepSettings {
  readonly maxKl: number;
  readonly cgIters: number;
  readonly cgDamping: number;
  readonly fvpSubsample: number;
  readonly backtrackRatio: number;
  readonly backtrackTries: number;
}

/** What a CPO step did. */
export interface CpoStepReport {
  readonly direction: CpoDirection;
  readonly search: CpoLineSearchResult;
}

/**
 * One CPO step of `policy` on `batch`: g and b by backprop, H = F + damping·I by Fisher-vector
 * products, the step of {@link cpoDirection}, then {@link cpoLineSearch} on the true surrogates
 * and the mean KL. Leaves `policy` at the accepted parameters, or at φ_old.
 */
export function cpoPolicyStep(policy: GaussianPolicy, batch: CpoBatch, settings: CpoStepSettings): CpoStepReport {
  const { n } = batch;
  const { obsSize, actSize } = policy.shape;
  const obs = tf.tensor2d(batch.obs.subarray(0, n * obsSize), [n, obsSize]);
  const act = tf.tensor2d(batch.actions.subarray(0, n * actSize), [n, actSize]);
  const adv = tf.tensor1d(batch.advantages.subarray(0, n));
  const costAdv = tf.tensor1d(batch.costAdvantages.subarray(0, n));
  const oldLogp = tf.keep(policy.logProb(obs, act));
  const oldMean = tf.keep(policy.mean.apply(obs));
  const oldLogStd = tf.keep(tf.reshape<tf.Rank.R1>(policy.logStd, [-1]));
  const stride = Math.max(1, Math.floor(settings.fvpSubsample));
  const fvpObs = stride === 1 ? obs : tf.tidy(() => tf.gather(obs, tf.range(0, n, stride, 'int32')));
  try {
    const ratio = (): tf.Tensor => tf.exp(tf.sub(policy.logProb(obs, act), oldLogp));
    const surrogate = (): tf.Scalar => tf.tidy(() => tf.mean(tf.mul(ratio(), adv)));
    const costSurrogate = (): tf.Scalar => tf.tidy(() => tf.mul(batch.costScale, tf.mean(tf.mul(ratio(), costAdv))));
    const phiOld = policy.getFlat();
    const { value: surrogateOld, grad: g } = policy.flatGrad(surrogate);
    const { value: costOld, grad: b } = policy.flatGrad(costSurrogate);
    const hvp = (v: Float32Array): Float32Array => {
      const fv = policy.fisherVectorProduct(fvpObs, v);
      for (let i = 0; i < fv.length; i++) fv[i]! += settings.cgDamping * v[i]!;
      return fv;
    };
    const direction = cpoDirection({ g, b, c: batch.constraintValue, delta: settings.maxKl, hvp, cgIters: settings.cgIters });
    const evaluate = (phi: Float32Array): { kl: number; surrogate: number; costSurrogate: number } => {
      policy.setFlat(phi);
      return tf.tidy(() => ({
        kl: policy.meanKl(obs, oldMean, oldLogStd).dataSync()[0]!,
        surrogate: surrogate().dataSync()[0]!,
        costSurrogate: costSurrogate().dataSync()[0]!,
      }));
    };
    const search = cpoLineSearch(phiOld, direction, evaluate, { surrogate: surrogateOld, costSurrogate: costOld }, { maxKl: settings.maxKl, ratio: settings.backtrackRatio, tries: settings.backtrackTries });
    policy.setFlat(search.params);
    return { direction, search };
  } finally {
    if (fvpObs !== obs) fvpObs.dispose();
    tf.dispose([obs, act, adv, costAdv, oldLogp, oldMean, oldLogStd]);
  }
}

/** Time-major rollout storage, `T × N` rows, reused across epochs. */
interface Rollout {
  readonly obs: Float32Array;
  readonly nextObs: Float32Array;
  readonly raw: Float32Array;
  readonly reward: Float32Array;
  readonly cost: Float32Array;
  readonly terminated: Uint8Array;
  readonly done: Uint8Array;
  readonly dropped: Uint8Array;
}

/** Running totals carried across epochs (and checkpoints). */
interface Totals {
  episodes: number;
  envSteps: number;
  failures: number;
}

export class CpoLearner implements Learner {
  readonly spec: EnvSpec;
  readonly policy: GaussianPolicy;
  readonly value: ValueFunction;
  /** V_C: expected discounted failures from a state. */
  readonly costValue: ValueFunction;
  private readonly actRng: Rng;
  private readonly updateRng: Rng;
  private readonly rollout: Rollout;
  private readonly horizon: number;
  private obs: Float32Array | null = null;
  private readonly episodeReturn: Float64Array;
  /** Episodes in flight read from a checkpoint, continued by the next `start()` (in-flight.ts). */
  private inFlight: InFlight | null = null;
  private readonly totals: Totals = { episodes: 0, envSteps: 0, failures: 0 };
  private epochIndex = 0;
  private readonly clock = new PhaseClock();
  /** Wall ms per phase of the last epoch: the profile (bench/learner.ts). */
  lastPhaseMs: Record<string, number> = {};
  /** The last epoch's step (null before the first, or when the epoch had no valid step). */
  lastStep: CpoStepReport | null = null;

  constructor(
    readonly config: LearnerConfig,
    private readonly env: VecEnv,
  ) {
    const c = config;
    if (c.algo !== 'cpo') throw new RangeError(`CpoLearner: config.algo is '${c.algo}', expected 'cpo'`);
    this.spec = env.spec;
    if (env.numEnvs !== c.numEnvs) throw new RangeError(`CpoLearner: env has ${env.numEnvs} copies, config.numEnvs is ${c.numEnvs}`);
    // The same seeds and draw order as CscLearner: π and V start as TRPO's do for the same seed.
    const initRng = new Rng(c.seed);
    this.actRng = new Rng(c.seed + 1_000_003);
    this.updateRng = new Rng(c.seed + 2_000_003);
    const { obsSize, actSize } = this.spec;
    this.policy = new GaussianPolicy({ obsSize, actSize, hidden: c.policyHidden, activation: c.activation, initLogStd: c.initLogStd }, initRng);
    this.value = new ValueFunction({ obsSize, hidden: c.valueHidden, activation: c.activation, lr: c.valueLr }, initRng);
    this.costValue = new ValueFunction({ obsSize, hidden: c.valueHidden, activation: c.activation, lr: c.valueLr }, initRng);
    this.horizon = c.stepsPerEpoch / c.numEnvs;
    const rows = c.stepsPerEpoch;
    this.rollout = {
      obs: new Float32Array(rows * obsSize),
      nextObs: new Float32Array(rows * obsSize),
      raw: new Float32Array(rows * actSize),
      reward: new Float32Array(rows),
      cost: new Float32Array(rows),
      terminated: new Uint8Array(rows),
      done: new Uint8Array(rows),
      dropped: new Uint8Array(rows),
    };
    this.episodeReturn = new Float64Array(c.numEnvs);
  }

  get epoch(): number {
    return this.epochIndex;
  }

  /** Resets the envs, or continues the episodes in flight of a restored checkpoint (in-flight.ts). */
  async start(): Promise<void> {
    const saved = this.inFlight;
    this.inFlight = null;
    this.obs = continueInFlight(saved, this.episodeReturn);
    if (this.obs !== null) return;
    this.obs = await this.env.reset(this.config.seed * 7919 + this.epochIndex);
    this.episodeReturn.fill(0);
  }

  async runEpoch(): Promise<EpochMetrics> {
    if (this.obs === null) throw new Error('CpoLearner.runEpoch() before start()');
    const c = this.config;
    const started = performance.now();
    const N = c.numEnvs;
    const T = this.horizon;
    const { obsSize: D, actSize: A, actLow, actHigh } = this.spec;
    const R = this.rollout;
    const clock = this.clock;
    clock.start();

    // 1. Rollout with the raw policy: a ∼ π_old (kept unclipped for log π), clipped for the env.
    let episodes = 0;
    let failures = 0;
    let returnSum = 0;
    let dropped = 0;
    const raw = new Float32Array(N * A);
    const clipped = new Float32Array(N * A);
    for (let t = 0; t < T; t++) {
      const obs: Float32Array = this.obs;
      const { mean, std } = this.policy.meanStd(obs, N);
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < A; j++) {
          const v = mean[i * A + j]! + std[j]! * this.actRng.normal();
          raw[i * A + j] = v;
          clipped[i * A + j] = v < actLow[j]! ? actLow[j]! : v > actHigh[j]! ? actHigh[j]! : v;
        }
      }
      clock.lap('rollout.policy');
      const step = await this.env.step(clipped);
      clock.lap('rollout.env');
      const row = t * N;
      R.obs.set(obs, row * D);
      R.nextObs.set(step.nextObs, row * D);
      R.raw.set(raw, row * A);
      for (let e = 0; e < N; e++) {
        const i = row + e;
        const isDropped = step.dropped[e] === 1;
        R.reward[i] = step.reward[e]!;
        R.cost[i] = step.failure[e]!;
        R.terminated[i] = step.terminated[e]!;
        R.dropped[i] = isDropped ? 1 : 0;
        R.done[i] = step.terminated[e] || step.truncated[e] || isDropped ? 1 : 0;
        if (isDropped) {
          dropped++;
          this.episodeReturn[e] = 0;
          continue;
        }
        this.episodeReturn[e]! += step.reward[e]!;
        if (R.done[i]) {
          episodes++;
          failures += step.failure[e]!;
          returnSum += this.episodeReturn[e]!;
          this.episodeReturn[e] = 0;
        }
      }
      this.obs = step.obs;
      clock.lap('rollout.store');
    }
    const validSteps = T * N - dropped;

    // 2. J_C(π_old): failures per finished episode (the runs' avgFailures); c = J_C − χ.
    const avgFailures = episodes > 0 ? failures / episodes : 0;
    const constraintValue = avgFailures - c.chi;
    // T̄, the mean episode length; with no episode ended, each env's rollout is one (partial) episode.
    const costScale = episodes > 0 ? validSteps / episodes : validSteps / N;

    // 3. Â_R and Â_C by GAE.
    const rows = T * N;
    const gaeOf = (rewards: Float32Array, v: ValueFunction): { advantages: Float32Array; returns: Float32Array } =>
      gae({ steps: T, numEnvs: N, rewards, values: v.predict(R.obs, rows), nextValues: v.predict(R.nextObs, rows), terminated: R.terminated, done: R.done, gamma: c.gamma, lambda: c.gaeLambda });
    const reward = gaeOf(R.reward, this.value);
    const cost = gaeOf(R.cost, this.costValue);
    const costValues = this.costValue.predict(R.obs, rows);
    // Observed discounted failures Σ_k γ^k c_{t+k} within the rollout (GAE with V = 0, λ = 1).
    const zeros = new Float32Array(rows);
    const observed = gae({ steps: T, numEnvs: N, rewards: R.cost, values: zeros, nextValues: zeros, terminated: R.terminated, done: R.done, gamma: c.gamma, lambda: 1 }).advantages;
    clock.lap('advantage');

    // 4. The batch of valid rows.
    const valid: number[] = [];
    for (let i = 0; i < rows; i++) if (!R.dropped[i]) valid.push(i);
    const n = valid.length;
    const bObs = new Float32Array(n * D);
    const bRaw = new Float32Array(n * A);
    const bAdv = new Float32Array(n);
    const bCostAdv = new Float32Array(n);
    const bRet = new Float32Array(n);
    const bCostRet = new Float32Array(n);
    let predSum = 0;
    let obsSum = 0;
    valid.forEach((i, k) => {
      bObs.set(R.obs.subarray(i * D, (i + 1) * D), k * D);
      bRaw.set(R.raw.subarray(i * A, (i + 1) * A), k * A);
      bAdv[k] = reward.advantages[i]!;
      bCostAdv[k] = cost.advantages[i]!;
      bRet[k] = reward.returns[i]!;
      bCostRet[k] = cost.returns[i]!;
      predSum += costValues[i]!;
      obsSum += observed[i]!;
    });
    standardise(bAdv);
    centre(bCostAdv);
    clock.lap('batch');

    // 5. The CPO step.
    this.lastStep =
      n > 0
        ? cpoPolicyStep(
            this.policy,
            { n, obs: bObs, actions: bRaw, advantages: bAdv, costAdvantages: bCostAdv, costScale, constraintValue },
            { maxKl: c.maxKl, cgIters: c.cgIters, cgDamping: c.cgDamping, fvpSubsample: c.fvpSubsample, backtrackRatio: c.cpoBacktrackRatio, backtrackTries: c.cpoBacktrackTries },
          )
        : null;
    clock.lap('policy.cpoStep');

    // 6. V and V_C on their GAE returns.
    if (n > 0) {
      this.value.fit(bObs, bRet, n, c.valueEpochs, c.valueBatch, this.updateRng);
      this.costValue.fit(bObs, bCostRet, n, c.valueEpochs, c.valueBatch, this.updateRng);
    }
    clock.lap('valueFit');
    this.lastPhaseMs = clock.take();

    this.totals.episodes += episodes;
    this.totals.envSteps += validSteps;
    this.totals.failures += failures;
    const search = this.lastStep?.search;
    const wallS = (performance.now() - started) / 1000;
    const metrics: EpochMetrics = {
      epoch: this.epochIndex,
      episodes,
      totalEpisodes: this.totals.episodes,
      envSteps: validSteps,
      totalEnvSteps: this.totals.envSteps,
      avgReward: episodes > 0 ? returnSum / episodes : Number.NaN,
      avgFailures,
      cumulativeFailures: this.totals.failures,
      // CPO's multiplier of the cost constraint, ν*, in this epoch's step.
      lambda: this.lastStep?.direction.nu ?? 0,
      cpoCase: this.lastStep?.direction.case ?? Number.NaN,
      epsilon: Number.NaN,
      filterAcceptRate: Number.NaN,
      filterExhaustions: 0,
      kl: search?.accepted === true ? search.kl : 0,
      lineSearchTries: search?.tries ?? 0,
      lineSearchAccepted: search?.accepted ?? false,
      criticLoss: Number.NaN,
      // V_C(s) of the visited states against the observed discounted failures.
      criticPredictedFailure: n === 0 ? Number.NaN : predSum / n,
      observedFailureRate: n === 0 ? Number.NaN : obsSum / n,
      droppedEpisodes: dropped,
      wallS,
      stepsPerS: validSteps / wallS,
    };
    this.epochIndex++;
    return metrics;
  }

  deployed(): DeployedPolicy {
    const c = this.config;
    return new PolicyActor(this.spec, c.algo, this.policy, null, Number.NaN, filterSettingsOf(c), c.seed + 17);
  }

  private networks(): { prefix: string; vars: readonly tf.Variable[] }[] {
    return [
      { prefix: 'policy', vars: this.policy.vars },
      { prefix: 'value', vars: this.value.net.vars },
      { prefix: 'cost-value', vars: this.costValue.net.vars },
    ];
  }

  private adamSlots(): AdamSlot[] {
    return [this.value.adamSlot('value'), this.costValue.adamSlot('cost-value')];
  }

  async save(dir: string): Promise<void> {
    const tensors: NamedArray[] = [];
    for (const { prefix, vars } of this.networks()) {
      vars.forEach((v, i) => tensors.push({ name: `${prefix}/${i}`, shape: v.shape, values: v.dataSync() as Float32Array }));
    }
    const adam = await adamState(this.adamSlots());
    tensors.push(...adam.tensors);
    await saveCheckpoint(
      dir,
      {
        algo: this.config.algo,
        config: this.config,
        spec: this.spec,
        epoch: this.epochIndex,
        totals: { ...this.totals },
        rng: { act: this.actRng.state(), update: this.updateRng.state() },
        adam: adam.meta,
        ...inFlightMeta(this.env, this.obs, this.episodeReturn),
      },
      tensors,
    );
  }

  async restore(dir: string): Promise<void> {
    const ck = await loadCheckpoint(dir);
    const m = ck.meta;
    if (m.algo !== this.config.algo) throw new CheckpointError(`${dir}: checkpoint was trained with algo '${String(m.algo)}', this learner is '${this.config.algo}'`);
    checkSpecMatches(dir, m.spec, this.spec);
    for (const { prefix, vars } of this.networks()) assignFrom(ck, prefix, vars);
    if (typeof m.epoch !== 'number' || !Number.isInteger(m.epoch) || m.epoch < 0) throw new CheckpointError(`${dir}: meta.epoch is ${JSON.stringify(m.epoch)}, expected an integer ≥ 0`);
    this.epochIndex = m.epoch;
    const totals = m.totals as Partial<Record<keyof Totals, unknown>> | undefined;
    if (typeof totals !== 'object' || totals === null) throw new CheckpointError(`${dir}: meta.totals is missing`);
    for (const k of ['episodes', 'envSteps', 'failures'] as const) {
      const v = totals[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new CheckpointError(`${dir}: meta.totals.${k} is ${JSON.stringify(v)}, expected a number`);
      this.totals[k] = v;
    }
    const rng = m.rng;
    if (typeof rng !== 'object' || rng === null || !('act' in rng) || !('update' in rng) || !Array.isArray(rng.act) || !Array.isArray(rng.update)) {
      throw new CheckpointError(`${dir}: meta.rng is missing or malformed`);
    }
    this.actRng.setState(rng.act as number[]);
    this.updateRng.setState(rng.update as number[]);
    await restoreAdam(ck, this.adamSlots());
    this.inFlight = readInFlight(dir, m.inFlight, this.env, this.config.numEnvs, this.spec.obsSize);
  }

  async initPolicyFrom(dir: string): Promise<void> {
    await copyPolicyWeights(dir, this.spec, this.policy.vars);
  }

  dispose(): void {
    this.policy.dispose();
    this.value.dispose();
    this.costValue.dispose();
  }
}

/** In place: subtract the mean and divide by the standard deviation (if non-zero). */
function standardise(x: Float32Array): void {
  centre(x);
  let v2 = 0;
  for (const v of x) v2 += v * v;
  const std = Math.sqrt(v2 / Math.max(1, x.length));
  if (std > 1e-8) for (let i = 0; i < x.length; i++) x[i] = x[i]! / std;
}

/** In place: subtract the mean. */
export function centre(x: Float32Array): void {
  if (x.length === 0) return;
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! - mean;
}
