/**
 * Laikago walking (issue 11, item 3): how fast and how safely checkpoints walk on `laikago-walk`,
 * through the real sim. For each checkpoint, seeded episodes acting two or three ways: the policy's
 * mean with no filter; sampled from π under the checkpoint's Q_C filter (ε of its last epoch, the
 * hold action when no candidate passes, as `csc eval` does by default); and, for a checkpoint with
 * a critic, the same with the configured fallback where no candidate passes, as it trained
 * (`csc eval --on-exhausted fallback`). Reports episode length, failures per
 * episode, return and the base's forward speed (observation `vel_forward_m_per_s`, robot frame,
 * averaged over every step), and writes bench/results/laikago-walk[-TAG].json. With `--run DIR`,
 * the JSON also holds that training run's command and its per-epoch reward, failures and λ, with
 * the first and last epochs summarised against χ.
 *
 *   node --import tsx bench/laikago-walk.ts [--episodes 16] [--num-envs 8] [--seed 2024] [--tag T]
 *                                           [--run RUN_DIR] [--env-arg K=V] CHECKPOINT_OR_RUN [...]
 *
 * The shipped standing controller (checkpoints/laikago-stand) is the natural first argument: the
 * speed a walker starts from.
 * Each checkpoint runs on the env its run was trained with (the `--env-arg`s in its config.json,
 * e.g. a gait clock), or with `--env-arg KEY=VALUE` for all of them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ActOptions } from '../src/algos/deploy.ts';
import { loadDeployedPolicy } from '../src/algos/load.ts';
import { resolveCheckpointDir } from '../src/cli/eval.ts';
import { parseEnvArgs } from '../src/cli/train.ts';
import type { EnvArgs } from '../src/bridge/supervisor.ts';
import type { VecEnv } from '../src/envs/env.ts';
import { makeVecEnv } from '../src/envs/make.ts';
import { initBackend } from '../src/nn/backend.ts';
import { runEpisodes } from '../src/runs/episodes.ts';
import type { EpochMetrics } from '../src/runs/metrics.ts';
import { readConfig, readMetrics, readRunEnvArgs } from '../src/runs/run-folder.ts';
import { gitCommit, machineInfo } from './provenance.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    episodes: { type: 'string', default: '16' },
    'num-envs': { type: 'string', default: '8' },
    seed: { type: 'string', default: '2024' },
    tag: { type: 'string', default: '' },
    run: { type: 'string' },
    'env-arg': { type: 'string', multiple: true },
  },
});
if (positionals.length === 0) throw new Error('bench/laikago-walk.ts: name at least one checkpoint or run folder');
const episodes = Number(values.episodes);
const numEnvs = Number(values['num-envs']);
const seed = Number(values.seed);
/** Index of `vel_forward_m_per_s` in the laikago observation (docs/envs.md). */
const VEL_FORWARD = 8;

interface Row {
  readonly acting: 'mean, no filter' | 'sampled, filtered' | 'sampled, filtered, fallback' | 'sampled, no filter';
  readonly episodes: number;
  readonly stepsPerEpisode: number;
  readonly failuresPerEpisode: number;
  readonly returnPerEpisode: number;
  readonly forwardSpeedMPerS: number;
  readonly filterExhaustionRate: number | null;
}

/** Mean of `f` over epochs `rows` (NaN when empty). */
const meanOf = (rows: readonly EpochMetrics[], f: (m: EpochMetrics) => number): number => rows.reduce((a, m) => a + f(m), 0) / rows.length;

