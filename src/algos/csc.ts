/**
 * Conservative Safety Critics (Bharadhwaj et al., ICLR 2021), Algorithm 1, and the learners that
 * share its machinery: `trpo` (the paper's "Base": no critic, no filter, λ = 0) and `qensemble`
 * (the LNT-style baseline: an ensemble of plain Bellman critics in place of the CQL critic).
 *
 * One epoch, top to bottom:
 *   1. ε = (1−γ)(χ − V̂_C^old)                                   Algorithm 1, line 5
 *   2. rollout: sample a ∼ π_old, execute iff Q_C(s,a) ≤ ε          line 6 (A.4: ≤ K candidates)
 *      and store (s, a, s′, r, c) in D_env                         lines 7–8
 *   3. V̂_C^old ← average episodic failures of this epoch          line 10
 *   4. safety critic by CQL(ζ) on D_env                            eq. 2, line 13
 *   5. Â_R by GAE; Â_C = Q_C(s,a) − E_{a′∼π}Q_C(s,a′); Ã = Â_R − λ′Â_C    eqs. 5, 8
 *   6. natural-gradient policy step with KL line search            eqs. 6–7, A.2
 *   7. value function regression on the GAE returns
 *   8. λ ← max(0, λ + η_λ(E[Â_C]/(1−γ) − χ′))                       eq. 9 (dual ascent), line 14
 *
 * The critic is updated before the policy step in each epoch (the paper interleaves them inside
 * one loop), so Â_C already reflects this epoch's failures.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gae } from '../core/gae.ts';
import { ReplayBuffer } from '../core/replay.ts';
import { Rng } from '../core/rng.ts';
import type { EnvSpec, VecEnv } from '../envs/env.ts';
import { CheckpointError, type NamedArray, loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.ts';
import { GaussianPolicy } from '../nn/policy.ts';
import { ValueFunction } from '../nn/value.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import { type FilterSettings, PolicyActor } from './actor.ts';
import type { LearnerConfig } from './config.ts';
import { CriticEnsemble } from './critic-ensemble.ts';
import type { DeployedPolicy } from './deploy.ts';
import { lambdaPrime, updateLambda } from './lagrange.ts';
import type { Learner } from './learner.ts';
import { naturalGradientStep } from './natural-gradient.ts';
import { type PolicySamples, SafetyCritic, type SafetyCriticConfig } from './safety-critic.ts';
import { filterActions, paperEpsilon } from './safety-filter.ts';
import { assignFrom, checkSpecMatches, copyPolicyWeights, restoreTotalsAndRng } from './restore.ts';

/** Time-major rollout storage, `T × N` rows, reused across epochs. */
interface Rollout {
  readonly obs: Float32Array;
  readonly nextObs: Float32Array;
  readonly raw: Float32Array;
  readonly act: Float32Array;
  readonly reward: Float32Array;
  readonly failure: Uint8Array;
  readonly terminated: Uint8Array;
  readonly done: Uint8Array;
  readonly dropped: Uint8Array;
  readonly qc: Float32Array;
}

/** Running totals carried across epochs (and checkpoints). */
interface Totals {
  episodes: number;
  envSteps: number;
  failures: number;
}

export class CscLearner implements Learner {
  readonly spec: EnvSpec;
  readonly policy: GaussianPolicy;
  readonly value: ValueFunction;
  /** Q_C: the CQL critic (csc), an ensemble (qensemble), or none (trpo). */
  readonly critic: SafetyCritic | CriticEnsemble | null;
  readonly replay: ReplayBuffer | null;
  private readonly actRng: Rng;
  private readonly updateRng: Rng;
  private readonly rollout: Rollout;
  private readonly horizon: number;
  private obs: Float32Array | null = null;
  private readonly episodeReturn: Float64Array;
  private lambda: number;
  private avgFailuresOld: number;
  private lastEpsilon = Number.NaN;
  private readonly totals: Totals = { episodes: 0, envSteps: 0, failures: 0 };
  private epochIndex = 0;

