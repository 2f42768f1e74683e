/**
 * Soft Actor-Critic (Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", 2018: twin
 * Q critics, target networks, automatic entropy temperature), the paper's Appendix A.9
 * comparison. Unconstrained: a failure ends the episode and is counted, nothing else sees it.
 *
 * One epoch, top to bottom:
 *   1. rollout: a ∼ π_φ(·|s) (uniform in the action box for the run's first `sacWarmupSteps`),
 *      (s, a, s′, r, c, terminated) into D_env; after each vector step, `sacUpdatesPerStep`
 *      gradient updates per stored transition (once warm-up is over)
 *   2. one update, on a minibatch of D_env:
 *      soft Bellman target  y = r + γ(1 − terminated)(min_j Q̄_j(s′, ã′) − α log π(ã′|s′)),  ã′ ∼ π(·|s′)
 *      critics              J_Q = Σ_j ½ E[(Q_j(s, a) − y)²]
 *      policy               J_π = E[α log π(ã|s) − min_j Q_j(s, ã)],  ã = tanh(μ + σ ⊙ ξ) reparameterised
 *      temperature          J(α) = E[−log α · (log π(ã|s) + H̄)],  H̄ = −|A|
 *      targets              Q̄_j ← (1 − τ) Q̄_j + τ Q_j
 *
 * log π is the squashed Gaussian's, with its tanh correction (src/nn/squashed-policy.ts). The
 * temperature is optimised as log α, so α stays positive.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ReplayBuffer, type ReplayBatch } from '../core/replay.ts';
import { PhaseClock } from '../core/phase-clock.ts';
import { Rng } from '../core/rng.ts';
import type { EnvSpec, VecEnv } from '../envs/env.ts';
import { type AdamSlot, adamState, restoreAdam } from '../nn/adam-state.ts';
import { CheckpointError, type LoadedCheckpoint, type NamedArray, loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.ts';
import { Mlp } from '../nn/mlp.ts';
import { SquashedGaussianPolicy } from '../nn/squashed-policy.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import { checkObservationBatch } from './actor.ts';
import type { LearnerConfig } from './config.ts';
import type { ActOptions, DeployedPolicy, FilterResult } from './deploy.ts';
import type { Learner } from './learner.ts';
import { assignFrom, checkSpecMatches, restoreTotalsAndRng } from './restore.ts';
import { type InFlight, continueInFlight, inFlightMeta, readInFlight } from './in-flight.ts';

/** Inputs of the soft Bellman target, one entry per batch row. */
export interface SoftBellmanInput {
  readonly reward: tf.Tensor1D;
  /** 1 where s′ is terminal (no bootstrap), else 0. */
  readonly terminated: tf.Tensor1D;
  /** Q̄_1(s′, ã′) and Q̄_2(s′, ã′) of the target critics. */
  readonly nextQ1: tf.Tensor1D;
  readonly nextQ2: tf.Tensor1D;
  /** log π(ã′|s′) of the same sample ã′. */
  readonly nextLogProb: tf.Tensor1D;
  readonly alpha: number;
  readonly gamma: number;
}

/** y = r + γ(1 − terminated)(min(Q̄_1, Q̄_2) − α log π(ã′|s′)). */
export function softBellmanTarget(x: SoftBellmanInput): tf.Tensor1D {
  return tf.tidy(() => {
    const soft = tf.sub(tf.minimum(x.nextQ1, x.nextQ2), tf.mul(x.alpha, x.nextLogProb));
    return tf.add<tf.Tensor1D>(x.reward, tf.mul(x.gamma, tf.mul(tf.sub(1, x.terminated), soft)));
  });
}

/**
 * J(α) as a function of log α: −log α · (E[log π] + H̄). Its gradient in log α is −(E[log π] + H̄):
 * negative — gradient descent raises α — when the policy's entropy −E[log π] is below the target H̄.
 */
export function temperatureLoss(logAlpha: tf.Tensor, meanLogProb: number, targetEntropy: number): tf.Scalar {
  return tf.tidy(() => tf.mul<tf.Scalar>(tf.neg(tf.reshape(logAlpha, [])), meanLogProb + targetEntropy));
}

/** Q(s, a) of a critic network over the concatenated input, one value per row. */
function qValue(net: Mlp, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.reshape<tf.Rank.R1>(net.apply(tf.concat([s, a], 1)), [-1]));
}