/** The training run's command, totals, first and last epochs against χ, and the per-epoch series. */
async function trainingSummary(dir: string): Promise<Record<string, unknown>> {
  const config = (await readConfig(dir)) as { command?: string; commit?: string; chi: number; initPolicy: string | null };
  const m = await readMetrics(dir);
  const last = m.at(-1);
  if (last === undefined) throw new Error(`${dir}: no epochs in metrics.jsonl`);
  const span = (rows: readonly EpochMetrics[]): Record<string, number> => ({
    epochs: rows.length,
    avgReward: meanOf(rows, (r) => r.avgReward),
    // failures per episode over the span's episodes, not a mean of per-epoch ratios
    failuresPerEpisode: rows.reduce((a, r) => a + r.avgFailures * r.episodes, 0) / rows.reduce((a, r) => a + r.episodes, 0),
  });
  return {
    dir,
    command: config.command ?? null,
    commit: config.commit ?? null,
    chi: config.chi,
    initPolicy: config.initPolicy,
    epochs: m.length,
    envSteps: last.totalEnvSteps,
    episodes: last.totalEpisodes,
    cumulativeFailures: last.cumulativeFailures,
    first10: span(m.slice(0, 10)),
    last20: span(m.slice(-20)),
    epochsAtOrBelowChi: m.filter((r) => r.avgFailures <= config.chi).length,
    finalLambda: last.lambda,
    series: m.map((r) => ({ epoch: r.epoch, episodes: r.episodes, avgReward: r.avgReward, avgFailures: r.avgFailures, lambda: r.lambda })),
  };
}

const training = values.run === undefined ? null : await trainingSummary(values.run);
await initBackend('auto');
// one env per set of --env-arg values the checkpoints' runs were trained with (e.g. a gait clock)
const envs = new Map<string, VecEnv>();
const results: { checkpoint: string; envArgs: EnvArgs; rows: Row[] }[] = [];
try {
  for (const arg of positionals) {
    const dir = await resolveCheckpointDir(arg);
    const envArgs = parseEnvArgs(values['env-arg']) ?? (await readRunEnvArgs(dirname(dirname(dir)))) ?? {};
    const key = JSON.stringify(envArgs);
    const env = envs.get(key) ?? (await makeVecEnv('laikago-walk', numEnvs, Object.keys(envArgs).length > 0 ? { envArgs } : {}));
    envs.set(key, env);
    const policy = await loadDeployedPolicy(dir, { seed });
    const rows: Row[] = [];
    try {
      const modes: [Row['acting'], ActOptions][] = [
        ['mean, no filter', { filter: false, deterministic: true }],
        // A checkpoint without a critic (TRPO, CPO) samples unfiltered; the label says so.
        [policy.hasCritic ? 'sampled, filtered' : 'sampled, no filter', { filter: true, onExhausted: 'hold' }],
      ];
      // With a critic, also as it trained: where no candidate passes, the configured fallback
      // (a candidate of π) runs instead of the hold, which stops a walking gait mid-stride.
      if (policy.hasCritic) modes.push(['sampled, filtered, fallback', { filter: true, onExhausted: 'fallback' }]);
      for (const [acting, act] of modes) {
        let speedSum = 0;
        let speedN = 0;
        const run = await runEpisodes({
          policy,
          env,
          episodes,
          seed,
          act,
          onTransition: (t) => {
            speedSum += t.nextObs[VEL_FORWARD]!;
            speedN++;
            return Promise.resolve();
          },
        });
        const filtered = act.filter === true && policy.hasCritic;
        const row: Row = {
          acting,
          episodes: run.episodes,
          stepsPerEpisode: run.steps / run.episodes,
          failuresPerEpisode: run.failures / run.episodes,
          returnPerEpisode: run.returnSum / run.episodes,
          forwardSpeedMPerS: speedSum / speedN,
          filterExhaustionRate: filtered ? run.exhausted / run.steps : null,
        };
        rows.push(row);
        console.log(`${dir}  ${acting}: ${JSON.stringify(row)}`);
      }
    } finally {
      policy.dispose();
    }
    results.push({ checkpoint: dir, envArgs, rows });
  }
} finally {
  for (const env of envs.values()) await env.close();
}
const name = `laikago-walk${values.tag === '' ? '' : `-${values.tag}`}`;
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', `${name}.json`),
  `${JSON.stringify({ bench: 'laikago-walk', commit: gitCommit(), date: new Date().toISOString(), machine: machineInfo(), episodes, numEnvs, seed, results, training }, null, 2)}\n`,
);
console.log(`wrote bench/results/${name}.json`);
