/**
 * Learner configuration: one typed object with documented defaults, taken from the paper's
 * Appendix A.6 where it gives one. {@link resolveConfig} derives values and rejects impossible
 * ones with a message that names the field and the fix.
 */
import type { Activation } from '../nn/mlp.ts';
import type { BackendChoice } from '../nn/backend.ts';

/** Learners this package trains. */
export type Algo = 'csc' | 'trpo' | 'qensemble' | 'cpo' | 'sac';
export const ALGOS: readonly Algo[] = ['csc', 'trpo', 'qensemble', 'cpo', 'sac'];

/** Rule for the filter threshold ε. */
export type EpsilonRule = 'paper' | 'chi' | 'fixed';

/** Quantity the filter compares with ε. */
export type FilterThreshold = 'q' | 'advantage';

/**
 * What the filter executes when none of the K candidates passes: `lowest` the lowest-Q_C
 * candidate; `last` the last resample (A.4 read literally: the loop simply stops); `sample-lowest`
 * one drawn uniformly from the `filterFallbackPool` lowest-Q_C candidates (they are samples of π,
 * so this samples π restricted to its least risky part).
 */
export type FilterFallback = 'lowest' | 'last' | 'sample-lowest';
export const FILTER_FALLBACKS: readonly FilterFallback[] = ['lowest', 'last', 'sample-lowest'];

/**
 * The policy whose failure probability Q_C estimates (the a′ of the Bellman target):
 * `policy` = a′ ∼ π at s′ (eq. 2 as printed: Q_C^π); `filtered` = a′ chosen at s′ by the same
 * filter that acts (Q_C of the behaviour that actually runs).
 */
export type CriticTarget = 'policy' | 'filtered';

/**
 * E[Â_C] of eq. 9: `fresh` = over fresh samples of π_old against a V_C(s) from π_old too (zero in
 * expectation; the printed equation with π_old as the behaviour); `behaviour` = π's own actions
 * against the executed (filtered) ones, Q_C(s, a∼π) − Q_C(s, a_exec): by the performance-difference
 * lemma V_C^π ≈ V_C^behaviour + E[Â_C]/(1−γ), so λ sees π's own risk, not only the filtered
 * failures; `observed` = its expectation under π_old, 0 (Â_C is centred on π_old by construction),
 * so λ follows the failures the filtered behaviour actually had: λ ← λ + η_λ(V̂_C^old − χ) with
 * V̂_C^old the epoch's average failures (the printed eq. 9 without its sampling noise).
 */
export type LambdaAdvantage = 'fresh' | 'behaviour' | 'observed';
export const LAMBDA_ADVANTAGES: readonly LambdaAdvantage[] = ['fresh', 'behaviour', 'observed'];

/**
 * The critic whose Q_C(s, a₀) − Q_C(s, a_exec) gives λ's `behaviour` estimate: `conservative` the
 * CQL critic the filter uses; `plain` a second critic trained on the same batches by the Bellman
 * term alone (α = 0), so the estimate does not hold the gap CQL keeps between π's own samples and
 * the data's actions. The filter always uses the conservative critic.
 */
export type LambdaRiskCritic = 'conservative' | 'plain';

/**
 * Where eq. 8's Â_C comes from: `critic` = Q_C(s,a) − E_{a′∼π}Q_C(s,a′) from the safety critic
 * (the paper); `observed` = GAE on the observed failure signal c with a learned cost value V_C(s)
 * (the estimator CPO uses, and the same estimator as Â_R). With `observed` the critic still
 * filters actions and gives λ's risk estimate; only the policy gradient's cost term changes.
 */
export type CostAdvantageSource = 'critic' | 'observed';
export const COST_ADVANTAGE_SOURCES: readonly CostAdvantageSource[] = ['critic', 'observed'];
export const LAMBDA_RISK_CRITICS: readonly LambdaRiskCritic[] = ['conservative', 'plain'];

/**
 * How eq. 5 combines the two advantages before the policy step: `paper` = Ã = Â_R − λ′Â_C
 * (λ′ = λ/(1−γ)); `normalised` = Ã = (z(Â_R) − λ·z(Â_C))/(1 + λ), each term standardised over the
 * policy batch first, so λ weighs the cost term against the reward term whatever their scales
 * (λ = 1: equal weight). lagrange.ts, `mixAdvantages`.
 */