/** Losses and temperature of one update. */
export interface SacUpdateStats {
  readonly qLoss: number;
  readonly policyLoss: number;
  /** α used in this update (before its own step). */
  readonly alpha: number;
  /** −E[log π(ã|s)] on the batch. */
  readonly entropy: number;
}

/** Running totals carried across epochs (and checkpoints). */
interface Totals {
  episodes: number;
  envSteps: number;
  failures: number;
}

export class SacLearner implements Learner {
  readonly spec: EnvSpec;
  readonly policy: SquashedGaussianPolicy;
  readonly q1: Mlp;
  readonly q2: Mlp;
  readonly q1Target: Mlp;
  readonly q2Target: Mlp;
  readonly logAlpha: tf.Variable;
  /** D_env; seeded from a file before training with `--seed-data` (Appendix A.10). */
  readonly replay: ReplayBuffer;
  /** H̄ = −|A|. */
  readonly targetEntropy: number;
  /** Mean statistics of the last epoch's updates (null before the first update). */
  lastStats: SacUpdateStats | null = null;
  private readonly qOptimizer: tf.Optimizer;
  private readonly piOptimizer: tf.Optimizer;
  private readonly alphaOptimizer: tf.Optimizer;
  private readonly actRng: Rng;
  private readonly updateRng: Rng;
  private readonly horizon: number;
  private obs: Float32Array | null = null;
  private readonly episodeReturn: Float64Array;
  /** Episodes in flight read from a checkpoint, continued by the next `start()` (in-flight.ts). */
  private inFlight: InFlight | null = null;
  private readonly actNoise: Float32Array;
  private readonly noiseNext: Float32Array;
  private readonly noisePi: Float32Array;
  /** Fractional updates owed (sacUpdatesPerStep × transitions, minus updates made). */
  private updateCredit = 0;
  private readonly totals: Totals = { episodes: 0, envSteps: 0, failures: 0 };
  private epochIndex = 0;
  private readonly clock = new PhaseClock();
  /** Wall ms per phase of the last epoch: the profile (bench/learner.ts). */
  lastPhaseMs: Record<string, number> = {};

  constructor(
    readonly config: LearnerConfig,
    private readonly env: VecEnv,
  ) {
    const c = config;
    this.spec = env.spec;
    if (c.algo !== 'sac') throw new RangeError(`SacLearner: config.algo is '${c.algo}', expected 'sac'`);
    if (env.numEnvs !== c.numEnvs) throw new RangeError(`SacLearner: env has ${env.numEnvs} copies, config.numEnvs is ${c.numEnvs}`);
    const initRng = new Rng(c.seed);
    this.actRng = new Rng(c.seed + 1_000_003);
    this.updateRng = new Rng(c.seed + 2_000_003);
    const { obsSize, actSize, actLow, actHigh } = this.spec;
    this.policy = new SquashedGaussianPolicy({ obsSize, actSize, hidden: c.policyHidden, activation: c.activation, actLow, actHigh }, initRng);
    const qShape = { inSize: obsSize + actSize, hidden: c.criticHidden, outSize: 1, activation: c.activation };
    this.q1 = new Mlp(qShape, initRng, 'sac/q1');
    this.q2 = new Mlp(qShape, initRng, 'sac/q2');
    this.q1Target = new Mlp(qShape, initRng, 'sac/q1-target');
    this.q2Target = new Mlp(qShape, initRng, 'sac/q2-target');
    this.q1Target.copyFrom(this.q1);
    this.q2Target.copyFrom(this.q2);
    this.logAlpha = tf.variable(tf.scalar(Math.log(c.sacInitAlpha)), true);
    this.targetEntropy = -actSize;
    this.qOptimizer = tf.train.adam(c.sacLr);
    this.piOptimizer = tf.train.adam(c.sacLr);
    this.alphaOptimizer = tf.train.adam(c.sacLr);
    this.replay = new ReplayBuffer(c.replayCapacity, obsSize, actSize);
    this.horizon = c.stepsPerEpoch / c.numEnvs;
    this.episodeReturn = new Float64Array(c.numEnvs);
    this.actNoise = new Float32Array(c.numEnvs * actSize);
    this.noiseNext = new Float32Array(c.sacBatch * actSize);
    this.noisePi = new Float32Array(c.sacBatch * actSize);
  }

