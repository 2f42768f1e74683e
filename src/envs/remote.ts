/**
 * `RemoteVecEnv`: a {@link VecEnv} over N csc-sim/1 servers × K envs each (numEnvs = N·K), stepped
 * in lock-step with the N requests in flight together (send all, then await all).
 *
 * Fault handling (DESIGN.md "Sim protocol"): a server that dies or stops answering is restarted
 * (spawned servers) or reconnected (given endpoints), its envs are reset, their transitions in
 * that step are marked `dropped = 1`, and stepping goes on. Every such event is counted in
 * {@link RemoteVecEnv.stats} and emitted on {@link RemoteVecEnv.faults}.
 */
import { Subject, type Observable } from 'rxjs';
import {
  checkActions,
  EnvInputError,
  type EnvSpec,
  type Frame,
  type RenderableVecEnv,
  type RenderedStep,
  type RenderRequest,
  type VecStepResult,
} from './env.ts';
import { BridgeProtocolError, SimActorLostError, SimServerDiedError, SimServerError, SimTimeoutError, SimWorkerLostError } from '../bridge/errors.ts';
import type { SpecData, StepData } from '../bridge/messages.ts';
import { RaySimCluster } from '../bridge/ray-cluster.ts';
import { makeIpcDir, SimWorker, type EnvArgs, type WorkerSource } from '../bridge/supervisor.ts';

/**
 * Parses a `--sim tcp://host:port,ipc:///path,...` list into endpoints. Throws {@link EnvInputError}
 * naming the first entry that is not a ZeroMQ address.
 */
export function parseSimEndpoints(text: string): string[] {
  const endpoints = text.split(',').map((e) => e.trim()).filter((e) => e.length > 0);
  if (endpoints.length === 0) throw new EnvInputError(`--sim ${JSON.stringify(text)}: expected tcp://host:port[,...]`);
  for (const e of endpoints) checkEndpoint(e);
  return endpoints;
}

function checkEndpoint(e: string): void {
  if (!/^(tcp:\/\/[^:/]+:\d+|ipc:\/\/.+|inproc:\/\/.+)$/.test(e)) {
    throw new EnvInputError(`sim endpoint ${JSON.stringify(e)} is not a ZeroMQ address, expected tcp://host:port or ipc://path`);
  }
}

/** How to get the servers. */
export type RemoteVecEnvOptions = SpawnOptions | ConnectOptions | ClusterOptions;

interface CommonOptions {
  /** Reply timeout for `step`; a server silent for longer is treated as hung. */
  readonly stepTimeoutMs?: number;
  /** Reply timeout for `spec` and `reset` (a reset may rebuild a scene). */
  readonly resetTimeoutMs?: number;
  /** Attempts to bring back one failed server within one call before giving up with {@link SimWorkerLostError}. */
  readonly maxRecoveryAttempts?: number;
  /**
   * A server whose steps fault this many times in a row (e.g. an env that raises on every step)
   * is given up on with {@link SimWorkerLostError} rather than dropping its data forever.
   */
  readonly maxConsecutiveFaults?: number;
}

/** Spawn `workers` local servers of `envsPerWorker` envs each. */
export interface SpawnOptions extends CommonOptions {
  readonly kind: 'spawn';
  readonly envId: string;
  readonly workers?: number;
  readonly envsPerWorker?: number;
  /** ipc (default; sockets in a private temp dir) or tcp on 127.0.0.1 with a server-chosen port. */
  readonly transport?: 'ipc' | 'tcp';
  /** Keyword arguments for the env constructor (e.g. `{ failure_from: 'cost' }` for `gym:` envs). */
  readonly envArgs?: EnvArgs;
  /** Interpreter; default `$CSC_SIM_PYTHON` or sim/.venv/bin/python. */
  readonly python?: string;
  /** How long a server may take to build its envs and print its ready line. */
  readonly startTimeoutMs?: number;
}

