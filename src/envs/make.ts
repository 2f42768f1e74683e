/**
 * Env ids → vectorised envs. `point-nav` is embedded TypeScript; every other id is a Python
 * simulator served over ZeroMQ (see docs/protocol.md).
 */
import { EnvInputError, type VecEnv } from './env.ts';
import { PointNavVecEnv } from './point-nav.ts';

/** Ids of embedded envs (no Python needed). */
export const EMBEDDED_ENVS: readonly string[] = ['point-nav'];

/** How to reach simulators for non-embedded envs. */
export interface SimOptions {
  /** Local sim server processes to spawn (envs are spread over them). */
  readonly simWorkers?: number;
  /** Endpoints of already running servers (`tcp://host:port`), instead of spawning. */
  readonly simEndpoints?: readonly string[];
}

/** Makes `numEnvs` copies of env `id`. Fails before training starts for an unknown id. */
export function makeVecEnv(id: string, numEnvs: number, sim: SimOptions = {}): Promise<VecEnv> {
  if (id === 'point-nav') return Promise.resolve(new PointNavVecEnv(numEnvs));
  if (sim.simEndpoints !== undefined || sim.simWorkers !== undefined) {
    return Promise.reject(new EnvInputError(`env ${id}: --sim/--sim-workers apply only to Python simulators`));
  }
  return Promise.reject(new EnvInputError(`unknown env '${id}'; embedded envs: ${EMBEDDED_ENVS.join(', ')}`));
}
