/** `csc eval`: run a checkpoint's policy, with or without the safety filter, and report. */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadDeployedPolicy } from '../algos/load.ts';
import type { ActOptions } from '../algos/deploy.ts';
import { isRenderable } from '../envs/env.ts';
import { makeVecEnv } from '../envs/make.ts';
import { BACKEND_CHOICES, initBackend } from '../nn/backend.ts';
import { renderEpisodes } from '../render/episodes.ts';
import { VideoError, videoFormatOf, VideoWriter } from '../render/video.ts';
import { runEpisodes } from '../runs/episodes.ts';
import { latestCheckpoint, readRunEnvArgs } from '../runs/run-folder.ts';
import { parseEnvArgs } from './train.ts';
import { backendFlag, listFlag, numberFlag, parseFlags, UsageError } from './args.ts';

export const EVAL_USAGE = `Usage: csc eval --checkpoint PATH [options]

Runs a trained policy for a number of episodes and prints a JSON summary: average reward,
average failures per episode, and the safety filter's acceptance and exhaustions.

Options:
  --checkpoint PATH   a checkpoint directory, a run folder (its latest checkpoint), or
                      a run's checkpoints/latest file
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
  --env-arg KEY=VALUE   as for csc train (default: the values the checkpoint's run was trained with)
  --render PATH       also write the episodes as a video, PATH ending in .mp4 or .gif: one env
                      (--num-envs 1), each state a frame with the filter's decision drawn on it
                      (Q_C against ε, candidates tried, exhausted); see docs/render.md
  --render-size WxH   frame size in pixels (default 480x360; even numbers for .mp4)
  --render-fps X      frames per second (default: the env's control rate, 1 / controlPeriodS)
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
  'env-arg': { type: 'string', multiple: true },
  render: { type: 'string' },
  'render-size': { type: 'string' },
  'render-fps': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `WxH` → pixels; throws {@link UsageError}. */
export function parseRenderSize(text: string): { widthPx: number; heightPx: number } {
  const m = /^(\d+)x(\d+)$/.exec(text);
  const w = Number(m?.[1]);
  const h = Number(m?.[2]);
  if (m === null || w < 16 || h < 16 || w > 4096 || h > 4096) {
    throw new UsageError(`--render-size ${text}: expected WIDTHxHEIGHT in pixels, each in [16, 4096], e.g. 480x360`);
  }
  return { widthPx: w, heightPx: h };
}

/**
 * A checkpoint directory, a run folder's latest checkpoint, or a run's `checkpoints/latest`
 * pointer file (it names the newest checkpoint directory beside it).
 */
export async function resolveCheckpointDir(path: string): Promise<string> {
  const isCheckpoint = (dir: string): Promise<boolean> => stat(join(dir, 'checkpoint.json')).then(() => true, () => false);
  if (await isCheckpoint(path)) return path;
  if (basename(path) === 'latest' && (await stat(path).then((st) => st.isFile(), () => false))) {
    const target = join(dirname(path), (await readFile(path, 'utf8')).trim());
    if (await isCheckpoint(target)) return target;
    throw new UsageError(`--checkpoint ${path}: names ${target}, which is not a checkpoint directory (no checkpoint.json)`);
  }
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
  const render = f.render;
  const numEnvsFlag = numberFlag(f['num-envs'], '--num-envs', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  if (render !== undefined && numEnvsFlag !== undefined && numEnvsFlag !== 1) {
    throw new UsageError(`--render pictures one env: drop --num-envs ${numEnvsFlag} (or pass --num-envs 1)`);
  }
  if (render === undefined && (f['render-size'] !== undefined || f['render-fps'] !== undefined)) {
    throw new UsageError('--render-size and --render-fps need --render PATH');
  }
  const numEnvs = numEnvsFlag ?? (render !== undefined ? 1 : 8);
  const size = parseRenderSize(f['render-size'] ?? '480x360');
  const fpsFlag = numberFlag(f['render-fps'], '--render-fps', (v) => v > 0 && v <= 240, 'a number in (0, 240]');
  if (render !== undefined) {
    try {
      if (videoFormatOf(render) === 'mp4' && (size.widthPx % 2 !== 0 || size.heightPx % 2 !== 0)) {
        throw new UsageError(`--render-size ${size.widthPx}x${size.heightPx}: .mp4 (H.264) needs even numbers`);
      }
    } catch (e) {
      throw e instanceof VideoError ? new UsageError(`--render ${e.message}`) : e;
    }
    // MuJoCo picks its OpenGL backend at import: the sim servers spawned below inherit a headless
    // one (software OSMesa unless the caller chose, e.g. MUJOCO_GL=egl on a GPU machine)
    process.env.MUJOCO_GL ??= 'osmesa';
  }
  const seed = numberFlag(f.seed, '--seed', Number.isInteger, 'an integer') ?? 12345;
  const epsilon = numberFlag(f.epsilon, '--epsilon');
  const onExhausted = f['on-exhausted'] ?? 'hold';
  if (onExhausted !== 'hold' && onExhausted !== 'fallback') throw new UsageError(`--on-exhausted ${onExhausted}: expected hold or fallback`);
  await initBackend(backendFlag(f.backend) ?? 'auto');
  const dir = await resolveCheckpointDir(f.checkpoint);
  const policy = await loadDeployedPolicy(dir, { seed });
  // the env as the run built it (its --env-arg values, config.json), unless --env-arg says otherwise
  const envArgs = parseEnvArgs(f['env-arg']) ?? (await readRunEnvArgs(dirname(dirname(dir))));
  const env = await makeVecEnv(policy.spec.id, numEnvs, {
    simWorkers: numberFlag(f['sim-workers'], '--sim-workers', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'),
    simEndpoints: listFlag(f.sim),
    envArgs,
  });
  try {
    const filter = f['no-filter'] !== true;
    const act: ActOptions = { filter, epsilon, deterministic: f.deterministic === true, onExhausted };
    let rendered: { path: string; frames: number; widthPx: number; heightPx: number; fps: number } | undefined;
    let run: Awaited<ReturnType<typeof runEpisodes>>;
    if (render !== undefined) {
      if (!isRenderable(env)) throw new UsageError(`--render: env ${policy.spec.id} cannot render`);
      const fps = fpsFlag ?? (policy.spec.controlPeriodS > 0 ? 1 / policy.spec.controlPeriodS : 20);
      const writer = VideoWriter.open(render, { ...size, fps });
      try {
        run = await renderEpisodes({ policy, env, episodes, seed, act, ...size, onFrame: (fr) => writer.write(fr) });
      } finally {
        await writer.close();
      }
      rendered = { path: render, frames: writer.frames, ...size, fps };
    } else {
      run = await runEpisodes({ policy, env, episodes, seed, act });
    }
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
      ...(rendered !== undefined ? { render: rendered } : {}),
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  } finally {
    policy.dispose();
    await env.close();
  }
}
