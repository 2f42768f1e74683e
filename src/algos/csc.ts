/**
 * Conservative Safety Critics (Bharadhwaj et al., ICLR 2021), Algorithm 1, and the learners that
 * share its machinery: `trpo` (the paper's "Base": no critic, no filter, λ = 0) and `qensemble`
 * (the LNT-style baseline: an ensemble of plain Bellman critics in place of the CQL critic).
 *
 * One epoch, top to bottom:
 *   1. ε = (1−γ)(χ − V̂_C^old), or a fixed risk level               Algorithm 1, line 5
 *   2. rollout: sample a ∼ π_old, execute iff Q_C(s,a) ≤ ε          line 6 (A.4: ≤ K candidates,
 *      then the configured fallback) and store (s, a, s′, r, c)    lines 7–8
 *   3. V̂_C^old ← average failures over a window of recent episodes line 10
 *   4. safety critic by CQL(ζ) on D_env, bootstrapping with π or   eq. 2, line 13
 *      through the filter
 *   5. Â_R by GAE; Â_C = Q_C(s,a) − E_{a′∼π}Q_C(s,a′) (or by GAE on c,    eqs. 5, 8
 *      `costAdvantageSource: observed`); Ã = Â_R − λ′Â_C
 *   6. natural-gradient policy step with KL line search            eqs. 6–7, A.2
 *      (or eq. 5's local problem solved exactly, CPO's step: `policyUpdate: cpo`)
 *   7. value function regression on the GAE returns
 *   8. λ ← max(0, λ + η_λ(E[Â_C]/(1−γ) − χ′))                       eq. 9 (dual ascent), line 14
 *      (not with `policyUpdate: cpo`, whose step finds its own multiplier)
 *
 * The critic is updated before the policy step in each epoch (the paper interleaves them inside
 * one loop), so Â_C already reflects this epoch's failures. Where the default departs from the
 * printed algorithm (`--preset paper` keeps it), docs/algorithm.md says why, with measurements.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gae } from '../core/gae.ts';
import { NStepWriter } from '../core/nstep.ts';
import { PhaseClock } from '../core/phase-clock.ts';
import { ReplayBuffer } from '../core/replay.ts';
import { Rng } from '../core/rng.ts';
import type { EnvSpec, VecEnv } from '../envs/env.ts';
import { type AdamSlot, adamState, restoreAdam } from '../nn/adam-state.ts';
import { CheckpointError, type NamedArray, loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.ts';
import { GaussianPolicy } from '../nn/policy.ts';
import { ValueFunction } from '../nn/value.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import { type FilterSettings, PolicyActor, filterSettingsOf } from './actor.ts';
import type { LearnerConfig } from './config.ts';
import { centre, cpoPolicyStep } from './cpo.ts';
import { CriticEnsemble } from './critic-ensemble.ts';
import type { DeployedPolicy } from './deploy.ts';
import { lambdaEpochStep, lambdaPrime, mixAdvantages, proposalCostAdvantage } from './lagrange.ts';
import type { Learner } from './learner.ts';
import { naturalGradientStep } from './natural-gradient.ts';
import { type NextValue, type PolicySamples, SafetyCritic, type SafetyCriticConfig, meanNextValue } from './safety-critic.ts';
import { filterActions, filteredValue, paperEpsilon } from './safety-filter.ts';
import { FailureWindow, advantageTermSpread, calibration, standardisedDistance } from './diagnostics.ts';
import { assignFrom, checkSpecMatches, copyPolicyWeights, restoreTotalsAndRng } from './restore.ts';
import { type InFlight, continueInFlight, inFlightMeta, readInFlight } from './in-flight.ts';

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
  /** Q_C of the filter's first candidate (a plain sample of π_old). */
  readonly firstQc: Float32Array;
  /** The filter's first candidate a₀, clipped and as sampled (for `lambdaRiskCritic: plain` and `rejectedInGradient`). */
  readonly firstAct: Float32Array;
  readonly firstRaw: Float32Array;
  /** 1 where the filter did not execute a₀ (a later candidate or the fallback ran); with `rejectedInGradient` only. */
  readonly firstRejected: Uint8Array;
  /** 1 where the filter fell back (no candidate passed). */
  readonly exhausted: Uint8Array;
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
  /** The plain (α = 0) critic λ's risk estimate reads with `lambdaRiskCritic: plain`, else null. */
  readonly riskCritic: SafetyCritic | null;
  /** V_C(s) of the observed failure signal, for eq. 8's Â_C by GAE with `costAdvantageSource: observed`, else null. */
  readonly costValue: ValueFunction | null;
  readonly replay: ReplayBuffer | null;
  /** Writes the rollout into D_env as `criticNStep`-step tuples. */
  private readonly nstep: NStepWriter | null;
  private readonly actRng: Rng;
  private readonly updateRng: Rng;
  private readonly rollout: Rollout;
  private readonly horizon: number;
  private obs: Float32Array | null = null;
  private readonly episodeReturn: Float64Array;
  /** Episodes in flight read from a checkpoint, continued by the next `start()` (embedded envs). */
  private inFlight: InFlight | null = null;
  private lambda: number;
  private avgFailuresOld: number;
  /** Failure (1) or not (0) of the most recent finished episodes, a ring of `failureWindowEpisodes`. */
  private readonly failureWindow: FailureWindow;
  private lastEpsilon = Number.NaN;
  private readonly totals: Totals = { episodes: 0, envSteps: 0, failures: 0 };
  private epochIndex = 0;
  private readonly clock = new PhaseClock();
  /** Wall ms per phase of the last epoch (rollout policy/filter/env/store, critic, …): the profile. */
  lastPhaseMs: Record<string, number> = {};

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
    const valueConfig = { obsSize, hidden: c.valueHidden, activation: c.activation, lr: c.valueLr };
    this.value = new ValueFunction(valueConfig, initRng);
    const criticConfig: SafetyCriticConfig = {
      obsSize,
      actSize,
      hidden: c.criticHidden,
      activation: c.activation,
      lr: c.criticLr,
      alpha: c.cqlAlpha,
      alphaLr: c.cqlAlphaLr,
      gapTarget: c.cqlGapTarget,
      gamma: c.gamma,
      targetTau: c.criticTargetTau,
      initFailure: c.criticInitFailure,
      bellmanLoss: c.criticBellmanLoss,
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
    this.riskCritic = c.algo === 'csc' && c.lambdaRiskCritic === 'plain' ? new SafetyCritic({ ...criticConfig, alpha: 0, alphaLr: 0 }, initRng) : null;
    // Made last, so the other networks' initial weights do not depend on whether it exists.
    this.costValue = this.critic !== null && c.costAdvantageSource === 'observed' ? new ValueFunction(valueConfig, initRng) : null;
    this.replay = this.critic === null ? null : new ReplayBuffer(c.replayCapacity, obsSize, actSize);
    this.nstep = this.replay === null ? null : new NStepWriter(this.replay, c.numEnvs, c.criticNStep, c.gamma);
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
      firstQc: new Float32Array(rows),
      firstAct: new Float32Array(rows * actSize),
      firstRaw: new Float32Array(rows * actSize),
      firstRejected: new Uint8Array(rows),
      exhausted: new Uint8Array(rows),
    };
    this.episodeReturn = new Float64Array(c.numEnvs);
    this.lambda = c.lambdaInit;
    // Algorithm 1, line 2: V̂_C^old ← χ before the first epoch.
    this.avgFailuresOld = c.chi;
    this.failureWindow = new FailureWindow(c.failureWindowEpisodes);
  }

  get epoch(): number {
    return this.epochIndex;
  }

  /**
   * Resets the envs, or, after `restore()` of a checkpoint that holds the episodes in flight (an
   * env that can snapshot them, `SnapshotVecEnv`), continues them where the checkpoint was taken.
   */
  async start(): Promise<void> {
    const saved = this.inFlight;
    this.inFlight = null;
    this.obs = continueInFlight(saved, this.episodeReturn);
    if (this.obs !== null) return;
    this.obs = await this.env.reset(this.config.seed * 7919 + this.epochIndex);
    this.episodeReturn.fill(0);
  }

  /** The filter's threshold for the coming epoch (NaN for learners without a critic). */
  epsilon(): number {
    if (this.critic === null) return Number.NaN;
    const c = this.config;
    switch (c.epsilonRule) {
      case 'paper':
        return paperEpsilon(c.gamma, c.chi, this.avgFailuresOld);
      case 'chi':
        return c.chi;
      case 'fixed':
        return c.epsilonFixed;
    }
  }

  async runEpoch(): Promise<EpochMetrics> {
    if (this.obs === null) throw new Error('CscLearner.runEpoch() before start()');
    const c = this.config;
    const started = performance.now();
    const N = c.numEnvs;
    const T = this.horizon;
    const { obsSize: D, actSize: A } = this.spec;
    const R = this.rollout;
    const clock = this.clock;
    clock.start();

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
    let firstAccepted = 0;
    let deviationSum = 0;
    for (let t = 0; t < T; t++) {
      const obs: Float32Array = this.obs;
      const { mean, std } = this.policy.meanStd(obs, N);
      clock.lap('rollout.policy');
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
        fallback: c.filterFallback,
        fallbackPool: c.filterFallbackPool,
        critic: critic === null ? (_o, n, _a, k) => new Float32Array(n * k) : (o, n, a, k) => critic.predictCandidates(o, n, a, k),
        rng: this.actRng,
      });
      clock.lap('rollout.filter');
      const step = await this.env.step(decision.actions);
      clock.lap('rollout.env');
      const row = t * N;
      R.obs.set(obs, row * D);
      R.nextObs.set(step.nextObs, row * D);
      R.raw.set(decision.rawActions, row * A);
      R.act.set(decision.actions, row * A);
      R.qc.set(decision.qc, row);
      R.exhausted.set(decision.exhausted, row);
      R.firstQc.set(decision.firstQc, row);
      if (this.riskCritic !== null || c.rejectedInGradient) R.firstAct.set(decision.firstAction, row * A);
      if (c.rejectedInGradient) {
        R.firstRaw.set(decision.firstRawAction, row * A);
        for (let e = 0; e < N; e++) R.firstRejected[row + e] = decision.exhausted[e] || decision.tried[e] !== 1 ? 1 : 0;
      }
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
          this.nstep?.flush(e);
          continue;
        }
        if (critic !== null) {
          if (decision.exhausted[e]) exhaustions++;
          else accepted++;
          if (!decision.exhausted[e] && decision.tried[e] === 1) firstAccepted++;
        }
        deviationSum += standardisedDistance(decision.rawActions, mean, std, e, A);
        this.nstep?.push(
          e,
          {
            obs: obs.subarray(e * D, (e + 1) * D),
            action: decision.actions.subarray(e * A, (e + 1) * A),
            nextObs: step.nextObs.subarray(e * D, (e + 1) * D),
            reward: step.reward[e]!,
            cost: step.failure[e]!,
            terminated: step.terminated[e] === 1,
          },
          R.done[i] === 1,
        );
        this.episodeReturn[e]! += step.reward[e]!;
        if (R.done[i]) {
          episodes++;
          failures += step.failure[e]!;
          this.failureWindow.push(step.failure[e]!);
          returnSum += this.episodeReturn[e]!;
          this.episodeReturn[e] = 0;
        }
      }
      this.obs = step.obs;
      clock.lap('rollout.store');
    }
    this.nstep?.flushAll();
    const validSteps = T * N - dropped;

    // 3. V̂_C^old: the average failures of this epoch (the paper), or of a window of recent
    //    episodes so that one failure among few episodes cannot flip ε's sign.
    const avgFailures = episodes > 0 ? failures / episodes : 0;
    const windowed = c.failureWindowEpisodes > 0 ? this.failureWindow.mean(avgFailures) : avgFailures;
    clock.lap('rollout.store');

    // 4. Safety critic by CQL(ζ) (eq. 2) on D_env.
    let criticLoss = Number.NaN;
    let criticGap = Number.NaN;
    if (this.critic !== null && this.replay !== null && this.replay.size > 0 && c.criticUpdatesPerEpoch > 0) {
      let sum = 0;
      let gapSum = 0;
      for (let u = 0; u < c.criticUpdatesPerEpoch; u++) {
        if (this.critic instanceof SafetyCritic) {
          const batch = this.replay.sample(c.criticBatch, this.updateRng);
          const samples = this.policySamples(batch.obs, batch.nextObs, batch.n);
          const stats = this.critic.update(batch, samples, this.nextValue());
          sum += stats.loss;
          gapSum += stats.gap;
          this.riskCritic?.update(batch, samples, this.nextValue());
        } else {
          sum += this.critic.updateFrom(this.replay, c.criticBatch, (o, o2, n) => this.policySamples(o, o2, n), this.updateRng).loss;
        }
      }
      criticLoss = sum / c.criticUpdatesPerEpoch;
      // NaN for an ensemble (never summed) and for α = 0 (the update does not compute it).
      if (this.critic instanceof SafetyCritic) criticGap = gapSum / c.criticUpdatesPerEpoch;
    }
    clock.lap('critic');

    // 5. Advantages: Â_R by GAE, Â_C from the critic, Ã = Â_R − λ′Â_C (or `advantageMix`).
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
    clock.lap('advantage.reward');
    const cost = this.critic === null ? null : this.costAdvantage(R.obs, R.act, rows);
    // `costAdvantageSource: observed`: Â_C by GAE on the failures the rollout saw, V_C learned.
    const observedCost = this.costValue === null ? null : this.observedCostAdvantage(rows);
    clock.lap('advantage.cost');
    const advC = observedCost?.advantages ?? cost?.advantage ?? null;
    const lp = lambdaPrime(this.lambda, c.gamma);
    const valid: number[] = [];
    for (let i = 0; i < rows; i++) if (!R.dropped[i]) valid.push(i);
    const n = valid.length;
    const bObs = new Float32Array(n * D);
    const bRet = new Float32Array(n);
    const bCostRet = observedCost === null ? null : new Float32Array(n);
    valid.forEach((i, k) => {
      bObs.set(R.obs.subarray(i * D, (i + 1) * D), k * D);
      bRet[k] = returns[i]!;
      if (bCostRet !== null) bCostRet[k] = observedCost!.returns[i]!;
    });
    // The policy gradient's samples: a fallback action is not a sample of π_old, so unless
    // `exhaustedInGradient` it is left out of eq. 8. An accepted candidate is a sample of π_old
    // conditioned on passing: its likelihood ratio to the behaviour, P(pass | s), is the same for
    // every action of the state, so it reweights states (as ρ_old already approximates) and is
    // left out.
    const pgRows = c.exhaustedInGradient ? valid : valid.filter((i) => R.exhausted[i] === 0);
    // `rejectedInGradient`: π's turned-away first samples a₀ as further rows, −λ′Â_C(s, a₀) each.
    const rejRows = c.rejectedInGradient && cost !== null && lp > 0 ? valid.filter((i) => R.firstRejected[i] === 1) : [];
    const np = pgRows.length + rejRows.length;
    const pObs = pgRows === valid && rejRows.length === 0 ? bObs : new Float32Array(np * D);
    const pRaw = new Float32Array(np * A);
    pgRows.forEach((i, k) => {
      if (pObs !== bObs) pObs.set(R.obs.subarray(i * D, (i + 1) * D), k * D);
      pRaw.set(R.raw.subarray(i * A, (i + 1) * A), k * A);
    });
    const exact = c.policyUpdate === 'cpo';
    // With `policyUpdate: cpo` Â_R goes to the step alone (Â_C separately, ν* is found inside it);
    // the config rules out `rejectedInGradient` rows there.
    const mixed = exact ? Float32Array.from(pgRows, (i) => advR[i]!) : mixAdvantages(advR, advC, this.lambda, c.gamma, pgRows, c.advantageMix);
    let pAdv = mixed;
    if (rejRows.length > 0) {
      // The rows go straight after pgRows' in pObs/pRaw; Q_C reads their states from there.
      const m = rejRows.length;
      const at = pgRows.length;
      const sAct = new Float32Array(m * A);
      const vc = new Float32Array(m);
      rejRows.forEach((i, k) => {
        pObs.set(R.obs.subarray(i * D, (i + 1) * D), (at + k) * D);
        pRaw.set(R.firstRaw.subarray(i * A, (i + 1) * A), (at + k) * A);
        sAct.set(R.firstAct.subarray(i * A, (i + 1) * A), k * A);
        vc[k] = cost!.value[i]!;
      });
      const adv = proposalCostAdvantage(this.critic!.predict(pObs.subarray(at * D), sAct, m), vc, this.lambda, c.gamma);
      pAdv = new Float32Array(np);
      pAdv.set(mixed);
      pAdv.set(adv, at);
    }
    // With `policyUpdate: cpo` Â_C enters unweighted: its own spread.
    const spread = advantageTermSpread(advR, advC, exact ? 1 : lp, pgRows);
    standardise(pAdv);
    clock.lap('batch');

    // 6. The policy step: natural gradient on Ã (eqs. 6–8) with the KL line search, or eq. 5
    //    solved exactly (`policyUpdate: cpo`).
    const exactStep = exact ? this.exactStep(np, pObs, pRaw, pAdv, advC!, pgRows, { episodes, failures: avgFailures, validSteps }) : null;
    const step =
      exactStep ??
      (np > 0
        ? naturalGradientStep(
            this.policy,
            { n: np, obs: pObs, actions: pRaw, advantages: pAdv },
            {
              beta0: c.lineSearchBeta0,
              maxTries: c.lineSearchTries,
              maxKl: c.maxKl,
              requireImprovement: c.lineSearchRequireImprovement,
              cgIters: c.cgIters,
              cgDamping: c.cgDamping,
              fvpSubsample: c.fvpSubsample,
            },
            clock,
          )
        : { accepted: false, tries: 0, kl: 0 });

    // 7. Value function on the GAE returns (and V_C on the cost's, with `costAdvantageSource: observed`).
    if (n > 0) this.value.fit(bObs, bRet, n, c.valueEpochs, c.valueBatch, this.updateRng);
    if (n > 0 && bCostRet !== null) this.costValue!.fit(bObs, bCostRet, n, c.valueEpochs, c.valueBatch, this.updateRng);
    clock.lap('valueFit');

    // 8. λ by dual ascent (eq. 9): λ ← max(0, λ + η_λ(V̂_C^old + E[Â_C]/(1−γ) − χ)). With the
    //    window, V̂_C^old is the larger of the window's and this epoch's failures, so λ rises in
    //    every epoch whose failures exceed χ. E[Â_C] (`lambdaAdvantage`): `behaviour` compares π's
    //    own actions with the executed ones, so the bracket estimates π's unfiltered risk (never
    //    below the observed failures); `fresh` is the printed form, zero in expectation.
    //    During the first `lambdaWarmupEpochs` epochs λ holds (η_λ = ρ = 0); π's risk is still reported.
    let policyRisk = Number.NaN;
    if (this.critic !== null && cost !== null && n > 0 && !exact) {
      const warmingUp = this.epochIndex < c.lambdaWarmupEpochs;
      const dual = lambdaEpochStep({
        lambda: this.lambda,
        lr: warmingUp ? 0 : c.lambdaLr,
        decay: warmingUp ? 0 : c.lambdaDecay,
        gamma: c.gamma,
        chi: c.chi,
        epochFailures: avgFailures,
        windowFailures: c.failureWindowEpisodes > 0 ? windowed : null,
        meanCostAdvantage: c.lambdaAdvantage === 'behaviour' ? cost.policyOverBehaviour : cost.meanUnderPolicy,
        advantage: c.lambdaAdvantage,
      });
      this.lambda = dual.lambda;
      policyRisk = dual.policyRisk;
    }
    this.avgFailuresOld = windowed;

    // Metrics, including the critic's calibration: predicted Q_C of executed actions vs. the
    // observed discounted failure Σ_k γ^k c_{t+k} of the same transitions (diagnostics.ts).
    this.totals.episodes += episodes;
    this.totals.envSteps += validSteps;
    this.totals.failures += failures;
    const cal = calibration(R, valid, T, N, c.gamma);
    clock.lap('bookkeeping');
    this.lastPhaseMs = clock.take();
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
      // With `policyUpdate: cpo`, the step's multiplier ν* (as `--algo cpo` logs it).
      lambda: exactStep?.nu ?? this.lambda,
      cpoCase: exactStep?.case ?? Number.NaN,
      epsilon,
      filterAcceptRate: this.critic === null ? Number.NaN : accepted / Math.max(1, accepted + exhaustions),
      filterExhaustions: exhaustions,
      filterExhaustedFraction: this.critic === null ? Number.NaN : exhaustions / Math.max(1, accepted + exhaustions),
      filterFirstAcceptRate: this.critic === null ? Number.NaN : firstAccepted / Math.max(1, accepted + exhaustions),
      actionDeviation: validSteps > 0 ? deviationSum / validSteps : Number.NaN,
      kl: step.accepted ? step.kl : 0,
      lineSearchTries: step.tries,
      lineSearchAccepted: step.accepted,
      criticLoss,
      criticPredictedFailure: this.critic === null ? Number.NaN : cal.predicted,
      observedFailureRate: cal.observed,
      calibrationError: this.critic === null ? Number.NaN : cal.error,
      ...(this.critic === null ? {} : { calibration: cal.bins }),
      policyRisk,
      avgFailuresWindow: windowed,
      rewardAdvantageSpread: spread.reward,
      costTermSpread: spread.cost,
      criticGap,
      cqlAlpha: this.critic instanceof SafetyCritic ? this.critic.alpha : Number.NaN,
      droppedEpisodes: dropped,
      wallS,
      stepsPerS: validSteps / wallS,
    };
    this.epochIndex++;
    return metrics;
  }

  /**
   * Eq. 5 solved exactly (`policyUpdate: cpo`): CPO's step on the policy-gradient rows, with
   * c = J_C − χ (this epoch's failures per episode) and the cost surrogate T̄·E[ρÂ_C] in failures
   * per episode (T̄ the mean episode length), as `CpoLearner` builds them. `adv` is Â_R of those
   * rows, standardised; Â_C is centred here. `nu` is the step's ν* and `case` its CPO case
   * (NaN without rows).
   */
  private exactStep(
    np: number,
    obs: Float32Array,
    raw: Float32Array,
    adv: Float32Array,
    advC: Float32Array,
    rows: readonly number[],
    epoch: { episodes: number; failures: number; validSteps: number },
  ): { accepted: boolean; tries: number; kl: number; nu: number; case: number } {
    if (np === 0) return { accepted: false, tries: 0, kl: 0, nu: Number.NaN, case: Number.NaN };
    const c = this.config;
    const costAdv = Float32Array.from(rows, (i) => advC[i]!);
    centre(costAdv);
    const costScale = epoch.episodes > 0 ? epoch.validSteps / epoch.episodes : epoch.validSteps / c.numEnvs;
    const report = cpoPolicyStep(
      this.policy,
      { n: np, obs, actions: raw, advantages: adv, costAdvantages: costAdv, costScale, constraintValue: epoch.failures - c.chi },
      { maxKl: c.maxKl, cgIters: c.cgIters, cgDamping: c.cgDamping, fvpSubsample: c.fvpSubsample, backtrackRatio: c.cpoBacktrackRatio, backtrackTries: c.cpoBacktrackTries },
    );
    return { accepted: report.search.accepted, tries: report.search.tries, kl: report.search.kl, nu: report.direction.nu, case: report.direction.case };
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
   * a_j ∼ π_old(·|s); E_{s, a∼π_old}[Â_C(s,a)] from one more fresh sample per state (eq. 9 as
   * printed); and E_s[Q_C(s, a₀) − Q_C(s, a_exec)] with a₀ the filter's first candidate, a plain
   * sample of π_old: how much riskier π's own actions are than the executed ones (λ's `behaviour`
   * estimate). Where a₀ was accepted the term is exactly 0, so neither sampling noise nor CQL's
   * push-down of the data's own actions enters it outside the filter's interventions.
   */
  private costAdvantage(obs: Float32Array, act: Float32Array, n: number): { advantage: Float32Array; value: Float32Array; meanUnderPolicy: number; policyOverBehaviour: number } {
    const critic = this.critic!;
    const M = this.config.costAdvantageSamples;
    const q = critic.predict(obs, act, n);
    // M + 1 samples per state in one pass: the first M estimate V_C(s), the last is a ∼ π_old.
    const qPi = critic.predictCandidates(obs, n, this.sampleActions(obs, n, M + 1), M + 1);
    // λ's `behaviour` estimate from the plain critic: Q(s, a₀) − Q(s, a_exec), 0 where a₀ ran.
    const risk = this.riskCritic === null ? null : { first: this.riskCritic.predict(obs, this.rollout.firstAct, n), executed: this.riskCritic.predict(obs, act, n) };
    const advantage = new Float32Array(n);
    const value = new Float32Array(n);
    let underPolicy = 0;
    let overBehaviour = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < M; j++) s += qPi[i * (M + 1) + j]!;
      const v = s / M;
      value[i] = v;
      advantage[i] = q[i]! - v;
      if (!this.rollout.dropped[i]) {
        underPolicy += qPi[i * (M + 1) + M]! - v;
        const d = risk === null ? this.rollout.firstQc[i]! - this.rollout.qc[i]! : risk.first[i]! - risk.executed[i]!;
        if (Number.isFinite(d)) overBehaviour += d;
        count++;
      }
    }
    return { advantage, value, meanUnderPolicy: count > 0 ? underPolicy / count : 0, policyOverBehaviour: count > 0 ? overBehaviour / count : 0 };
  }

  /**
   * Â_C by GAE on the observed failure signal c (the rollout's `failure`), with V_C(s) from
   * `costValue`: the estimator of Â_R applied to the cost, as CPO computes its cost advantage.
   */
  private observedCostAdvantage(rows: number): { advantages: Float32Array; returns: Float32Array } {
    const R = this.rollout;
    const c = this.config;
    return gae({
      steps: this.horizon,
      numEnvs: c.numEnvs,
      rewards: Float32Array.from(R.failure),
      values: this.costValue!.predict(R.obs, rows),
      nextValues: this.costValue!.predict(R.nextObs, rows),
      terminated: R.terminated,
      done: R.done,
      gamma: c.gamma,
      lambda: c.gaeLambda,
    });
  }

  /** How the critic's Bellman target reduces m samples of π at s′ (eq. 2's E_{a′}). */
  private nextValue(): NextValue {
    const c = this.config;
    if (c.criticTarget === 'policy') return meanNextValue;
    const rule = { epsilon: this.lastEpsilon, threshold: c.filterThreshold, fallback: c.filterFallback, fallbackPool: c.filterFallbackPool, candidates: c.filterCandidates };
    return (q, n, m) => filteredValue(q, n, m, rule);
  }

  deployed(): DeployedPolicy {
    return new PolicyActor(this.spec, this.config.algo, this.policy, this.critic, this.epsilon(), this.filterSettings(), this.config.seed + 17);
  }

  private filterSettings(): FilterSettings {
    return filterSettingsOf(this.config);
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
    if (this.riskCritic !== null) nets.push({ prefix: 'risk-critic', net: this.riskCritic.net }, { prefix: 'risk-critic-target', net: this.riskCritic.target });
    if (this.costValue !== null) nets.push({ prefix: 'cost-value', net: this.costValue.net });
    return nets;
  }

  /** The Adam optimisers (the policy's step is a natural-gradient step without optimiser state). */
  private adamSlots(): AdamSlot[] {
    const slots = [this.value.adamSlot('value')];
    if (this.critic !== null) slots.push(this.critic.adamSlot(this.critic instanceof SafetyCritic ? 'critic' : 'critics'));
    if (this.riskCritic !== null) slots.push(this.riskCritic.adamSlot('risk-critic'));
    if (this.costValue !== null) slots.push(this.costValue.adamSlot('cost-value'));
    return slots;
  }

  async save(dir: string): Promise<void> {
    const tensors: NamedArray[] = [];
    for (const { prefix, net } of this.networks()) {
      net.vars.forEach((v, i) => tensors.push({ name: `${prefix}/${i}`, shape: v.shape, values: v.dataSync() as Float32Array }));
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
        lambda: this.lambda,
        ...(this.critic instanceof SafetyCritic ? { cqlAlpha: this.critic.alpha } : {}),
        avgFailuresOld: this.avgFailuresOld,
        failureWindow: this.failureWindow.toJSON(),
        epsilon: this.epsilon(),
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
    for (const { prefix, net } of this.networks()) assignFrom(ck, prefix, net.vars);
    const num = (k: string): number => {
      const v = m[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new CheckpointError(`${dir}: meta.${k} is ${JSON.stringify(v)}, expected a finite number`);
      return v;
    };
    this.epochIndex = num('epoch');
    this.lambda = num('lambda');
    // A moving α (cqlAlphaLr > 0) is learner state and resumes, within the cap of this config's
    // cqlAlpha; a fixed α is the config's, as is α from a checkpoint written before α was saved.
    if (this.critic instanceof SafetyCritic && this.config.cqlAlphaLr > 0 && m.cqlAlpha !== undefined) this.critic.alpha = Math.min(num('cqlAlpha'), this.config.cqlAlpha);
    this.avgFailuresOld = num('avgFailuresOld');
    this.failureWindow.restore(m.failureWindow, dir);
    restoreTotalsAndRng(dir, m, this.totals, this.actRng, this.updateRng);
    await restoreAdam(ck, this.adamSlots());
    this.inFlight = readInFlight(dir, m.inFlight, this.env, this.config.numEnvs, this.spec.obsSize);
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
    this.riskCritic?.dispose();
    this.costValue?.dispose();
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