  constructor(
    readonly config: LearnerConfig,
    private readonly env: VecEnv,
  ) {
    const c = config;
    this.spec = env.spec;
    if (env.numEnvs !== c.numEnvs) throw new RangeError(`CscLearner: env has ${env.numEnvs} copies, config.numEnvs is ${c.numEnvs}`);
    const initRng = new Rng(c.seed);
    this.actRng = new Rng(c.seed + 1_000_003);
    this.updateRng = new Rng(c.seed + 2_000_003);
    const { obsSize, actSize } = this.spec;
    this.policy = new GaussianPolicy({ obsSize, actSize, hidden: c.policyHidden, activation: c.activation, initLogStd: c.initLogStd }, initRng);
    this.value = new ValueFunction({ obsSize, hidden: c.valueHidden, activation: c.activation, lr: c.valueLr }, initRng);
    const criticConfig: SafetyCriticConfig = {
      obsSize,
      actSize,
      hidden: c.criticHidden,
      activation: c.activation,
      lr: c.criticLr,
      alpha: c.cqlAlpha,
      gamma: c.gamma,
      targetTau: c.criticTargetTau,
    };
    switch (c.algo) {
      case 'csc':
        this.critic = new SafetyCritic(criticConfig, initRng);
        break;
      case 'qensemble':
        this.critic = new CriticEnsemble(criticConfig, c.ensembleSize, c.ensembleStdWeight, initRng);
        break;
      case 'trpo':
        this.critic = null;
        break;
      case 'cpo':
        throw new RangeError("CscLearner: config.algo is 'cpo', which CpoLearner (src/algos/cpo.ts) trains");
      case 'sac':
        throw new RangeError('CscLearner: algo sac is trained by SacLearner (src/algos/sac.ts)');
    }
    this.replay = this.critic === null ? null : new ReplayBuffer(c.replayCapacity, obsSize, actSize);
    this.horizon = c.stepsPerEpoch / c.numEnvs;
    const rows = c.stepsPerEpoch;
    this.rollout = {
      obs: new Float32Array(rows * obsSize),
      nextObs: new Float32Array(rows * obsSize),
      raw: new Float32Array(rows * actSize),
      act: new Float32Array(rows * actSize),
      reward: new Float32Array(rows),
      failure: new Uint8Array(rows),
      terminated: new Uint8Array(rows),
      done: new Uint8Array(rows),
      dropped: new Uint8Array(rows),
      qc: new Float32Array(rows),
    };
    this.episodeReturn = new Float64Array(c.numEnvs);
    this.lambda = c.lambdaInit;
    // Algorithm 1, line 2: V̂_C^old ← χ before the first epoch.
    this.avgFailuresOld = c.chi;
  }

  get epoch(): number {
    return this.epochIndex;
  }

  async start(): Promise<void> {
    this.obs = await this.env.reset(this.config.seed * 7919 + this.epochIndex);
    this.episodeReturn.fill(0);
  }

  /** The filter's threshold for the coming epoch (NaN for learners without a critic). */
  epsilon(): number {
    if (this.critic === null) return Number.NaN;
    const c = this.config;
    return c.epsilonRule === 'paper' ? paperEpsilon(c.gamma, c.chi, this.avgFailuresOld) : c.epsilonFixed;
  }

