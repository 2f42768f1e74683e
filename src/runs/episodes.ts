/**
 * Acting with a deployed policy for a number of episodes, as `csc eval` and `csc record` do: the
 * decision is the policy's own `act` (for CSC the training filter), so what is evaluated or
 * recorded is what the checkpoint does.
 */
import type { ActOptions, DeployedPolicy } from '../algos/deploy.ts';
import type { VecEnv } from '../envs/env.ts';
import type { SeedTransition } from './seed-data.ts';

/** What a rollout of `runEpisodes` saw. */
export interface EpisodeStats {
  /** Episodes that ended (the last vector step may end more than were asked for). */
  readonly episodes: number;
  /** Env steps taken, dropped ones included. */
  readonly steps: number;
  readonly returnSum: number;
  readonly failures: number;
  /** Steps where the filter found no candidate under ε. */
  readonly exhausted: number;
  /** Sum of Q_C over the steps where the policy has a critic. */
  readonly qcSum: number;
}

/** Options of {@link runEpisodes}. */
export interface RunEpisodesOptions {
  readonly policy: DeployedPolicy;
  readonly env: VecEnv;
  /** Stop after the vector step at which this many episodes have ended. */
  readonly episodes: number;
  /** Seed of the env resets. */
  readonly seed: number;
  readonly act: ActOptions;
  /** Called with every valid (not dropped) transition, in step order then env order. */
  readonly onTransition?: (t: SeedTransition) => Promise<void>;
}

/** Runs `policy` in `env` until `episodes` episodes have ended. */
export async function runEpisodes(o: RunEpisodesOptions): Promise<EpisodeStats> {
  const { policy, env } = o;
  const N = env.numEnvs;
  const { obsSize: D, actSize: A } = env.spec;
  let obs = await env.reset(o.seed);
  const ret = new Float64Array(N);
  let episodes = 0;
  let failures = 0;
  let returnSum = 0;
  let steps = 0;
  let exhausted = 0;
  let qcSum = 0;
  while (episodes < o.episodes) {
    const d = policy.act(obs, N, o.act);
    const r = await env.step(d.actions);
    for (let e = 0; e < N; e++) {
      steps++;
      exhausted += d.exhausted[e]!;
      if (Number.isFinite(d.qc[e])) qcSum += d.qc[e]!;
      if (r.dropped[e]) {
        ret[e] = 0;
        continue;
      }
      if (o.onTransition !== undefined) {
        await o.onTransition({
          obs: obs.slice(e * D, (e + 1) * D),
          action: d.actions.slice(e * A, (e + 1) * A),
          reward: r.reward[e]!,
          failure: r.failure[e] === 1 ? 1 : 0,
          terminated: r.terminated[e] === 1,
          truncated: r.truncated[e] === 1,
          nextObs: r.nextObs.slice(e * D, (e + 1) * D),
        });
      }
      ret[e]! += r.reward[e]!;
      if (r.terminated[e] || r.truncated[e]) {
        episodes++;
        failures += r.failure[e]!;
        returnSum += ret[e]!;
        ret[e] = 0;
      }
    }
    obs = r.obs;
  }
  return { episodes, steps, returnSum, failures, exhausted, qcSum };
}