export type AdvantageMix = 'paper' | 'normalised';
export const ADVANTAGE_MIXES: readonly AdvantageMix[] = ['paper', 'normalised'];

/**
 * How eq. 5's constrained trust-region problem is solved each epoch. `lagrangian` (the paper's,
 * eqs. 6–9): the step follows Ã = Â_R − λ′Â_C and λ moves by dual ascent across epochs.
 * `cpo`: the local problem is solved exactly in every epoch, as CPO does (Achiam et al., 2017;
 * the paper's A.3 contrasts the two): maximise E[ρÂ_R] subject to T̄·E[ρÂ_C] + (J_C − χ) ≤ 0 and
 * the KL bound, with J_C this epoch's failures per episode, T̄ its mean episode length, the
 * multiplier ν* from the dual in closed form, and a pure cost-reducing step where even the
 * smallest step cannot meet the constraint (cpo-step.ts). The filter still acts at every step;
 * λ is not used (runs log ν* as `lambda`, as `--algo cpo` does). Needs
 * `costAdvantageSource: observed`, so that Â_C and J_C share their units (failures per episode).
 */
export type PolicyUpdate = 'lagrangian' | 'cpo';
export const POLICY_UPDATES: readonly PolicyUpdate[] = ['lagrangian', 'cpo'];

/**
 * Named bundles of config fields: `paper` = Algorithm 1 as printed; `default` = what we measured
 * best; `filter-only` = CSC's safe exploration alone: λ stays 0 and the critic is a plain Bellman
 * critic (no CQL term), so only the filter keeps exploration safe. docs/algorithm.md and
 * docs/results.md say where each was measured: `filter-only` learns the Panda pushes, which the
 * default does not, but on point-nav it fails about χ times per episode where the default fails
 * ~0.003 (252 failures in 60 epochs against 13). `observed-cost` = the filter on a CQL critic
 * whose lift over the data is bounded (`cqlAlphaLr`), with eq. 8's Â_C and eq. 9's λ from the
 * failures observed (`costAdvantageSource`, `lambdaAdvantage`): the critic guards exploration,
 * the observed costs teach π and λ; it is the learner that walks the Laikago at 2M steps.
 */
export type Preset = 'paper' | 'default' | 'filter-only' | 'observed-cost';
export const PRESETS: Readonly<Record<Preset, Partial<LearnerConfig>>> = {
  default: {},
  'filter-only': {
    lambdaInit: 0,
    lambdaLr: 0,
    cqlAlpha: 0,
  },
  'observed-cost': {
    costAdvantageSource: 'observed',
    lambdaAdvantage: 'observed',
    cqlAlphaLr: 0.1,
  },
  paper: {
    epsilonRule: 'paper',
    filterThreshold: 'q',
    filterFallback: 'lowest',
    criticTarget: 'policy',
    criticInitFailure: 0.5,
    criticBellmanLoss: 'mse',
    criticNStep: 1,
    criticUpdatesPerEpoch: 100,
    criticTargetTau: 0.005,
    criticLr: 2e-4,
    failureWindowEpisodes: 0,
    lambdaAdvantage: 'fresh',
    exhaustedInGradient: true,
  },
};

export interface LearnerConfig {
  /**
   * Learner: `csc` (CQL safety critic + filter + λ), `trpo` ("Base": no critic, no filter),
   * `qensemble`, `cpo` (Constrained Policy Optimization: cost value function, no filter),
   * `sac` (unconstrained Soft Actor-Critic, the paper's A.9 comparison).
   */
  readonly algo: Algo;
  /** Env id (`point-nav`, a csc_sim id, `gym:<id>`). */
  readonly env: string;
  /** Seed of everything stochastic in the run. */
  readonly seed: number;
  /** Epochs to train. */
  readonly epochs: number;
  /** Envs stepped in lock-step. */
  readonly numEnvs: number;
  /** Env steps per epoch, across all envs (a multiple of numEnvs). */
  readonly stepsPerEpoch: number;
  /** γ, discount of rewards and of the safety critic (0.99). */
  readonly gamma: number;
  /** λ of GAE for Â_R (0.97). */
  readonly gaeLambda: number;
  /** χ, tolerated expected failures per episode (0.05 in the paper's comparisons). */
  readonly chi: number;