  get epoch(): number {
    return this.epochIndex;
  }

  /** The current temperature α = exp(log α). */
  get alpha(): number {
    return Math.exp(this.logAlpha.dataSync()[0]!);
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
    if (this.obs === null) throw new Error('SacLearner.runEpoch() before start()');
    const c = this.config;
    const started = performance.now();
    const N = c.numEnvs;
    const { obsSize: D, actSize: A, actLow, actHigh } = this.spec;

    // 1. Rollout; every valid transition goes to D_env, updates follow each vector step.
    let episodes = 0;
    let failures = 0;
    let returnSum = 0;
    let dropped = 0;
    let validSteps = 0;
    let updates = 0;
    const sums = { qLoss: 0, policyLoss: 0, alpha: 0, entropy: 0 };
    const clock = this.clock;
    clock.start();
    for (let t = 0; t < this.horizon; t++) {
      const obs: Float32Array = this.obs;
      const warm = this.totals.envSteps + validSteps >= c.sacWarmupSteps;
      let actions: Float32Array;
      if (warm) {
        actions = this.policy.act(obs, N, this.actRng.fillNormal(this.actNoise));
      } else {
        actions = new Float32Array(N * A);
        for (let i = 0; i < N * A; i++) actions[i] = this.actRng.range(actLow[i % A]!, actHigh[i % A]!);
      }
      clock.lap('rollout.policy');
      const step = await this.env.step(actions);
      clock.lap('rollout.env');
      let stored = 0;
      for (let e = 0; e < N; e++) {
        if (step.dropped[e] === 1) {
          dropped++;
          this.episodeReturn[e] = 0;
          continue;
        }
        stored++;
        this.replay.add(obs.subarray(e * D, (e + 1) * D), actions.subarray(e * A, (e + 1) * A), step.nextObs.subarray(e * D, (e + 1) * D), step.reward[e]!, step.failure[e]!, step.terminated[e] === 1);
        this.episodeReturn[e]! += step.reward[e]!;
        if (step.terminated[e] || step.truncated[e]) {
          episodes++;
          failures += step.failure[e]!;
          returnSum += this.episodeReturn[e]!;
          this.episodeReturn[e] = 0;
        }
      }
      validSteps += stored;
      this.obs = step.obs;
      clock.lap('rollout.store');

      // 2. Updates owed for this step's transitions, once warm-up is over and D_env fills a batch.
      if (warm && this.replay.size >= c.sacBatch) {
        this.updateCredit += stored * c.sacUpdatesPerStep;
        while (this.updateCredit >= 1) {
          const s = this.update(this.replay.sample(c.sacBatch, this.updateRng));
          sums.qLoss += s.qLoss;
          sums.policyLoss += s.policyLoss;
          sums.alpha += s.alpha;
          sums.entropy += s.entropy;
          updates++;
          this.updateCredit -= 1;
        }
        clock.lap('update');
      }
    }
    if (updates > 0) this.lastStats = { qLoss: sums.qLoss / updates, policyLoss: sums.policyLoss / updates, alpha: sums.alpha / updates, entropy: sums.entropy / updates };

    this.totals.episodes += episodes;
    this.totals.envSteps += validSteps;
    this.totals.failures += failures;
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
      avgFailures: episodes > 0 ? failures / episodes : 0,
      cumulativeFailures: this.totals.failures,
      // Unconstrained: no λ, no filter, no trust region, no safety critic.
      lambda: 0,
      epsilon: Number.NaN,
      filterAcceptRate: Number.NaN,
      filterExhaustions: 0,
      kl: Number.NaN,
      lineSearchTries: 0,
      lineSearchAccepted: false,
      criticLoss: updates > 0 ? sums.qLoss / updates : Number.NaN,
      criticPredictedFailure: Number.NaN,
      observedFailureRate: Number.NaN,
      droppedEpisodes: dropped,
      wallS,
      stepsPerS: validSteps / wallS,
    };
    this.epochIndex++;
    return metrics;
  }

  /** One SAC update on `batch`: critics, policy, temperature, then the Polyak step of the targets. */
  update(batch: ReplayBatch): SacUpdateStats {
    const c = this.config;
    const { n } = batch;
    const { obsSize: D, actSize: A } = this.spec;
    const noiseNext = n * A === this.noiseNext.length ? this.noiseNext : new Float32Array(n * A);
    const noisePi = n * A === this.noisePi.length ? this.noisePi : new Float32Array(n * A);
    this.updateRng.fillNormal(noiseNext);
    this.updateRng.fillNormal(noisePi);
    const alpha = this.alpha;
    let meanLogProb = 0;
    const losses = tf.tidy(() => {
      const s = tf.tensor2d(batch.obs, [n, D]);
      const a = tf.tensor2d(batch.actions, [n, A]);
      const s2 = tf.tensor2d(batch.nextObs, [n, D]);
      // Soft Bellman target, no gradient: ã′ ∼ π(·|s′) with the target critics.
      const next = this.policy.sample(s2, tf.tensor2d(noiseNext, [n, A]));
      const y = softBellmanTarget({
        reward: tf.tensor1d(batch.rewards),
        terminated: tf.tensor1d(batch.terminated),
        nextQ1: qValue(this.q1Target, s2, next.action),
        nextQ2: qValue(this.q2Target, s2, next.action),
        nextLogProb: next.logProb,
        alpha,
        gamma: c.gamma,
      });
      const qLoss = this.qOptimizer.minimize(
        () => tf.tidy(() => tf.add<tf.Scalar>(tf.mul(0.5, tf.mean(tf.square(tf.sub(qValue(this.q1, s, a), y)))), tf.mul(0.5, tf.mean(tf.square(tf.sub(qValue(this.q2, s, a), y)))))),
        true,
        [...this.q1.vars, ...this.q2.vars],
      );
      // Policy: reparameterised ã through the (just updated) critics; only φ moves.
      const noise = tf.tensor2d(noisePi, [n, A]);
      const piLoss = this.piOptimizer.minimize(
        () =>
          tf.tidy(() => {
            const cur = this.policy.sample(s, noise);
            const qMin = tf.minimum(qValue(this.q1, s, cur.action), qValue(this.q2, s, cur.action));
            const lp = tf.mean(cur.logProb);
            meanLogProb = lp.dataSync()[0]!;
            return tf.mean<tf.Scalar>(tf.sub(tf.mul(alpha, cur.logProb), qMin));
          }),
        true,
        [...this.policy.vars],
      );
      return { qLoss: qLoss?.dataSync()[0] ?? Number.NaN, policyLoss: piLoss?.dataSync()[0] ?? Number.NaN };
    });
    this.alphaOptimizer.minimize(() => temperatureLoss(this.logAlpha, meanLogProb, this.targetEntropy), false, [this.logAlpha]);
    this.q1Target.softUpdate(this.q1, c.sacTau);
    this.q2Target.softUpdate(this.q2, c.sacTau);
    return { ...losses, alpha, entropy: -meanLogProb };
  }

  deployed(): DeployedPolicy {
    return new SacActor(this.spec, this.policy, this.config.seed + 17);
  }

  /** Named networks in a fixed order (checkpoint tensor prefixes). */
  private networks(): { prefix: string; vars: readonly tf.Variable[] }[] {
    return [
      { prefix: 'policy', vars: this.policy.vars },
      { prefix: 'q1', vars: this.q1.vars },
      { prefix: 'q2', vars: this.q2.vars },
      { prefix: 'q1-target', vars: this.q1Target.vars },
      { prefix: 'q2-target', vars: this.q2Target.vars },
      { prefix: 'log-alpha', vars: [this.logAlpha] },
    ];
  }

  /** The three Adam optimisers, with the variable lists their `minimize` calls pass. */
  private adamSlots(): AdamSlot[] {
    return [
      { prefix: 'q', optimizer: this.qOptimizer, vars: [...this.q1.vars, ...this.q2.vars] },
      { prefix: 'pi', optimizer: this.piOptimizer, vars: this.policy.vars },
      { prefix: 'alpha', optimizer: this.alphaOptimizer, vars: [this.logAlpha] },
    ];
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
        alpha: this.alpha,
        updateCredit: this.updateCredit,
        totals: { ...this.totals },
        rng: { act: this.actRng.state(), update: this.updateRng.state() },
        adam: adam.meta,
        ...inFlightMeta(this.env, this.obs, this.episodeReturn),
      },
      tensors,
    );
  }

  /** Restores networks, α and counters. D_env is restored beside it by the training loop (src/runs/replay-file.ts). */
  async restore(dir: string): Promise<void> {
    const ck = await loadCheckpoint(dir);
    const m = ck.meta;
    if (m.algo !== this.config.algo) throw new CheckpointError(`${dir}: checkpoint was trained with algo '${String(m.algo)}', this learner is '${this.config.algo}'`);
    checkSpecMatches(dir, m.spec, this.spec);
    for (const { prefix, vars } of this.networks()) assignFrom(ck, prefix, vars);
    const num = (k: string): number => {
      const v = m[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new CheckpointError(`${dir}: meta.${k} is ${JSON.stringify(v)}, expected a finite number`);
      return v;
    };
    this.epochIndex = num('epoch');
    this.updateCredit = num('updateCredit');
    restoreTotalsAndRng(dir, m, this.totals, this.actRng, this.updateRng);
    await restoreAdam(ck, this.adamSlots());
    this.inFlight = readInFlight(dir, m.inFlight, this.env, this.config.numEnvs, this.spec.obsSize);
  }

  /** Starts from another SAC run's policy; the spec's observation and action sizes must match. */
  async initPolicyFrom(dir: string): Promise<void> {
    const ck = await loadCheckpoint(dir);
    if (ck.meta.algo !== 'sac') {
      throw new CheckpointError(`${dir}: --init-policy for sac needs a sac checkpoint; this one was trained with '${String(ck.meta.algo)}', whose Gaussian policy has no squashed, state-dependent σ`);
    }
    const saved = ck.meta.spec as Partial<Record<keyof EnvSpec, unknown>> | undefined;
    if (saved?.obsSize !== this.spec.obsSize || saved.actSize !== this.spec.actSize) {
      throw new CheckpointError(
        `${dir}: --init-policy checkpoint has obs ${String(saved?.obsSize)} / act ${String(saved?.actSize)} (env ${String(saved?.id)}), this env ${this.spec.id} has obs ${this.spec.obsSize} / act ${this.spec.actSize}`,
      );
    }
    assignFrom(ck, 'policy', this.policy.vars);
  }

  dispose(): void {
    this.policy.dispose();
    for (const q of [this.q1, this.q2, this.q1Target, this.q2Target]) q.dispose();
    this.logAlpha.dispose();
    this.qOptimizer.dispose();
    this.piOptimizer.dispose();
    this.alphaOptimizer.dispose();
  }
}