/** Use servers already running at `endpoints` (e.g. `csc sim serve` on other hosts). */
export interface ConnectOptions extends CommonOptions {
  readonly kind: 'connect';
  readonly endpoints: readonly string[];
  /** When given, every server must serve this env id. */
  readonly envId?: string;
}

/**
 * Run `workers` servers as Ray actors across a Ray cluster (docs/scale-out.md), reached over
 * ZeroMQ CURVE with keys made for this env. A dead actor or node, or a server that stops answering,
 * is replaced by a new actor (counted as a restart), its in-flight episodes dropped.
 */
export interface ClusterOptions extends CommonOptions {
  readonly kind: 'cluster';
  /** `auto`, `ray://HOST:PORT` or `HOST:PORT`. */
  readonly address: string;
  readonly envId: string;
  readonly workers?: number;
  readonly envsPerWorker?: number;
  readonly envArgs?: EnvArgs;
  /** Interpreter of the Ray driver; default `$CSC_SIM_PYTHON` or sim/.venv/bin/python. */
  readonly python?: string;
  /** How long Ray start-up and all first actors may take (default 180 s). */
  readonly startTimeoutMs?: number;
  /** How long a replacement actor may take to serve (default 120 s). */
  readonly replaceTimeoutMs?: number;
  /** Ray CPUs each actor reserves (default 1). */
  readonly cpusPerWorker?: number;
}

/** What went wrong with one server, and what was done about it. */
export type BridgeFault =
  | {
      readonly kind: 'restart';
      readonly worker: number;
      readonly endpoint: string;
      readonly cause: 'died' | 'hung' | 'protocol';
      readonly message: string;
      readonly droppedEpisodes: number;
    }
  | {
      readonly kind: 'reconnect';
      readonly worker: number;
      readonly endpoint: string;
      readonly cause: 'died' | 'hung' | 'protocol';
      readonly message: string;
      readonly droppedEpisodes: number;
    }
  | {
      /** The server answered `env_error` / `not_reset`: its envs were reset, no restart needed. */
      readonly kind: 'env_reset';
      readonly worker: number;
      readonly endpoint: string;
      readonly message: string;
      readonly droppedEpisodes: number;
    }
  | {
      /** One recovery attempt failed; another follows unless attempts are exhausted. */
      readonly kind: 'recovery_failed';
      readonly worker: number;
      readonly endpoint: string;
      readonly attempt: number;
      readonly message: string;
    };

/** Running totals of faults since the env was made. */
export interface RemoteVecEnvStats {
  restarts: number;
  reconnects: number;
  envResets: number;
  droppedEpisodes: number;
  timeouts: number;
  deaths: number;
}

const DEFAULTS = { stepTimeoutMs: 10_000, resetTimeoutMs: 60_000, maxRecoveryAttempts: 3, maxConsecutiveFaults: 5 };

/**
 * Starts (or connects to) the servers, checks they serve one identical env, and returns the env.
 * Fails early with the server's own message for an unknown env id or a missing simulator package.
 */
