/**
 * Laikago walking (issue 11, item 3): how fast and how safely checkpoints walk on `laikago-walk`,
 * through the real sim. For each checkpoint, seeded episodes acting two ways: the policy's mean
 * with no filter, and sampled from π under the checkpoint's Q_C filter (ε of its last epoch, the
 * hold action when no candidate passes, as `csc eval` does). Reports episode length, failures per
 * episode, return and the base's forward speed (observation `vel_forward_m_per_s`, robot frame,
 * averaged over every step), and writes bench/results/laikago-walk[-TAG].json.
 *
 *   node --import tsx bench/laikago-walk.ts [--episodes 16] [--num-envs 8] [--seed 2024] [--tag T]
 *                                           CHECKPOINT_OR_RUN [...]
 *
 * The shipped standing controller (checkpoints/laikago-stand) is the natural first argument: the
 * speed a walker starts from.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ActOptions } from '../src/algos/deploy.ts';
import { loadDeployedPolicy } from '../src/algos/load.ts';
import { resolveCheckpointDir } from '../src/cli/eval.ts';
import { makeVecEnv } from '../src/envs/make.ts';
import { initBackend } from '../src/nn/backend.ts';
import { runEpisodes } from '../src/runs/episodes.ts';
import { gitCommit, machineInfo } from './provenance.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    episodes: { type: 'string', default: '16' },
    'num-envs': { type: 'string', default: '8' },
    seed: { type: 'string', default: '2024' },
    tag: { type: 'string', default: '' },
  },
});
if (positionals.length === 0) throw new Error('bench/laikago-walk.ts: name at least one checkpoint or run folder');
const episodes = Number(values.episodes);
const numEnvs = Number(values['num-envs']);
const seed = Number(values.seed);
/** Index of `vel_forward_m_per_s` in the laikago observation (docs/envs.md). */
const VEL_FORWARD = 8;

interface Row {
  readonly acting: 'mean, no filter' | 'sampled, filtered';
  readonly episodes: number;
  readonly stepsPerEpisode: number;
  readonly failuresPerEpisode: number;
  readonly returnPerEpisode: number;
  readonly forwardSpeedMPerS: number;
  readonly filterExhaustionRate: number | null;
}

await initBackend('auto');
const env = await makeVecEnv('laikago-walk', numEnvs);
const results: { checkpoint: string; rows: Row[] }[] = [];
try {
  for (const arg of positionals) {
    const dir = await resolveCheckpointDir(arg);
    const policy = await loadDeployedPolicy(dir, { seed });
    const rows: Row[] = [];
    try {
      const modes: [Row['acting'], ActOptions][] = [
        ['mean, no filter', { filter: false, deterministic: true }],
        ['sampled, filtered', { filter: true, onExhausted: 'hold' }],
      ];
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
    results.push({ checkpoint: dir, rows });
  }
} finally {
  await env.close();
}
const name = `laikago-walk${values.tag === '' ? '' : `-${values.tag}`}`;
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', `${name}.json`),
  `${JSON.stringify({ bench: 'laikago-walk', commit: gitCommit(), date: new Date().toISOString(), machine: machineInfo(), episodes, numEnvs, seed, results }, null, 2)}\n`,
);
console.log(`wrote bench/results/${name}.json`);
