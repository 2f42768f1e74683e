/**
 * What every run logs, once per epoch (DESIGN.md "What every run logs"). One record is one line of
 * `metrics.jsonl` and one row of `metrics.csv` in the run folder; plots read these files.
 */
export interface EpochMetrics {
  /** 0-based epoch index. */
  readonly epoch: number;
  /** Episodes finished in this epoch, and since the start of the run. */
  readonly episodes: number;
  readonly totalEpisodes: number;
  /** Env steps taken in this epoch, and since the start of the run. */
  readonly envSteps: number;
  readonly totalEnvSteps: number;
  /** Mean undiscounted episode return over the episodes finished in this epoch. */
  readonly avgReward: number;
  /** Mean failures per episode in this epoch: V̂_C, the paper's "average episodic failures". */
  readonly avgFailures: number;
  /** Failures since the start of the run (the paper's "cumulative failures"). */
  readonly cumulativeFailures: number;
  /** Lagrange multiplier λ after this epoch's update (0 for learners without one; for CPO, ν* of its step). */
  readonly lambda: number;
  /** Filter threshold ε used while collecting this epoch (NaN when no filter ran). */
  readonly epsilon: number;
  /** Fraction of executed actions whose Q_C passed ε (NaN when no filter ran). */
  readonly filterAcceptRate: number;
  /** Steps at which no candidate passed and the lowest-Q_C one was executed. */
  readonly filterExhaustions: number;
  /** Mean KL(π_old ‖ π_new) of the accepted policy step (0 when the step was rejected). */
  readonly kl: number;
  /** Line-search outcome: tries used (1-based) for an accepted step, or 0 when all L tries failed. */
  readonly lineSearchTries: number;
  readonly lineSearchAccepted: boolean;
  /** Mean safety-critic loss of this epoch's updates (NaN without a critic). */
  readonly criticLoss: number;
  /**
   * The critic's calibration on this epoch's executed actions whose outcome the rollout resolved
   * (the episode ended inside it, or ≥ 460 steps followed, γ^460 < 0.01): mean predicted Q_C
   * (the critic that acted) and mean observed discounted failure Σ_k γ^k c_{t+k} of the same
   * transitions. For CPO, V_C(s) against the same observation.
   */
  readonly criticPredictedFailure: number;
  readonly observedFailureRate: number;
  /** Episodes dropped by faults (a sim server restart) in this epoch. */
  readonly droppedEpisodes: number;
  /** Wall-clock seconds of this epoch, and env steps per second of wall clock. */
  readonly wallS: number;
  readonly stepsPerS: number;
  // Filter and critic diagnostics (NaN or absent for learners without a filter, and in run
  // folders written before they existed).
  /** Fraction of executed steps at which no candidate passed (the fallback ran). */
  readonly filterExhaustedFraction?: number;
  /** Fraction of executed steps whose first candidate (a plain sample of π) passed: the filter did not intervene. */
  readonly filterFirstAcceptRate?: number;
  /** Mean over executed steps of the RMS over action dimensions of |a_exec − μ(s)|/σ. */
  readonly actionDeviation?: number;
  /** Σ_bins (count/total)·|predicted − observed| over `calibration`'s bins. */
  readonly calibrationError?: number;
  /** λ's estimate of the unfiltered policy's failures per episode, V̂_C^π (eq. 4's left side). */
  readonly policyRisk?: number;
  /** V̂_C^old as ε and λ used it: the average failures over the failure window. */
  readonly avgFailuresWindow?: number;
  /** Standard deviation of Â_R over the policy gradient's samples (eq. 8), before standardising. */
  readonly rewardAdvantageSpread?: number;
  /** Standard deviation of λ′Â_C over the same samples: against `rewardAdvantageSpread`, how much of the step the cost term steers. */
  readonly costTermSpread?: number;
  /**
   * E_{a∼π}Q_C − E_{a∼D}Q_C over the epoch's critic updates: the gap CQL's term opens between π's
   * samples and the actions stored in D_env (NaN without a single CQL critic, or with α fixed at 0).
   */
  readonly criticGap?: number;
  /** CQL's α at the end of the epoch: fixed unless `cqlAlphaLr` > 0 (NaN without a single CQL critic). */
  readonly cqlAlpha?: number;
  /**
   * Which case of CPO's local problem this epoch's step fell into (cpo-step.ts, numbered as the
   * reference's `optim_case`): 0 recovery (no point of the trust region is feasible), 1 infeasible
   * but reachable, 2 feasible with the constraint possibly binding, 3 the whole trust region
   * feasible, 4 no cost gradient. NaN for learners that do not solve it, or an epoch without rows.
   */
  readonly cpoCase?: number;
  /** The reliability curve behind `calibrationError` (metrics.jsonl only, not the CSV). */
  readonly calibration?: readonly CalibrationBin[];
}

/** One bin of the reliability curve: executed actions with lo ≤ Q_C < hi. */
export interface CalibrationBin {
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  /** Mean Q_C and mean observed discounted failure of the bin (NaN when empty). */
  readonly predicted: number;
  readonly observed: number;
}

/** The scalar metrics that older run folders may lack (read back as NaN). */
export const OPTIONAL_METRIC_FIELDS: readonly (keyof EpochMetrics)[] = ['filterExhaustedFraction', 'filterFirstAcceptRate', 'actionDeviation', 'calibrationError', 'policyRisk', 'avgFailuresWindow', 'rewardAdvantageSpread', 'costTermSpread', 'criticGap', 'cqlAlpha', 'cpoCase'];

/** Column order of `metrics.csv`. */
export const METRIC_FIELDS: readonly (keyof EpochMetrics)[] = [
  'epoch',
  'episodes',
  'totalEpisodes',
  'envSteps',
  'totalEnvSteps',
  'avgReward',
  'avgFailures',
  'cumulativeFailures',
  'lambda',
  'epsilon',
  'filterAcceptRate',
  'filterExhaustions',
  'kl',
  'lineSearchTries',
  'lineSearchAccepted',
  'criticLoss',
  'criticPredictedFailure',
  'observedFailureRate',
  'droppedEpisodes',
  'wallS',
  'stepsPerS',
  ...OPTIONAL_METRIC_FIELDS,
];
