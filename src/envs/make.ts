/**
 * Env ids → vectorised envs. `point-nav` is embedded TypeScript; every other id is a Python
 * simulator served over ZeroMQ (csc-sim/1, docs/protocol.md): local servers are spawned, running
 * ones are connected to with `--sim tcp://host:port,…`, or servers run as Ray actors across a Ray
 * cluster with `--sim-cluster` (docs/scale-out.md). `ros:<profile>` is a robot through
 * ROS 2 (src/envs/ros.ts).
 */
import { EnvInputError, type VecEnv } from './env.ts';
import { PointNavVecEnv } from './point-nav.ts';
import type { EnvArgs } from '../bridge/supervisor.ts';
import { makeRemoteVecEnv } from './remote.ts';
import { parseClusterAddress } from '../bridge/ray-cluster.ts';
import { makeRosVecEnv } from './ros.ts';

/** Ids of embedded envs (no Python needed). */
export const EMBEDDED_ENVS: readonly string[] = ['point-nav'];

/** How to reach simulators for non-embedded envs. */
export interface SimOptions {
  /** Local sim server processes to spawn; the envs are split evenly over them (default 1). */
  readonly simWorkers?: number | undefined;
  /** Endpoints of already running servers (`tcp://host:port`), instead of spawning. */
  readonly simEndpoints?: readonly string[] | undefined;
  /**
   * A Ray cluster to run the `simWorkers` servers on as actors, over ZeroMQ CURVE: `auto`,
   * `ray://HOST:PORT` or `HOST:PORT` (docs/scale-out.md).
   */
  readonly simCluster?: string | undefined;
  /** Keyword arguments for the Python env constructor (e.g. `failure_from: 'cost'` for gym envs). */
  readonly envArgs?: EnvArgs | undefined;
}

/** Makes `numEnvs` copies of env `id`. Fails before training starts for an unknown id or a missing simulator. */
export async function makeVecEnv(id: string, numEnvs: number, sim: SimOptions = {}): Promise<VecEnv> {
  if (id.startsWith('ros:')) {
    // A robot through its ROS 2 profile (src/envs/ros.ts); --env-arg sim=ENV: the Python sim plays it.
    if (sim.simWorkers !== undefined && sim.simWorkers !== 1) throw new EnvInputError(`env ${id} is one robot: --sim-workers does not apply`);
    if (sim.simEndpoints !== undefined && sim.simEndpoints.length > 0 && sim.envArgs?.sim === undefined) throw new EnvInputError(`env ${id}: --sim names the server of the sim playing the robot; add --env-arg sim=ENV`);
    return makeRosVecEnv(id.slice(4), numEnvs, sim.envArgs ?? {}, (simId) => makeVecEnv(simId, 1, { simEndpoints: sim.simEndpoints }));
  }
  if (EMBEDDED_ENVS.includes(id)) {
    if (sim.simEndpoints !== undefined || sim.simWorkers !== undefined || sim.envArgs !== undefined || sim.simCluster !== undefined) {
      throw new EnvInputError(`env ${id} is embedded: --sim, --sim-cluster, --sim-workers and --env-arg apply only to Python simulators`);
    }
    return new PointNavVecEnv(numEnvs);
  }
  const connecting = sim.simEndpoints !== undefined && sim.simEndpoints.length > 0;
  if (sim.simCluster !== undefined) {
    if (connecting) throw new EnvInputError('--sim and --sim-cluster both say where the servers are: give one');
    const workers = sim.simWorkers ?? 1;
    if (numEnvs % workers !== 0) throw new EnvInputError(`--num-envs ${numEnvs} does not split evenly over --sim-workers ${workers}`);
    return makeRemoteVecEnv({
      kind: 'cluster',
      address: parseClusterAddress(sim.simCluster),
      envId: id,
      workers,
      envsPerWorker: numEnvs / workers,
      ...(sim.envArgs !== undefined ? { envArgs: sim.envArgs } : {}),
    });
  }
  if (connecting) {
    if (sim.envArgs !== undefined) throw new EnvInputError('--env-arg configures spawned servers; pass it to `csc sim serve` on the remote hosts instead');
    const env = await makeRemoteVecEnv({ kind: 'connect', endpoints: sim.simEndpoints ?? [], envId: id });
    if (env.numEnvs !== numEnvs) {
      await env.close();
      throw new EnvInputError(`--sim servers host ${env.numEnvs} envs in total, but --num-envs is ${numEnvs}: start the servers with matching --num-envs or change --num-envs`);
    }
    return env;
  }
  const workers = sim.simWorkers ?? 1;
  if (numEnvs % workers !== 0) throw new EnvInputError(`--num-envs ${numEnvs} does not split evenly over --sim-workers ${workers}`);
  return makeRemoteVecEnv({ kind: 'spawn', envId: id, workers, envsPerWorker: numEnvs / workers, ...(sim.envArgs !== undefined ? { envArgs: sim.envArgs } : {}) });
}