  /** Hidden sizes and activation of the policy mean, value and critic networks. */
  readonly policyHidden: readonly number[];
  readonly valueHidden: readonly number[];
  readonly criticHidden: readonly number[];
  readonly activation: Activation;
  /** Initial log σ of the Gaussian policy. */
  readonly initLogStd: number;

  /** δ, trust region on the mean KL (0.01). */
  readonly maxKl: number;
  /** β_0 of the backtracking line search (0.7). */
  readonly lineSearchBeta0: number;
  /** L, line-search tries (20). */
  readonly lineSearchTries: number;
  /** Also require surrogate improvement in the line search (TRPO's check; A.2 states only KL ≤ δ). */
  readonly lineSearchRequireImprovement: boolean;
  readonly cgIters: number;
  readonly cgDamping: number;
  /** Fisher-vector products on every k-th state of the epoch. */
  readonly fvpSubsample: number;
  /** CPO's line search: tries φ_old + ρ^j x for j < tries (the reference implementation's 0.8 and 15). */
  readonly cpoBacktrackRatio: number;
  readonly cpoBacktrackTries: number;

  /** Value function: Adam rate, passes and minibatch size per epoch. */
  readonly valueLr: number;
  readonly valueEpochs: number;
  readonly valueBatch: number;

  /** η_Q, safety-critic learning rate (2e-4). */
  readonly criticLr: number;
  /** α of CQL(ζ) (0.5). 0 gives plain Bellman-error critics. The start value when `cqlAlphaLr` > 0. */
  readonly cqlAlpha: number;
  /**
   * η_α: > 0 bounds CQL's lift at π's samples: after each critic update α ← clip(α + η_α(τ −
   * gap), 0, `cqlAlpha`), gap = E_{a∼π}Q_C − E_{a∼D}Q_C and τ = `cqlGapTarget` (`alphaStep` in
   * safety-critic.ts). α is eq. 2's while the gap is at most τ and shrinks while CQL lifts π's
   * samples above the data's by more, so the lift cannot follow π without bound. 0 (default): α
   * fixed, eq. 2 as printed.
   */
  readonly cqlAlphaLr: number;
  /** τ, the largest gap α is not reduced for (a difference of failure probabilities; read only when `cqlAlphaLr` > 0). */
  readonly cqlGapTarget: number;
  /** Critic gradient steps per epoch and their minibatch size. */
  readonly criticUpdatesPerEpoch: number;
  readonly criticBatch: number;
  /** Polyak rate of the critic's target network per step. */
  readonly criticTargetTau: number;
  /** Actions sampled from π per state for the CQL term and the Bellman target. */
  readonly criticPolicySamples: number;
  /** Capacity of D_env in transitions. */
  readonly replayCapacity: number;
  /** Samples a′ ∼ π for E_{a′}Q_C(s, a′) in Â_C. */
  readonly costAdvantageSamples: number;
  /** Where eq. 8's Â_C comes from (`CostAdvantageSource`); default `critic`, the paper's. */
  readonly costAdvantageSource: CostAdvantageSource;
  /** Critics in the Q-ensembles baseline (20) and the aggregation's weight on their spread. */
  readonly ensembleSize: number;
  readonly ensembleStdWeight: number;

  /** Initial λ and its learning rate η_λ (4e-2). */
  readonly lambdaInit: number;
  readonly lambdaLr: number;
  /**
   * ρ, the share of λ forgotten each epoch: λ ← max(0, (1−ρ)λ + η_λ(…)). 0 (default) is eq. 9's
   * dual ascent, which pays back every past violation at η_λ·(χ − V̂_C^π) an epoch; ρ > 0 is
   * ascent on a dual regularised by −ρλ²/(2η_λ), so λ tracks the violations of the last ~1/ρ epochs.
   */
  readonly lambdaDecay: number;
  /**
   * Epochs at the start in which λ stays at `lambdaInit` (no dual update), so the failures made
   * while the critic first learns do not wind λ up. 0 (default) updates λ from the first epoch.
   */
  readonly lambdaWarmupEpochs: number;

