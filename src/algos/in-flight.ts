/**
 * The episodes in flight between epochs, for checkpoints: the envs' snapshot (when the env can
 * take one, `SnapshotVecEnv`: the embedded point-nav), their current observations and the returns
 * so far. A learner saves it in `meta.inFlight`; after `restore()`, its `start()` continues those
 * episodes instead of resetting the envs, so a resumed run steps exactly as the uninterrupted one.
 */
import { type VecEnv, canSnapshot } from '../envs/env.ts';
import { CheckpointError } from '../nn/checkpoint.ts';

export interface InFlight {
  readonly env: unknown;
  readonly obs: readonly number[];
  readonly episodeReturn: readonly number[];
}

/** `{ inFlight }` for a checkpoint's meta, or nothing when the env cannot snapshot or has not started. */
export function inFlightMeta(env: VecEnv, obs: Float32Array | null, episodeReturn: Float64Array): { inFlight?: InFlight } {
  return obs !== null && canSnapshot(env) ? { inFlight: { env: env.snapshot(), obs: Array.from(obs), episodeReturn: Array.from(episodeReturn) } } : {};
}

/**
 * Checks a checkpoint's `meta.inFlight` against the learner's shapes (the env checks its own part
 * when it restores). Null when absent, or when the run resumes with another number of envs
 * (`--num-envs`), whose episodes then start afresh as they did before checkpoints held them.
 */
export function readInFlight(dir: string, v: unknown, numEnvs: number, obsSize: number): InFlight | null {
  if (v === undefined) return null;
  const fail = (what: string): never => {
    throw new CheckpointError(`${dir}: meta.inFlight.${what}`);
  };
  if (typeof v !== 'object' || v === null) return fail(`is ${JSON.stringify(v)}, expected an object`);
  const f = v as Record<string, unknown>;
  const saved = f.episodeReturn;
  if (Array.isArray(saved) && saved.length !== numEnvs && Array.isArray(f.obs) && f.obs.length === saved.length * obsSize) return null;
  const finite = (key: string, length: number): number[] => {
    const a = f[key];
    if (!Array.isArray(a) || a.length !== length || a.some((x) => typeof x !== 'number' || !Number.isFinite(x))) fail(`${key} must be ${length} finite numbers (${numEnvs} envs)`);
    return a as number[];
  };
  if (typeof f.env !== 'object' || f.env === null) fail('env is missing');
  return { env: f.env, obs: finite('obs', numEnvs * obsSize), episodeReturn: finite('episodeReturn', numEnvs) };
}

/**
 * Continues the saved episodes: restores the env and the returns so far and gives the
 * observations, or null when there is nothing to continue (no saved episodes, or an env, such as a
 * sim server or a recording wrapper, that cannot restore them): then the learner resets.
 */
export function continueInFlight(env: VecEnv, saved: InFlight | null, episodeReturn: Float64Array): Float32Array | null {
  if (saved === null || !canSnapshot(env)) return null;
  env.restoreSnapshot(saved.env);
  episodeReturn.set(saved.episodeReturn);
  return Float32Array.from(saved.obs);
}
