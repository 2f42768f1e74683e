/** `csc record`: roll out a run's checkpointed policy and write its transitions as seed data. */
import { loadDeployedPolicy } from '../algos/load.ts';
import { makeVecEnv } from '../envs/make.ts';
import { BACKEND_CHOICES, initBackend } from '../nn/backend.ts';
import { runEpisodes } from '../runs/episodes.ts';
import { SeedDataError, createSeedData } from '../runs/seed-data.ts';
import { backendFlag, listFlag, numberFlag, parseFlags, UsageError } from './args.ts';
import { resolveCheckpointDir } from './eval.ts';
import { parseEnvArgs } from './train.ts';

export const RECORD_USAGE = `Usage: csc record --run PATH --out FILE [options]

Runs a trained policy for a number of episodes, acting exactly as csc eval does (for CSC through
its safety filter), and writes every transition with its labels (reward, failure C(s'),
terminated, truncated) to a seed-data file (docs/seed-data.md) for csc train --seed-data.
Prints a JSON summary.

Options:
  --run PATH          a run folder (its latest checkpoint) or a checkpoint directory
  --out FILE          the seed-data file to write: .jsonl, or .jsonl.gz (gzip-compressed)
  --episodes N        episodes to run (default 20); the envs' unfinished episodes are
                      recorded up to the step at which the N-th one ends
  --env ID            roll out on this env instead of the checkpoint's (same observation and
                      action sizes); the file's header names the env used
  --env-arg KEY=VALUE keyword argument for a Python env, VALUE as JSON, repeatable
  --no-filter         act with the policy alone (no Q_C filter)
  --epsilon X         filter threshold (default: ε of the checkpoint's last epoch)
  --deterministic     first candidate is the policy's mean action
  --num-envs N        envs in parallel (default 8)
  --seed N            seed of the env resets and action sampling (default 12345)
  --backend NAME      ${BACKEND_CHOICES.join(' | ')}
  --sim-workers N, --sim URLS   as for csc train
  -h, --help
`;

const FLAGS = {
  run: { type: 'string' },
  out: { type: 'string' },
  episodes: { type: 'string' },
  env: { type: 'string' },
  'env-arg': { type: 'string', multiple: true },
  'no-filter': { type: 'boolean' },
  epsilon: { type: 'string' },
  deterministic: { type: 'boolean' },
  'num-envs': { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  'sim-workers': { type: 'string' },
  sim: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function recordCommand(argv: readonly string[]): Promise<number> {
  const { values: f } = parseFlags(argv, FLAGS);
  if (f.help) {
    process.stdout.write(RECORD_USAGE);
    return 0;
  }
  if (f.run === undefined) throw new UsageError('--run is required (a run folder or checkpoint directory)');
  if (f.out === undefined) throw new UsageError('--out is required (the seed-data file to write, e.g. seed.jsonl)');
  const episodes = numberFlag(f.episodes, '--episodes', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1') ?? 20;
  const numEnvs = numberFlag(f['num-envs'], '--num-envs', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1') ?? 8;
  const seed = numberFlag(f.seed, '--seed', Number.isInteger, 'an integer') ?? 12345;
  const epsilon = numberFlag(f.epsilon, '--epsilon');
  await initBackend(backendFlag(f.backend) ?? 'auto');
  const dir = await resolveCheckpointDir(f.run);
  const policy = await loadDeployedPolicy(dir, { seed });
  try {
    const envId = f.env ?? policy.spec.id;
    const env = await makeVecEnv(envId, numEnvs, {
      simWorkers: numberFlag(f['sim-workers'], '--sim-workers', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'),
      simEndpoints: listFlag(f.sim),
      envArgs: parseEnvArgs(f['env-arg']),
    });
    try {
      const { spec } = env;
      if (spec.obsSize !== policy.spec.obsSize || spec.actSize !== policy.spec.actSize) {
        throw new SeedDataError(`--env ${envId} has obs ${spec.obsSize} / act ${spec.actSize}, the checkpoint's policy (env ${policy.spec.id}) obs ${policy.spec.obsSize} / act ${policy.spec.actSize}`);
      }
      const filter = f['no-filter'] !== true;
      const act = { filter, epsilon, deterministic: f.deterministic === true };
      const sink = await createSeedData(f.out, {
        env: spec.id,
        obsSize: spec.obsSize,
        actSize: spec.actSize,
        source: { checkpoint: dir, algo: policy.algo, filter: filter && policy.hasCritic, deterministic: act.deterministic, episodes, seed, recorded: new Date().toISOString() },
      });
      let stats;
      try {
        stats = await runEpisodes({ policy, env, episodes, seed, act, onTransition: (t) => sink.write(t) });
      } catch (e) {
        await sink.abort();
        throw e;
      }
      const records = await sink.close();
      const summary = {
        out: f.out,
        env: spec.id,
        checkpoint: dir,
        algo: policy.algo,
        filter: filter && policy.hasCritic,
        records,
        episodes: stats.episodes,
        failures: stats.failures,
        avgReward: stats.returnSum / stats.episodes,
      };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return 0;
    } finally {
      await env.close();
    }
  } finally {
    policy.dispose();
  }
}