  /** K, candidates per state in the filter (100), and how many the first critic pass examines. */
  readonly filterCandidates: number;
  readonly filterProbe: number;
  /**
   * ε rule: `paper` = (1−γ)(χ − V̂_C^old) (Algorithm 1, line 5); `chi` = χ, a risk level tied
   * to the budget (with `filterThreshold` `q`: reject actions whose discounted failure
   * probability under the filtered behaviour exceeds χ); `fixed` = `epsilonFixed` always.
   * docs/algorithm.md says which is the default and why.
   */
  readonly epsilonRule: EpsilonRule;
  readonly epsilonFixed: number;
  /**
   * What ε bounds: `q` = Q_C(s,a) ≤ ε (the paper's Algorithm 1, line 6); `advantage` = the
   * over-estimated advantage Q_C(s,a) − V_C(s) ≤ ε, V_C(s) the mean over the K candidates (a
   * documented variant: eq. 4 bounds E[Â_C] by this same ε). See docs/algorithm.md.
   */
  readonly filterThreshold: FilterThreshold;
  /** What runs when no candidate passes, and the pool size of `sample-lowest`. */
  readonly filterFallback: FilterFallback;
  readonly filterFallbackPool: number;
  /** Which policy Q_C evaluates (the a′ of its Bellman target). */
  readonly criticTarget: CriticTarget;
  /** Q_C of every (s, a) before training: the sigmoid head's bias is logit of this (0.5 = a zero bias). */
  readonly criticInitFailure: number;
  /**
   * Steps n of the critic's tuples in D_env: target Σ_{k<n} γ^k c_{t+k} + γ^n E Q̂_C(s_{t+n}, a′)
   * (1 = eq. 2's one-step target). The rollout's steps are the filtered behaviour's, so n > 1 suits
   * `criticTarget: 'filtered'`; a failure reaches n steps back per target refresh.
   */
  readonly criticNStep: number;
  /** The critic's Bellman term: `mse` (eq. 2) or `bce` (cross-entropy, same fixed point; safety-critic.ts). */
  readonly criticBellmanLoss: 'mse' | 'bce';
  /**
   * V̂_C^old for ε and λ: the average failures of the last this-many finished episodes (0 = the
   * previous epoch's, Algorithm 1 line 10 as printed). λ uses the larger of the window's and the
   * epoch's, so it rises in any epoch whose failures exceed χ.
   */
  readonly failureWindowEpisodes: number;
  /** E[Â_C] in λ's update (eq. 9). */
  readonly lambdaAdvantage: LambdaAdvantage;
  /** Which critic λ's `behaviour` estimate reads (`LambdaRiskCritic`). */
  readonly lambdaRiskCritic: LambdaRiskCritic;
  /** How Â_R and Â_C are combined for the policy step (eq. 5). */
  readonly advantageMix: AdvantageMix;
  /** How eq. 5's constrained step is solved (`PolicyUpdate`); default `lagrangian`, the paper's. */
  readonly policyUpdate: PolicyUpdate;
  /**
   * Steps where the filter fell back (no candidate passed) enter the policy gradient as samples
   * of π_old (`true`, the paper's implicit choice) or are left out (`false`): the fallback action
   * is not drawn from π_old, so eq. 8's likelihood ratio does not hold for it.
   */
  readonly exhaustedInGradient: boolean;
  /**
   * π's own first candidate a₀ (a plain sample of π_old), where the filter turned it away, also
   * enters the policy gradient, with the cost term alone: Ã = −λ′Â_C(s, a₀), its reward advantage
   * unknown (it never ran) and taken at its expectation, 0. So π learns from what it proposes, not
   * only from what the filter let run. Needs `advantageMix: paper`; no rows while λ = 0. Default false.
   */
  readonly rejectedInGradient: boolean;

  /** TensorFlow.js backend. */
  readonly backend: BackendChoice;

  /**
   * SAC (`algo: 'sac'`, Haarnoja et al. 2018): π uses `policyHidden`, the twin Q critics
   * `criticHidden`, D_env `replayCapacity`. Adam rate of π, Q and the temperature α (3e-4).
   */
  readonly sacLr: number;
  /** Minibatch of each SAC update (256). */
  readonly sacBatch: number;
  /** Polyak rate τ of the Q target networks per update (0.005). */
  readonly sacTau: number;
  /** Gradient updates per env transition (1 in the SAC paper; fractions spread them out). */
  readonly sacUpdatesPerStep: number;
  /** The run's first env steps act uniformly at random, and updates start after them. */
  readonly sacWarmupSteps: number;
  /** Initial entropy temperature α, tuned towards the target entropy −|A| from there. */
  readonly sacInitAlpha: number;
}

