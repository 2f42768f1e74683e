/** `csc eval`: run a checkpoint's policy, with or without the safety filter, and report. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDeployedPolicy } from '../algos/load.ts';
import { makeVecEnv } from '../envs/make.ts';
import { BACKEND_CHOICES, initBackend } from '../nn/backend.ts';
import { runEpisodes } from '../runs/episodes.ts';
import { latestCheckpoint } from '../runs/run-folder.ts';
import { backendFlag, listFlag, numberFlag, parseFlags, UsageError } from './args.ts';

export const EVAL_USAGE = `Usage: csc eval --checkpoint PATH [options]

Runs a trained policy for a number of episodes and prints a JSON summary: average reward,
average failures per episode, and the safety filter's acceptance and exhaustions.

Options:
  --checkpoint PATH   a checkpoint directory, or a run folder (its latest checkpoint)
  --episodes N        episodes to run (default 20)
  --no-filter         act with the policy alone (no Q_C filter)
  --epsilon X         filter threshold (default: ε of the checkpoint's last epoch)
  --deterministic     first candidate is the policy's mean action
  --on-exhausted WHAT when no candidate passes the filter: hold (default: the hold action, zero
                      clipped into the action bounds — stop, for velocity commands) or fallback
                      (the training config's fallback candidate, e.g. the lowest-Q_C one)
  --num-envs N        envs in parallel (default 8)
  --seed N            seed of the env resets and action sampling (default 12345)
  --backend NAME      ${BACKEND_CHOICES.join(' | ')}
  --sim-workers N, --sim URLS   as for csc train
  -h, --help
`;

const FLAGS = {
  checkpoint: { type: 'string' },
  episodes: { type: 'string' },
  'no-filter': { type: 'boolean' },
  epsilon: { type: 'string' },
  deterministic: { type: 'boolean' },
  'on-exhausted': { type: 'string' },
  'num-envs': { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  'sim-workers': { type: 'string' },
  sim: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A checkpoint directory, or a run folder's latest checkpoint. */
export async function resolveCheckpointDir(path: string): Promise<string> {
  const isCheckpoint = await stat(join(path, 'checkpoint.json')).then(
    () => true,
    () => false,
  );
  if (isCheckpoint) return path;
  const latest = await latestCheckpoint(path);
  if (latest === undefined) throw new UsageError(`--checkpoint ${path}: neither a checkpoint directory (no checkpoint.json) nor a run folder with checkpoints`);
  return latest.dir;
}

export async function evalCommand(argv: readonly string[]): Promise<number> {
  const { values: f } = parseFlags(argv, FLAGS);
  if (f.help) {
    process.stdout.write(EVAL_USAGE);
    return 0;
  }
  if (f.checkpoint === undefined) throw new UsageError('--checkpoint is required');
  const episodes = numberFlag(f.episodes, '--episodes', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1') ?? 20;
  const numEnvs = numberFlag(f['num-envs'], '--num-envs', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1') ?? 8;
  const seed = numberFlag(f.seed, '--seed', Number.isInteger, 'an integer') ?? 12345;
  const epsilon = numberFlag(f.epsilon, '--epsilon');
  const onExhausted = f['on-exhausted'] ?? 'hold';
  if (onExhausted !== 'hold' && onExhausted !== 'fallback') throw new UsageError(`--on-exhausted ${onExhausted}: expected hold or fallback`);
  await initBackend(backendFlag(f.backend) ?? 'auto');
  const dir = await resolveCheckpointDir(f.checkpoint);
  const policy = await loadDeployedPolicy(dir, { seed });
  const env = await makeVecEnv(policy.spec.id, numEnvs, {
    simWorkers: numberFlag(f['sim-workers'], '--sim-workers', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'),
    simEndpoints: listFlag(f.sim),
  });
  try {
    const filter = f['no-filter'] !== true;
    const run = await runEpisodes({ policy, env, episodes, seed, act: { filter, epsilon, deterministic: f.deterministic === true, onExhausted } });
    const summary = {
      checkpoint: dir,
      env: policy.spec.id,
      algo: policy.algo,
      filter: filter && policy.hasCritic,
      epsilon: filter && policy.hasCritic ? (epsilon ?? policy.epsilon) : null,
      episodes: run.episodes,
      steps: run.steps,
      avgReward: run.returnSum / run.episodes,
      avgFailures: run.failures / run.episodes,
      filterExhaustionRate: filter && policy.hasCritic ? run.exhausted / run.steps : null,
      onExhausted: filter && policy.hasCritic ? onExhausted : null,
      meanQc: filter && policy.hasCritic ? run.qcSum / run.steps : null,
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  } finally {
    policy.dispose();
    await env.close();
  }
}