  async runEpoch(): Promise<EpochMetrics> {
    if (this.obs === null) throw new Error('CscLearner.runEpoch() before start()');
    const c = this.config;
    const started = performance.now();
    const N = c.numEnvs;
    const T = this.horizon;
    const { obsSize: D, actSize: A } = this.spec;
    const R = this.rollout;

    // 1. ε = (1−γ)(χ − V̂_C^old)
    const epsilon = this.epsilon();
    this.lastEpsilon = epsilon;

    // 2. Rollout with the safety filter; every valid transition also goes to D_env.
    let episodes = 0;
    let failures = 0;
    let returnSum = 0;
    let dropped = 0;
    let exhaustions = 0;
    let accepted = 0;
    for (let t = 0; t < T; t++) {
      const obs: Float32Array = this.obs;
      const { mean, std } = this.policy.meanStd(obs, N);
      const critic = this.critic;
      const decision = filterActions({
        n: N,
        obs,
        mean,
        std,
        actLow: this.spec.actLow,
        actHigh: this.spec.actHigh,
        candidates: critic === null ? 1 : c.filterCandidates,
        probe: critic === null ? 1 : c.filterProbe,
        epsilon: critic === null ? Number.POSITIVE_INFINITY : epsilon,
        threshold: c.filterThreshold,
        critic: critic === null ? (_o, n, _a, k) => new Float32Array(n * k) : (o, n, a, k) => critic.predictCandidates(o, n, a, k),
        rng: this.actRng,
      });
      const step = await this.env.step(decision.actions);
      const row = t * N;
      R.obs.set(obs, row * D);
      R.nextObs.set(step.nextObs, row * D);
      R.raw.set(decision.rawActions, row * A);
      R.act.set(decision.actions, row * A);
      R.qc.set(decision.qc, row);
      for (let e = 0; e < N; e++) {
        const i = row + e;
        const isDropped = step.dropped[e] === 1;
        R.reward[i] = step.reward[e]!;
        R.failure[i] = step.failure[e]!;
        R.terminated[i] = step.terminated[e]!;
        R.dropped[i] = isDropped ? 1 : 0;
        R.done[i] = step.terminated[e] || step.truncated[e] || isDropped ? 1 : 0;
        if (isDropped) {
          dropped++;
          this.episodeReturn[e] = 0;
          continue;
        }
        if (critic !== null) {
          if (decision.exhausted[e]) exhaustions++;
          else accepted++;
        }
        this.replay?.add(obs.subarray(e * D, (e + 1) * D), decision.actions.subarray(e * A, (e + 1) * A), step.nextObs.subarray(e * D, (e + 1) * D), step.reward[e]!, step.failure[e]!, step.terminated[e] === 1);
        this.episodeReturn[e]! += step.reward[e]!;
        if (R.done[i]) {
          episodes++;
          failures += step.failure[e]!;
          returnSum += this.episodeReturn[e]!;
          this.episodeReturn[e] = 0;
        }
      }
      this.obs = step.obs;
    }
    const validSteps = T * N - dropped;

    // 3. V̂_C^old ← average episodic failures of this epoch.
    const avgFailures = episodes > 0 ? failures / episodes : 0;

    // 4. Safety critic by CQL(ζ) (eq. 2) on D_env.
    let criticLoss = Number.NaN;
    if (this.critic !== null && this.replay !== null && this.replay.size > 0 && c.criticUpdatesPerEpoch > 0) {
      let sum = 0;
      for (let u = 0; u < c.criticUpdatesPerEpoch; u++) {
        if (this.critic instanceof SafetyCritic) {
          const batch = this.replay.sample(c.criticBatch, this.updateRng);
          sum += this.critic.update(batch, this.policySamples(batch.obs, batch.nextObs, batch.n)).loss;
        } else {
          sum += this.critic.updateFrom(this.replay, c.criticBatch, (o, o2, n) => this.policySamples(o, o2, n), this.updateRng).loss;
        }
      }
      criticLoss = sum / c.criticUpdatesPerEpoch;
    }

    // 5. Advantages: Â_R by GAE, Â_C from the critic, Ã = Â_R − λ′Â_C.
    const rows = T * N;
    const values = this.value.predict(R.obs, rows);
    const nextValues = this.value.predict(R.nextObs, rows);
    const { advantages: advR, returns } = gae({
      steps: T,
      numEnvs: N,
      rewards: R.reward,
      values,
      nextValues,
      terminated: R.terminated,
      done: R.done,
      gamma: c.gamma,
      lambda: c.gaeLambda,
    });
    const cost = this.critic === null ? null : this.costAdvantage(R.obs, R.act, rows);
    const advC = cost?.advantage ?? null;
    const lp = lambdaPrime(this.lambda, c.gamma);
    const valid: number[] = [];
    for (let i = 0; i < rows; i++) if (!R.dropped[i]) valid.push(i);
    const n = valid.length;
    const bObs = new Float32Array(n * D);
    const bRaw = new Float32Array(n * A);
    const bAdv = new Float32Array(n);
    const bRet = new Float32Array(n);
    valid.forEach((i, k) => {
      bObs.set(R.obs.subarray(i * D, (i + 1) * D), k * D);
      bRaw.set(R.raw.subarray(i * A, (i + 1) * A), k * A);
      bAdv[k] = advR[i]! - lp * (advC === null ? 0 : advC[i]!);
      bRet[k] = returns[i]!;
    });
    standardise(bAdv);

    // 6. Natural-gradient policy step (eqs. 6–8) with the KL line search.
    const step =
      n > 0
        ? naturalGradientStep(
            this.policy,
            { n, obs: bObs, actions: bRaw, advantages: bAdv },
            {
              beta0: c.lineSearchBeta0,
              maxTries: c.lineSearchTries,
              maxKl: c.maxKl,
              requireImprovement: c.lineSearchRequireImprovement,
              cgIters: c.cgIters,
              cgDamping: c.cgDamping,
              fvpSubsample: c.fvpSubsample,
            },
          )
        : { accepted: false, tries: 0, kl: 0 };

    // 7. Value function on the GAE returns.
    if (n > 0) this.value.fit(bObs, bRet, n, c.valueEpochs, c.valueBatch, this.updateRng);

    // 8. λ by dual ascent (eq. 9), with χ′ = χ − V̂_C^old from this epoch's rollouts and E[Â_C]
    //    over a ∼ π_φold as eq. 9 writes it (fresh samples of π_old, not the executed actions:
    //    the filter picks low-Q_C candidates, so over executed actions E[Â_C] is biased low and
    //    λ would never rise). In expectation it is 0, and λ tracks V̂_C^old − χ.
    if (this.critic !== null && cost !== null && n > 0) {
      this.lambda = updateLambda({ lambda: this.lambda, lr: c.lambdaLr, gamma: c.gamma, chi: c.chi, avgFailures, meanCostAdvantage: cost.meanUnderPolicy });
    }
    this.avgFailuresOld = avgFailures;

    // Metrics, including the critic's over-estimate: predicted Q_C of executed actions vs. the
    // observed discounted failure Σ_k γ^k c_{t+k} (Monte-Carlo within the rollout).
    this.totals.episodes += episodes;
    this.totals.envSteps += validSteps;
    this.totals.failures += failures;
    const observed = discountedFailures(R, T, N, c.gamma);
    let predSum = 0;
    let obsSum = 0;
    for (const i of valid) {
      predSum += R.qc[i]!;
      obsSum += observed[i]!;
    }
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
      lambda: this.lambda,
      epsilon,
      filterAcceptRate: this.critic === null ? Number.NaN : accepted / Math.max(1, accepted + exhaustions),
      filterExhaustions: exhaustions,
      kl: step.accepted ? step.kl : 0,
      lineSearchTries: step.tries,
      lineSearchAccepted: step.accepted,
      criticLoss,
      criticPredictedFailure: this.critic === null || n === 0 ? Number.NaN : predSum / n,
      observedFailureRate: n === 0 ? Number.NaN : obsSum / n,
      droppedEpisodes: dropped,
      wallS,
      stepsPerS: validSteps / wallS,
    };
    this.epochIndex++;
    return metrics;
  }

  /** m actions a ∼ π(·|s) and a′ ∼ π(·|s′) per batch row, clipped to the action bounds. */
  private policySamples(obs: Float32Array, nextObs: Float32Array, n: number): PolicySamples {
    const m = this.config.criticPolicySamples;
    return { atObs: this.sampleActions(obs, n, m), atNextObs: this.sampleActions(nextObs, n, m), m };
  }

  private sampleActions(obs: Float32Array, n: number, m: number): Float32Array {
    const A = this.spec.actSize;
    const { mean, std } = this.policy.meanStd(obs, n);
    const out = new Float32Array(n * m * A);
    const lo = this.spec.actLow;
    const hi = this.spec.actHigh;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < m; k++) {
        for (let j = 0; j < A; j++) {
          const v = mean[i * A + j]! + std[j]! * this.updateRng.normal();
          out[(i * m + k) * A + j] = v < lo[j]! ? lo[j]! : v > hi[j]! ? hi[j]! : v;
        }
      }
    }
    return out;
  }

  /**
   * Â_C(s,a) = Q_C(s,a) − V_C(s) of the executed actions, with V_C(s) = (1/M) Σ_j Q_C(s, a_j),
   * a_j ∼ π_old(·|s); and E_{s, a∼π_old}[Â_C(s,a)] from one more fresh sample per state (eq. 9).
   */
  private costAdvantage(obs: Float32Array, act: Float32Array, n: number): { advantage: Float32Array; meanUnderPolicy: number } {
    const critic = this.critic!;
    const M = this.config.costAdvantageSamples;
    const q = critic.predict(obs, act, n);
    // M + 1 samples per state in one pass: the first M estimate V_C(s), the last is a ∼ π_old.
    const qPi = critic.predictCandidates(obs, n, this.sampleActions(obs, n, M + 1), M + 1);
    const advantage = new Float32Array(n);
    let underPolicy = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < M; j++) s += qPi[i * (M + 1) + j]!;
      const v = s / M;
      advantage[i] = q[i]! - v;
      if (!this.rollout.dropped[i]) {
        underPolicy += qPi[i * (M + 1) + M]! - v;
        count++;
      }
    }
    return { advantage, meanUnderPolicy: count > 0 ? underPolicy / count : 0 };
  }

  deployed(): DeployedPolicy {
    return new PolicyActor(this.spec, this.config.algo, this.policy, this.critic, this.epsilon(), this.filterSettings(), this.config.seed + 17);
  }

  private filterSettings(): FilterSettings {
    const c = this.config;
    return { candidates: c.filterCandidates, probe: c.filterProbe, threshold: c.filterThreshold };
  }

  /** Named parameter arrays of every network, in a fixed order. */
  private networks(): { prefix: string; net: { vars: readonly tf.Variable[] } }[] {
    const nets: { prefix: string; net: { vars: readonly tf.Variable[] } }[] = [
      { prefix: 'policy', net: this.policy },
      { prefix: 'value', net: this.value.net },
    ];
    const critics: SafetyCritic[] = this.critic === null ? [] : this.critic instanceof SafetyCritic ? [this.critic] : this.critic.members;
    critics.forEach((q, e) => {
      const tag = critics.length === 1 && this.critic instanceof SafetyCritic ? 'critic' : `critic${e}`;
      nets.push({ prefix: tag, net: q.net }, { prefix: `${tag}-target`, net: q.target });
    });
    return nets;
  }

  async save(dir: string): Promise<void> {
    const tensors: NamedArray[] = [];
    for (const { prefix, net } of this.networks()) {
      net.vars.forEach((v, i) => tensors.push({ name: `${prefix}/${i}`, shape: v.shape, values: v.dataSync() as Float32Array }));
    }
    await saveCheckpoint(
      dir,
      {
        algo: this.config.algo,
        config: this.config,
        spec: this.spec,
        epoch: this.epochIndex,
        lambda: this.lambda,
        avgFailuresOld: this.avgFailuresOld,
        epsilon: this.epsilon(),
        totals: { ...this.totals },
        rng: { act: this.actRng.state(), update: this.updateRng.state() },
      },
      tensors,
    );
  }

  async restore(dir: string): Promise<void> {
    const ck = await loadCheckpoint(dir);
    const m = ck.meta;
    if (m.algo !== this.config.algo) throw new CheckpointError(`${dir}: checkpoint was trained with algo '${String(m.algo)}', this learner is '${this.config.algo}'`);
    checkSpecMatches(dir, m.spec, this.spec);
    for (const { prefix, net } of this.networks()) assignFrom(ck, prefix, net.vars);
    const num = (k: string): number => {
      const v = m[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new CheckpointError(`${dir}: meta.${k} is ${JSON.stringify(v)}, expected a finite number`);
      return v;
    };
    this.epochIndex = num('epoch');
    this.lambda = num('lambda');
    this.avgFailuresOld = num('avgFailuresOld');
    restoreTotalsAndRng(dir, m, this.totals, this.actRng, this.updateRng);
  }

  /**
   * Starts from another run's policy (e.g. `laikago-walk` from a `laikago-stand` controller, as
   * the paper does): copies only the policy weights; the spec's observation and action sizes
   * must match.
   */
  async initPolicyFrom(dir: string): Promise<void> {
    await copyPolicyWeights(dir, this.spec, this.policy.vars);
  }

  dispose(): void {
    this.policy.dispose();
    this.value.dispose();
    this.critic?.dispose();
  }

  /** Last ε used for collection. */
  get lastCollectionEpsilon(): number {
    return this.lastEpsilon;
  }
}

/** In place: subtract the mean and divide by the standard deviation (if non-zero). */
function standardise(x: Float32Array): void {
  const n = x.length;
  if (n === 0) return;
  let s = 0;
  for (const v of x) s += v;
  const mean = s / n;
  let v2 = 0;
  for (const v of x) v2 += (v - mean) ** 2;
  const std = Math.sqrt(v2 / n);
  for (let i = 0; i < n; i++) x[i] = std > 1e-8 ? (x[i]! - mean) / std : x[i]! - mean;
}

/** G_t = c_t + γ(1 − done_t) G_{t+1}, G_T = 0, per env over the time-major rollout. */
function discountedFailures(R: Rollout, T: number, N: number, gamma: number): Float32Array {
  const out = new Float32Array(T * N);
  for (let e = 0; e < N; e++) {
    let g = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + e;
      g = R.failure[i]! + gamma * (R.done[i] ? 0 : g);
      out[i] = g;
    }
  }
  return out;
}