/**
 * A SAC policy for acting outside training: box(tanh(μ(s))) with `deterministic`, else a sample of
 * π. There is no safety critic, so nothing is filtered (Q_C is NaN, one candidate per state).
 */
export class SacActor implements DeployedPolicy {
  readonly algo = 'sac';
  readonly hasCritic = false;
  readonly epsilon = Number.NaN;
  private readonly rng: Rng;

  constructor(
    readonly spec: EnvSpec,
    private readonly policy: SquashedGaussianPolicy,
    seed: number,
    private readonly onDispose: () => void = () => undefined,
  ) {
    this.rng = new Rng(seed);
  }

  act(obs: Float32Array, n: number, options: ActOptions = {}): FilterResult {
    checkObservationBatch(this.spec, obs, n);
    const noise = options.deterministic === true ? null : this.rng.fillNormal(new Float32Array(n * this.spec.actSize));
    return { actions: this.policy.act(obs, n, noise), qc: new Float32Array(n).fill(Number.NaN), tried: new Uint16Array(n).fill(1), exhausted: new Uint8Array(n) };
  }

  dispose(): void {
    this.onDispose();
  }
}

/** Rebuilds a SAC checkpoint's policy for acting (`csc eval`, the ROS node); see {@link SacActor}. */
export function loadSacActor(ck: LoadedCheckpoint, config: LearnerConfig, spec: EnvSpec, seed: number): SacActor {
  const { obsSize, actSize, actLow, actHigh } = spec;
  const policy = new SquashedGaussianPolicy({ obsSize, actSize, hidden: config.policyHidden, activation: config.activation, actLow, actHigh }, new Rng(0));
  try {
    assignFrom(ck, 'policy', policy.vars);
  } catch (e) {
    policy.dispose();
    throw e;
  }
  return new SacActor(spec, policy, seed, () => {
    policy.dispose();
  });
}