export const DEFAULT_CONFIG: LearnerConfig = {
  algo: 'csc',
  env: 'point-nav',
  seed: 0,
  epochs: 60,
  numEnvs: 16,
  stepsPerEpoch: 8000,
  gamma: 0.99,
  gaeLambda: 0.97,
  chi: 0.05,
  policyHidden: [64, 64],
  valueHidden: [64, 64],
  criticHidden: [64, 64],
  activation: 'tanh',
  initLogStd: -0.5,
  maxKl: 0.01,
  lineSearchBeta0: 0.7,
  lineSearchTries: 20,
  lineSearchRequireImprovement: true,
  cgIters: 10,
  cgDamping: 0.1,
  fvpSubsample: 4,
  cpoBacktrackRatio: 0.8,
  cpoBacktrackTries: 15,
  valueLr: 1e-3,
  valueEpochs: 5,
  valueBatch: 256,
  criticLr: 1e-3,
  cqlAlpha: 0.5,
  cqlAlphaLr: 0,
  cqlGapTarget: 0.01,
  criticUpdatesPerEpoch: 400,
  criticBatch: 256,
  criticTargetTau: 0.05,
  criticPolicySamples: 4,
  replayCapacity: 200_000,
  costAdvantageSamples: 8,
  costAdvantageSource: 'critic',
  ensembleSize: 20,
  ensembleStdWeight: 1,
  lambdaInit: 0,
  lambdaLr: 4e-2,
  lambdaDecay: 0,
  lambdaWarmupEpochs: 0,
  filterCandidates: 100,
  filterProbe: 4,
  epsilonRule: 'fixed',
  epsilonFixed: 0.1,
  filterThreshold: 'q',
  filterFallback: 'lowest',
  filterFallbackPool: 10,
  criticTarget: 'filtered',
  criticInitFailure: 0.01,
  criticBellmanLoss: 'bce',
  criticNStep: 8,
  failureWindowEpisodes: 100,
  lambdaAdvantage: 'behaviour',
  lambdaRiskCritic: 'conservative',
  advantageMix: 'paper',
  policyUpdate: 'lagrangian',
  exhaustedInGradient: false,
  rejectedInGradient: false,
  backend: 'auto',
  sacLr: 3e-4,
  sacBatch: 256,
  sacTau: 0.005,
  sacUpdatesPerStep: 1,
  sacWarmupSteps: 1000,
  sacInitAlpha: 0.2,
};