export async function makeRemoteVecEnv(options: RemoteVecEnvOptions): Promise<RemoteVecEnv> {
  const o = { ...DEFAULTS, ...options };
  let sources: WorkerSource[];
  let ipc: ReturnType<typeof makeIpcDir> | undefined;
  let cluster: RaySimCluster | undefined;
  if (o.kind === 'cluster') {
    const workers = o.workers ?? 1;
    const k = o.envsPerWorker ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new EnvInputError(`RemoteVecEnv: workers=${workers}, expected an integer >= 1`);
    if (!Number.isInteger(k) || k < 1) throw new EnvInputError(`RemoteVecEnv: envsPerWorker=${k}, expected an integer >= 1`);
    cluster = await RaySimCluster.start({
      address: o.address,
      envId: o.envId,
      workers,
      envsPerWorker: k,
      ...(o.envArgs !== undefined ? { envArgs: o.envArgs } : {}),
      ...(o.python !== undefined ? { python: o.python } : {}),
      ...(o.startTimeoutMs !== undefined ? { startTimeoutMs: o.startTimeoutMs } : {}),
      ...(o.cpusPerWorker !== undefined ? { cpusPerWorker: o.cpusPerWorker } : {}),
    });
    const source: WorkerSource = { kind: 'cluster', cluster, replaceTimeoutMs: o.replaceTimeoutMs ?? 120_000 };
    sources = Array.from({ length: workers }, () => source);
  } else if (o.kind === 'spawn') {
    const workers = o.workers ?? 1;
    const k = o.envsPerWorker ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new EnvInputError(`RemoteVecEnv: workers=${workers}, expected an integer >= 1`);
    if (!Number.isInteger(k) || k < 1) throw new EnvInputError(`RemoteVecEnv: envsPerWorker=${k}, expected an integer >= 1`);
    const transport = o.transport ?? 'ipc';
    if (transport === 'ipc') ipc = makeIpcDir();
    const source: WorkerSource = {
      kind: 'spawn',
      envId: o.envId,
      numEnvs: k,
      transport,
      ...(o.envArgs !== undefined ? { envArgs: o.envArgs } : {}),
      ...(o.python !== undefined ? { python: o.python } : {}),
      ...(o.startTimeoutMs !== undefined ? { startTimeoutMs: o.startTimeoutMs } : {}),
    };
    sources = Array.from({ length: workers }, () => source);
  } else {
    if (o.endpoints.length === 0) throw new EnvInputError('RemoteVecEnv: no endpoints given, expected at least one');
    for (const e of o.endpoints) checkEndpoint(e);
    sources = o.endpoints.map((endpoint) => ({ kind: 'connect', endpoint }));
  }

  const started = await Promise.allSettled(sources.map((s, i) => SimWorker.start(i, s, ipc?.dir, o.stepTimeoutMs)));
  const workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const release = async (): Promise<void> => {
    ipc?.remove();
    await cluster?.close();
  };
  const cleanup = async (): Promise<void> => {
    await Promise.all(workers.map((w) => w.close()));
    await release();
  };
  const firstFailure = started.find((r) => r.status === 'rejected');
  if (firstFailure !== undefined) {
    await cleanup();
    throw firstFailure.reason;
  }
  try {
    const specs = await Promise.all(
      workers.map((w) =>
        w.client.spec(o.resetTimeoutMs).catch((e: unknown) => {
          throw new SimWorkerLostError(`RemoteVecEnv: server ${w.endpoint} did not answer spec: ${errMessage(e)}`);
        }),
      ),
    );
    const first = specs[0]!;
    const wantId = o.envId;
    specs.forEach((s, i) => {
      const expectedId = wantId ?? first.id;
      if (s.id !== expectedId) {
        throw new EnvInputError(`RemoteVecEnv: server ${workers[i]!.endpoint} serves ${s.id}, expected ${expectedId}`);
      }
      const mismatch = specMismatch(first, s);
      if (mismatch !== undefined) {
        throw new EnvInputError(`RemoteVecEnv: server ${workers[i]!.endpoint} spec differs from ${workers[0]!.endpoint} in ${mismatch}`);
      }
    });
    return new RemoteVecEnv(workers, specs.map((s) => s.numEnvs), toEnvSpec(first), o, release, cluster);
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** A VecEnv whose envs live in csc-sim/1 servers. Build with {@link makeRemoteVecEnv}. */
export class RemoteVecEnv implements RenderableVecEnv {
  readonly numEnvs: number;
  private readonly counters: RemoteVecEnvStats = { restarts: 0, reconnects: 0, envResets: 0, droppedEpisodes: 0, timeouts: 0, deaths: 0 };
  private readonly faultSubject = new Subject<BridgeFault>();
  /** Every fault and recovery as it happens; completes on close. */
  readonly faults: Observable<BridgeFault> = this.faultSubject.asObservable();
  /** First global env index of each worker. */
  private readonly offsets: number[];
  private baseSeed: number | undefined;
  private recoveries = 0;
  /** Per worker: steps in a row that faulted. */
  private readonly consecutiveFaults: number[];
  private closed = false;
  private busy = false;

  /** @internal use {@link makeRemoteVecEnv}. */
  constructor(
    private readonly workers: readonly SimWorker[],
    private readonly sizes: readonly number[],
    readonly spec: EnvSpec,
    private readonly options: Required<CommonOptions>,
    private readonly onClose: () => Promise<void>,
    /** The Ray cluster hosting the servers, for `kind: 'cluster'`. */
    readonly cluster?: RaySimCluster,
  ) {
    this.offsets = [];
    let n = 0;
    for (const k of sizes) {
      this.offsets.push(n);
      n += k;
    }
    this.numEnvs = n;
    this.consecutiveFaults = sizes.map(() => 0);
  }

  /** Running fault totals since the env was made (a snapshot). */
  get stats(): Readonly<RemoteVecEnvStats> {
    return { ...this.counters };
  }

  /** Pids of the spawned servers (undefined for remote ones), e.g. for fault-injection tests. */
  get pids(): readonly (number | undefined)[] {
    return this.workers.map((w) => w.pid);
  }

  /** Endpoints the workers currently talk to. */
  get endpoints(): readonly string[] {
    return this.workers.map((w) => w.endpoint);
  }

  async reset(seed: number): Promise<Float32Array> {
    this.enter('reset');
    try {
      if (!Number.isSafeInteger(seed) || seed < 0) throw new EnvInputError(`${this.spec.id}: reset seed ${seed}, expected a non-negative integer`);
      this.baseSeed = seed;
      const obs = new Float32Array(this.numEnvs * this.spec.obsSize);
      await Promise.all(
        this.workers.map(async (w, j) => {
          const off = this.offsets[j]!;
          try {
            const r = await w.client.reset(seed + off, this.sizes[j]!, this.spec.obsSize, this.options.resetTimeoutMs);
            obs.set(r.obs, off * this.spec.obsSize);
          } catch (e) {
            // a fault during reset loses no episode, and the recovered envs keep their seeds
            obs.set(await this.recover(j, e, 0, seed + off), off * this.spec.obsSize);
          }
        }),
      );
      return obs;
    } finally {
      this.busy = false;
    }
  }

  async step(actions: Float32Array): Promise<VecStepResult> {
    return (await this.stepWith(actions, undefined)).step;
  }

  /**
   * `step`, with the server holding env `request.env` asked for a frame of its s′. A server that
   * cannot render answers `cannot_render` to {@link renderFrame}, which `csc eval --render` calls
   * first; during a step, a failed render is an `env_error` (that server's envs are reset, dropped).
   */
  async stepRendered(actions: Float32Array, request: RenderRequest): Promise<RenderedStep> {
    this.checkRenderRequest(request);
    return this.stepWith(actions, request);
  }

  /** A frame of env `request.env`'s current state. Rejects with the server's `cannot_render`. */
  async renderFrame(request: RenderRequest): Promise<Frame> {
    this.checkRenderRequest(request);
    this.enter('render');
    try {
      if (this.baseSeed === undefined) throw new EnvInputError(`${this.spec.id}: render before reset`);
      const { worker, local } = this.locate(request.env);
      // the first render of a server opens its offscreen GL context and loads textures: a reset's time
      const r = await this.workers[worker]!.client.render({ ...request, env: local }, this.options.resetTimeoutMs);
      return r.frame;
    } finally {
      this.busy = false;
    }
  }

  private checkRenderRequest(r: RenderRequest): void {
    if (!Number.isInteger(r.env) || r.env < 0 || r.env >= this.numEnvs) {
      throw new EnvInputError(`${this.spec.id}: render env ${r.env}, expected an integer in [0, ${this.numEnvs - 1}]`);
    }
    for (const [name, v] of [['widthPx', r.widthPx], ['heightPx', r.heightPx]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 4096) throw new EnvInputError(`${this.spec.id}: render ${name} ${v}, expected an integer in [1, 4096]`);
    }
  }

  /** The worker holding global env `env`, and the env's index in that worker's batch. */
  private locate(env: number): { worker: number; local: number } {
    let j = this.offsets.length - 1;
    while (this.offsets[j]! > env) j--;
    return { worker: j, local: env - this.offsets[j]! };
  }

  private async stepWith(actions: Float32Array, render: RenderRequest | undefined): Promise<RenderedStep> {
    this.enter('step');
    try {
      if (this.baseSeed === undefined) throw new EnvInputError(`${this.spec.id}: step before reset`);
      checkActions(this.spec, this.numEnvs, actions);
      const { obsSize, actSize } = this.spec;
      // all requests leave before any reply is awaited: the servers step in parallel
      const at = render === undefined ? undefined : this.locate(render.env);
      const replies = this.workers.map((w, j) => {
        const off = this.offsets[j]!;
        const k = this.sizes[j]!;
        const slice = actions.subarray(off * actSize, (off + k) * actSize);
        const r = at !== undefined && at.worker === j && render !== undefined ? { ...render, env: at.local } : undefined;
        return w.client.step(slice, k, actSize, obsSize, this.options.stepTimeoutMs, r);
      });
      const settled = await Promise.allSettled(replies);
      const n = this.numEnvs;
      const out = {
        obs: new Float32Array(n * obsSize),
        nextObs: new Float32Array(n * obsSize),
        reward: new Float32Array(n),
        failure: new Uint8Array(n),
        terminated: new Uint8Array(n),
        truncated: new Uint8Array(n),
        dropped: new Uint8Array(n),
      };
      await Promise.all(
        settled.map(async (r, j) => {
          const off = this.offsets[j]!;
          const k = this.sizes[j]!;
          if (r.status === 'fulfilled') {
            copyStep(out, r.value, off, obsSize);
            this.consecutiveFaults[j] = 0;
            return;
          }
          const faults = ++this.consecutiveFaults[j]!;
          if (faults > this.options.maxConsecutiveFaults) {
            throw new SimWorkerLostError(
              `${this.spec.id}: sim server ${this.workers[j]!.endpoint} (worker ${j}) faulted on ${faults} steps in a row; last: ${errMessage(r.reason)}`,
            );
          }
          const fresh = await this.recover(j, r.reason, k);
          // a dropped transition has no true s′; nextObs = the fresh reset keeps the arrays finite
          out.obs.set(fresh, off * obsSize);
          out.nextObs.set(fresh, off * obsSize);
          out.dropped.fill(1, off, off + k);
        }),
      );
      const rendered = at === undefined ? undefined : settled[at.worker];
      return { step: out, frame: rendered?.status === 'fulfilled' ? rendered.value.frame : undefined };
    } finally {
      this.busy = false;
    }
  }

  /**
   * Stops spawned servers (close op, then signals) and a Ray cluster's actors; remote servers are
   * only disconnected from.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.close()));
    await this.onClose();
    this.faultSubject.complete();
  }

  private enter(op: string): void {
    if (this.closed) throw new Error(`${this.spec.id}: ${op} on a closed RemoteVecEnv`);
    if (this.busy) throw new Error(`${this.spec.id}: ${op} while another reset/step is in flight; await it first`);
    this.busy = true;
  }

  /**
   * Brings worker `j` back after `err` and resets its envs; returns their fresh observations.
   * `droppedEpisodes` is how many in-flight episodes this loses (K during a step, 0 during reset);
   * `seed` is the reset seed to use (default: a fresh one past every seed handed out so far).
   */
  private async recover(j: number, err: unknown, droppedEpisodes: number, seed?: number): Promise<Float32Array> {
    const w = this.workers[j]!;
    const k = this.sizes[j]!;
    let needsRestart: boolean;
    let cause: 'died' | 'hung' | 'protocol' | 'env';
    if (err instanceof SimServerDiedError || err instanceof SimActorLostError) {
      cause = 'died';
      needsRestart = true;
      this.counters.deaths++;
    } else if (err instanceof SimTimeoutError) {
      cause = 'hung';
      needsRestart = true;
      this.counters.timeouts++;
    } else if (err instanceof BridgeProtocolError) {
      cause = 'protocol';
      needsRestart = true;
    } else if (err instanceof SimServerError && (err.code === 'env_error' || err.code === 'not_reset')) {
      cause = 'env';
      needsRestart = false;
    } else {
      // bad_action, bad_request, ...: our request was wrong; restarting would not help
      throw err;
    }
    if (this.closed) throw new Error(`${this.spec.id}: closed while a step was in flight (${errMessage(err)})`);
    const message = errMessage(err);
    for (let attempt = 1; ; attempt++) {
      const endpoint = w.endpoint;
      try {
        if (needsRestart) await w.restart();
        const r = await w.client.reset(seed ?? this.recoverySeed(j), k, this.spec.obsSize, this.options.resetTimeoutMs);
        this.counters.droppedEpisodes += droppedEpisodes;
        if (cause === 'env') {
          this.counters.envResets++;
          this.faultSubject.next({ kind: 'env_reset', worker: j, endpoint, message, droppedEpisodes });
        } else if (w.restartable) {
          this.counters.restarts++;
          this.faultSubject.next({ kind: 'restart', worker: j, endpoint, cause, message, droppedEpisodes });
        } else {
          this.counters.reconnects++;
          this.faultSubject.next({ kind: 'reconnect', worker: j, endpoint, cause, message, droppedEpisodes });
        }
        return r.obs;
      } catch (e) {
        this.faultSubject.next({ kind: 'recovery_failed', worker: j, endpoint, attempt, message: errMessage(e) });
        if (attempt >= this.options.maxRecoveryAttempts) {
          const what = w.restartable
            ? `restarting it failed ${attempt} times`
            : `it is a remote server we cannot restart, and ${attempt} reconnects got no answer; restart it on its host`;
          throw new SimWorkerLostError(
            `${this.spec.id}: sim server ${endpoint} (worker ${j}) failed (${message}) and ${what}; last error: ${errMessage(e)}`,
          );
        }
        needsRestart = true;
      }
    }
  }

  // Seeds after a fault: past every seed reset() handed out, distinct per recovery and env.
  private recoverySeed(j: number): number {
    this.recoveries++;
    return (this.baseSeed ?? 0) + this.numEnvs * this.recoveries + this.offsets[j]!;
  }
}

function copyStep(
  out: { obs: Float32Array; nextObs: Float32Array; reward: Float32Array; failure: Uint8Array; terminated: Uint8Array; truncated: Uint8Array },
  d: StepData,
  off: number,
  obsSize: number,
): void {
  out.obs.set(d.obs, off * obsSize);
  out.nextObs.set(d.nextObs, off * obsSize);
  out.reward.set(d.reward, off);
  out.failure.set(d.failure, off);
  out.terminated.set(d.terminated, off);
  out.truncated.set(d.truncated, off);
}

function toEnvSpec(s: SpecData): EnvSpec {
  return {
    id: s.id,
    obsSize: s.obsSize,
    actSize: s.actSize,
    actLow: s.actLow,
    actHigh: s.actHigh,
    obsNames: s.obsNames,
    actNames: s.actNames,
    maxEpisodeSteps: s.maxEpisodeSteps,
    controlPeriodS: s.controlPeriodS,
    failureMeaning: s.failureMeaning,
  };
}

function specMismatch(a: SpecData, b: SpecData): string | undefined {
  const keys = ['obsSize', 'actSize', 'actLow', 'actHigh', 'obsNames', 'actNames', 'maxEpisodeSteps', 'controlPeriodS'] as const;
  for (const key of keys) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return `${key} (${JSON.stringify(a[key])} vs ${JSON.stringify(b[key])})`;
  }
  return undefined;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
