/**
 * Named errors of the sim bridge. Faults of a server (it died, hung, sent garbage, answered with an
 * error) are these classes, delivered as rejected promises and fault events; misuse of the API
 * (stepping a closed env) throws plain `Error`s or `EnvInputError`.
 */
import type { ErrorCode, Op } from './messages.ts';

/** A server sent something that is not valid csc-sim/1 (bad msgpack, missing or mistyped field). */
export class BridgeProtocolError extends Error {
  override readonly name = 'BridgeProtocolError';
}

/** A server answered a request with `ok: false`. */
export class SimServerError extends Error {
  override readonly name = 'SimServerError';
  constructor(
    readonly endpoint: string,
    readonly op: Op | 'unknown',
    readonly code: ErrorCode,
    readonly serverMessage: string,
  ) {
    super(`sim server ${endpoint} answered ${op} with ${code}: ${serverMessage}`);
  }
}

/** No reply within the request's timeout: the server is hung, overloaded or gone. */
export class SimTimeoutError extends Error {
  override readonly name = 'SimTimeoutError';
  constructor(
    readonly endpoint: string,
    readonly op: Op,
    readonly requestId: number,
    readonly timeoutMs: number,
  ) {
    super(`sim server ${endpoint}: no reply to ${op} (id ${requestId}) within ${timeoutMs} ms`);
  }
}

/** The server process we spawned exited while requests were in flight or before we closed it. */
export class SimServerDiedError extends Error {
  override readonly name = 'SimServerDiedError';
  constructor(
    readonly endpoint: string,
    readonly pid: number | undefined,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(
      `sim server ${endpoint} (pid ${pid ?? '?'}) exited with ${signal !== null ? `signal ${signal}` : `code ${exitCode ?? '?'}`}`,
    );
  }
}

/** Why a server could not be started; `reason` mirrors the server's exit codes (docs/protocol.md). */
export type SimStartFailure =
  | 'unknown_env'
  | 'missing_simulator'
  | 'env_error'
  | 'bind_failed'
  | 'no_python'
  | 'timeout'
  | 'exited'
  // the Ray driver (docs/scale-out.md): Ray not installed, cannot reach the cluster, actors keep dying
  | 'no_ray'
  | 'ray_connect'
  | 'workers_lost';

/** A `python -m csc_sim serve` process failed before it was ready; carries its own words. */
export class SimStartError extends Error {
  override readonly name = 'SimStartError';
  constructor(
    readonly envId: string,
    readonly reason: SimStartFailure,
    message: string,
    readonly stderrTail: string,
  ) {
    super(`cannot start sim server for ${envId} (${reason}): ${message}`);
  }
}

/** A worker could not be brought back after repeated restarts or reconnects: training cannot go on. */
export class SimWorkerLostError extends Error {
  override readonly name = 'SimWorkerLostError';
}

/** The Ray cluster driver reported that the actor serving a worker died (its process or its node). */
export class SimActorLostError extends Error {
  override readonly name = 'SimActorLostError';
  constructor(
    readonly endpoint: string,
    readonly worker: number,
    readonly reason: string,
  ) {
    super(`sim server ${endpoint} (Ray actor of worker ${worker}) was lost: ${reason}`);
  }
}