/** A configuration value is impossible; the message names the field, the value and the fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Check = readonly [keyof LearnerConfig, (v: number) => boolean, string];

const NUMERIC_CHECKS: readonly Check[] = [
  ['seed', Number.isInteger, 'an integer'],
  ['epochs', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['numEnvs', (v) => Number.isInteger(v) && v >= 1 && v <= 4096, 'an integer in [1, 4096]'],
  ['stepsPerEpoch', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['gamma', (v) => v > 0 && v < 1, 'in (0, 1)'],
  ['gaeLambda', (v) => v >= 0 && v <= 1, 'in [0, 1]'],
  ['chi', (v) => v >= 0 && v < 1, 'in [0, 1) (a probability of failure per episode)'],
  ['initLogStd', (v) => v > -10 && v < 3, 'in (−10, 3)'],
  ['maxKl', (v) => v > 0, '> 0'],
  ['lineSearchBeta0', (v) => v > 0 && v < 1, 'in (0, 1)'],
  ['lineSearchTries', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['cgIters', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['cgDamping', (v) => v >= 0, '≥ 0'],
  ['fvpSubsample', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['cpoBacktrackRatio', (v) => v > 0 && v < 1, 'in (0, 1)'],
  ['cpoBacktrackTries', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['valueLr', (v) => v > 0, '> 0'],
  ['valueEpochs', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'],
  ['valueBatch', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['criticLr', (v) => v > 0, '> 0'],
  ['cqlAlpha', (v) => v >= 0, '≥ 0'],
  ['cqlAlphaLr', (v) => v >= 0, '≥ 0 (0 = α fixed)'],
  ['cqlGapTarget', (v) => v > -1 && v < 1, 'in (−1, 1) (a gap between two failure probabilities)'],
  ['criticUpdatesPerEpoch', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'],
  ['criticNStep', (v) => Number.isInteger(v) && v >= 1 && v <= 1000, 'an integer in [1, 1000]'],
  ['criticBatch', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['criticTargetTau', (v) => v > 0 && v <= 1, 'in (0, 1]'],
  ['criticPolicySamples', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['replayCapacity', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['costAdvantageSamples', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['ensembleSize', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['ensembleStdWeight', (v) => v >= 0, '≥ 0'],
  ['lambdaInit', (v) => v >= 0, '≥ 0'],
  ['lambdaLr', (v) => v >= 0, '≥ 0'],
  ['lambdaDecay', (v) => v >= 0 && v < 1, 'in [0, 1) (the share of λ forgotten per epoch)'],
  ['lambdaWarmupEpochs', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0 (epochs before λ starts to move)'],
  ['filterCandidates', (v) => Number.isInteger(v) && v >= 1 && v <= 65535, 'an integer in [1, 65535]'],
  ['filterProbe', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['epsilonFixed', Number.isFinite, 'a finite number'],
  ['filterFallbackPool', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['criticInitFailure', (v) => v > 0 && v < 1, 'in (0, 1) (a probability)'],
  ['failureWindowEpisodes', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0 (0 = the previous epoch)'],
  ['sacLr', (v) => v > 0, '> 0'],
  ['sacBatch', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['sacTau', (v) => v > 0 && v <= 1, 'in (0, 1]'],
  ['sacUpdatesPerStep', (v) => v > 0 && v <= 64, 'in (0, 64] (gradient updates per env transition)'],
  ['sacWarmupSteps', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'],
  ['sacInitAlpha', (v) => v > 0, '> 0'],
];

/** Merges `overrides` onto the defaults (or a preset's) and validates every field. Throws {@link ConfigError}. */
export function resolveConfig(overrides: Partial<LearnerConfig> = {}, preset: Preset = 'default'): LearnerConfig {
  if (!(preset in PRESETS)) throw new ConfigError(`preset ${JSON.stringify(preset)}: expected one of ${Object.keys(PRESETS).join(', ')}`);
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_CONFIG)) throw new ConfigError(`unknown config field '${key}'; known fields: ${Object.keys(DEFAULT_CONFIG).join(', ')}`);
  }
  const c: LearnerConfig = { ...DEFAULT_CONFIG, ...PRESETS[preset], ...overrides };
  for (const [key, ok, expected] of NUMERIC_CHECKS) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new ConfigError(`config.${key} = ${JSON.stringify(v)}: expected ${expected}`);
    }
  }
  if (!ALGOS.includes(c.algo)) throw new ConfigError(`config.algo = ${JSON.stringify(c.algo)}: expected one of ${ALGOS.join(', ')}`);
  if (!['paper', 'chi', 'fixed'].includes(c.epsilonRule)) throw new ConfigError(`config.epsilonRule = ${JSON.stringify(c.epsilonRule)}: expected 'paper', 'chi' or 'fixed'`);
  if (c.filterThreshold !== 'q' && c.filterThreshold !== 'advantage') throw new ConfigError(`config.filterThreshold = ${JSON.stringify(c.filterThreshold)}: expected 'q' or 'advantage'`);
  if (!FILTER_FALLBACKS.includes(c.filterFallback)) throw new ConfigError(`config.filterFallback = ${JSON.stringify(c.filterFallback)}: expected one of ${FILTER_FALLBACKS.join(', ')}`);
  if (c.criticTarget !== 'policy' && c.criticTarget !== 'filtered') throw new ConfigError(`config.criticTarget = ${JSON.stringify(c.criticTarget)}: expected 'policy' or 'filtered'`);
  if (c.criticBellmanLoss !== 'mse' && c.criticBellmanLoss !== 'bce') throw new ConfigError(`config.criticBellmanLoss = ${JSON.stringify(c.criticBellmanLoss)}: expected 'mse' or 'bce'`);
  if (!LAMBDA_RISK_CRITICS.includes(c.lambdaRiskCritic)) throw new ConfigError(`config.lambdaRiskCritic = ${JSON.stringify(c.lambdaRiskCritic)}: expected one of ${LAMBDA_RISK_CRITICS.join(', ')}`);
  if (!LAMBDA_ADVANTAGES.includes(c.lambdaAdvantage)) throw new ConfigError(`config.lambdaAdvantage = ${JSON.stringify(c.lambdaAdvantage)}: expected one of ${LAMBDA_ADVANTAGES.join(', ')}`);
  if (!ADVANTAGE_MIXES.includes(c.advantageMix)) throw new ConfigError(`config.advantageMix = ${JSON.stringify(c.advantageMix)}: expected one of ${ADVANTAGE_MIXES.join(', ')}`);
  if (typeof c.exhaustedInGradient !== 'boolean') throw new ConfigError(`config.exhaustedInGradient = ${JSON.stringify(c.exhaustedInGradient)}: expected true or false`);
  if (typeof c.rejectedInGradient !== 'boolean') throw new ConfigError(`config.rejectedInGradient = ${JSON.stringify(c.rejectedInGradient)}: expected true or false`);
  if (!COST_ADVANTAGE_SOURCES.includes(c.costAdvantageSource)) throw new ConfigError(`config.costAdvantageSource = ${JSON.stringify(c.costAdvantageSource)}: expected one of ${COST_ADVANTAGE_SOURCES.join(', ')}`);
  if (c.rejectedInGradient && c.costAdvantageSource !== 'critic') throw new ConfigError(`config.rejectedInGradient = true needs costAdvantageSource 'critic' (got ${JSON.stringify(c.costAdvantageSource)}): a rejected proposal never ran, so it has no observed cost`);
  if (c.rejectedInGradient && c.advantageMix !== 'paper') throw new ConfigError(`config.rejectedInGradient = true needs advantageMix 'paper' (got ${JSON.stringify(c.advantageMix)}): the rejected proposals carry −λ′Â_C unstandardised`);
  if (!POLICY_UPDATES.includes(c.policyUpdate)) throw new ConfigError(`config.policyUpdate = ${JSON.stringify(c.policyUpdate)}: expected one of ${POLICY_UPDATES.join(', ')}`);
  if (c.policyUpdate === 'cpo') {
    if (c.algo !== 'csc') throw new ConfigError(`config.policyUpdate = 'cpo' is an option of algo 'csc' (got ${JSON.stringify(c.algo)}); for CPO without the critic and filter use algo 'cpo'`);
    if (c.costAdvantageSource !== 'observed') throw new ConfigError(`config.policyUpdate = 'cpo' needs costAdvantageSource 'observed' (got ${JSON.stringify(c.costAdvantageSource)}): its constraint is in failures per episode, the units of GAE on the observed failures`);
    if (c.advantageMix !== 'paper') throw new ConfigError(`config.policyUpdate = 'cpo' takes Â_R and Â_C separately, so advantageMix has no effect; leave it 'paper' (got ${JSON.stringify(c.advantageMix)})`);
  }
  if (c.activation !== 'tanh' && c.activation !== 'relu') throw new ConfigError(`config.activation = ${JSON.stringify(c.activation)}: expected 'tanh' or 'relu'`);
  for (const key of ['policyHidden', 'valueHidden', 'criticHidden'] as const) {
    const h = c[key];
    if (!Array.isArray(h) || h.length === 0 || !h.every((x) => Number.isInteger(x) && x > 0)) {
      throw new ConfigError(`config.${key} = ${JSON.stringify(h)}: expected a non-empty list of positive layer sizes, e.g. [64, 64]`);
    }
  }
  if (c.stepsPerEpoch % c.numEnvs !== 0) {
    throw new ConfigError(
      `config.stepsPerEpoch = ${c.stepsPerEpoch} is not a multiple of numEnvs = ${c.numEnvs}; use ${Math.max(1, Math.round(c.stepsPerEpoch / c.numEnvs)) * c.numEnvs}`,
    );
  }
  if (c.filterProbe > c.filterCandidates) throw new ConfigError(`config.filterProbe = ${c.filterProbe} exceeds filterCandidates = ${c.filterCandidates}`);
  return c;
}
