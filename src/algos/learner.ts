/** What the training loop needs of a learner, whatever the algorithm. */
import type { ReplayBuffer } from '../core/replay.ts';
import type { EpochMetrics } from '../runs/metrics.ts';
import type { LearnerConfig } from './config.ts';
import type { DeployedPolicy } from './deploy.ts';

export interface Learner {
  readonly config: LearnerConfig;
  /** Epochs completed so far (the next epoch's index). */
  readonly epoch: number;
  /** D_env, which `--seed-data` seeds before training (Appendix A.10); absent or null when the learner has none. */
  readonly replay?: ReplayBuffer | null;
  /** Wall ms per phase of the last epoch (rollout.policy, rollout.env, critic, valueFit, …): the profile bench/learner.ts reports. */
  readonly lastPhaseMs: Readonly<Record<string, number>>;
  /** Resets the envs (first epoch) — call once before {@link runEpoch}. */
  start(): Promise<void>;
  /** Collects one epoch of experience and updates the networks (one pass of Algorithm 1's outer loop). */
  runEpoch(): Promise<EpochMetrics>;
  /** Writes a checkpoint into `dir`. */
  save(dir: string): Promise<void>;
  /** Restores networks and learner state from a checkpoint made by {@link save}. */
  restore(dir: string): Promise<void>;
  /** Copies the policy weights of another run's checkpoint (same observation/action sizes). */
  initPolicyFrom(dir: string): Promise<void>;
  /** The current policy (and critic) for acting outside training. */
  deployed(): DeployedPolicy;
  /** Frees tensors; does not close the env. */
  dispose(): void;
}
