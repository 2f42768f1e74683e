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
  /** Mean predicted Q_C of executed actions, and the observed per-step failure rate, for the over-estimate. */
  readonly criticPredictedFailure: number;
  readonly observedFailureRate: number;
  /** Episodes dropped by faults (a sim server restart) in this epoch. */
  readonly droppedEpisodes: number;
  /** Wall-clock seconds of this epoch, and env steps per second of wall clock. */
  readonly wallS: number;
  readonly stepsPerS: number;
}

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
];
