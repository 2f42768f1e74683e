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
export type EpsilonRule = 'paper' | 'fixed';

/** Quantity the filter compares with ε. */
export type FilterThreshold = 'q' | 'advantage';

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
  /** α of CQL(ζ) (0.5). 0 gives plain Bellman-error critics. */
  readonly cqlAlpha: number;
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
  /** Critics in the Q-ensembles baseline (20) and the aggregation's weight on their spread. */
  readonly ensembleSize: number;
  readonly ensembleStdWeight: number;

  /** Initial λ and its learning rate η_λ (4e-2). */
  readonly lambdaInit: number;
  readonly lambdaLr: number;

  /** K, candidates per state in the filter (100), and how many the first critic pass examines. */
  readonly filterCandidates: number;
  readonly filterProbe: number;
  /**
   * ε rule: `paper` = (1−γ)(χ − V̂_C^old) (Algorithm 1, line 5); `fixed` = `epsilonFixed` always
   * (a documented variant for comparison, never the default).
   */
  readonly epsilonRule: EpsilonRule;
  readonly epsilonFixed: number;
  /**
   * What ε bounds: `q` = Q_C(s,a) ≤ ε (the paper's Algorithm 1, line 6); `advantage` = the
   * over-estimated advantage Q_C(s,a) − V_C(s) ≤ ε, V_C(s) the mean over the K candidates (a
   * documented variant: eq. 4 bounds E[Â_C] by this same ε). See docs/algorithm.md.
   */
  readonly filterThreshold: FilterThreshold;

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
  criticLr: 2e-4,
  cqlAlpha: 0.5,
  criticUpdatesPerEpoch: 100,
  criticBatch: 256,
  criticTargetTau: 0.005,
  criticPolicySamples: 4,
  replayCapacity: 200_000,
  costAdvantageSamples: 8,
  ensembleSize: 20,
  ensembleStdWeight: 1,
  lambdaInit: 0,
  lambdaLr: 4e-2,
  filterCandidates: 100,
  filterProbe: 4,
  epsilonRule: 'paper',
  epsilonFixed: 0.05,
  filterThreshold: 'q',
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
  ['criticUpdatesPerEpoch', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'],
  ['criticBatch', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['criticTargetTau', (v) => v > 0 && v <= 1, 'in (0, 1]'],
  ['criticPolicySamples', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['replayCapacity', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['costAdvantageSamples', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['ensembleSize', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['ensembleStdWeight', (v) => v >= 0, '≥ 0'],
  ['lambdaInit', (v) => v >= 0, '≥ 0'],
  ['lambdaLr', (v) => v >= 0, '≥ 0'],
  ['filterCandidates', (v) => Number.isInteger(v) && v >= 1 && v <= 65535, 'an integer in [1, 65535]'],
  ['filterProbe', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['epsilonFixed', Number.isFinite, 'a finite number'],
  ['sacLr', (v) => v > 0, '> 0'],
  ['sacBatch', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  ['sacTau', (v) => v > 0 && v <= 1, 'in (0, 1]'],
  ['sacUpdatesPerStep', (v) => v > 0 && v <= 64, 'in (0, 64] (gradient updates per env transition)'],
  ['sacWarmupSteps', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'],
  ['sacInitAlpha', (v) => v > 0, '> 0'],
];

/** Merges `overrides` onto the defaults and validates every field. Throws {@link ConfigError}. */
export function resolveConfig(overrides: Partial<LearnerConfig> = {}): LearnerConfig {
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_CONFIG)) throw new ConfigError(`unknown config field '${key}'; known fields: ${Object.keys(DEFAULT_CONFIG).join(', ')}`);
  }
  const c: LearnerConfig = { ...DEFAULT_CONFIG, ...overrides };
  for (const [key, ok, expected] of NUMERIC_CHECKS) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new ConfigError(`config.${key} = ${JSON.stringify(v)}: expected ${expected}`);
    }
  }
  if (!ALGOS.includes(c.algo)) throw new ConfigError(`config.algo = ${JSON.stringify(c.algo)}: expected one of ${ALGOS.join(', ')}`);
  if (c.epsilonRule !== 'paper' && c.epsilonRule !== 'fixed') throw new ConfigError(`config.epsilonRule = ${JSON.stringify(c.epsilonRule)}: expected 'paper' or 'fixed'`);
  if (c.filterThreshold !== 'q' && c.filterThreshold !== 'advantage') throw new ConfigError(`config.filterThreshold = ${JSON.stringify(c.filterThreshold)}: expected 'q' or 'advantage'`);
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
