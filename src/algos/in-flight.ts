/**
 * The episodes in flight between epochs, for checkpoints: the envs' snapshot (when the env can
 * take one, `SnapshotVecEnv`: the embedded point-nav), their current observations and the returns
 * so far. A learner saves it in `meta.inFlight`; its `restore()` puts the envs back in that state
 * (a snapshot that does not fit is refused there, with every other checkpoint error) and its
 * `start()` continues those episodes instead of resetting the envs, so a resumed run steps exactly
 * as the uninterrupted one.
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
 * Checks a checkpoint's `meta.inFlight` against the learner's shapes and restores `env` to its
 * snapshot (the env checks its own part and is left as it was when that part does not fit).
 * Null, and `env` untouched, when absent, when the env cannot restore episodes (a sim server, a
 * recording wrapper), or when the run resumes with another number of envs (`--num-envs`): those
 * episodes then start afresh. Throws {@link CheckpointError} naming the field.
 */
export function readInFlight(dir: string, v: unknown, env: VecEnv, numEnvs: number, obsSize: number): InFlight | null {
  if (v === undefined) return null;
  const fail = (what: string): never => {
    throw new CheckpointError(`${dir}: meta.inFlight.${what}`);
  };
  if (typeof v !== 'object' || v === null) return fail(`is ${JSON.stringify(v)}, expected an object`);
  const f = v as Record<string, unknown>;
  const returns = f.episodeReturn;
  if (Array.isArray(returns) && returns.length !== numEnvs && Array.isArray(f.obs) && f.obs.length === returns.length * obsSize) return null;
  const finite = (key: string, length: number): number[] => {
    const a = f[key];
    if (!Array.isArray(a) || a.length !== length || a.some((x) => typeof x !== 'number' || !Number.isFinite(x))) fail(`${key} must be ${length} finite numbers (${numEnvs} envs)`);
    return a as number[];
  };
  if (typeof f.env !== 'object' || f.env === null) fail('env is missing');
  const saved = { env: f.env, obs: finite('obs', numEnvs * obsSize), episodeReturn: finite('episodeReturn', numEnvs) };
  if (!canSnapshot(env)) return null;
  try {
    env.restoreSnapshot(saved.env);
  } catch (e) {
    fail(`env: ${e instanceof Error ? e.message : String(e)}`);
  }
  return saved;
}

/**
 * Continues the episodes {@link readInFlight} restored: sets the returns so far and gives the
 * observations, or null when there is nothing to continue: then the learner resets.
 */
export function continueInFlight(saved: InFlight | null, episodeReturn: Float64Array): Float32Array | null {
  if (saved === null) return null;
  episodeReturn.set(saved.episodeReturn);
  return Float32Array.from(saved.obs);
}
