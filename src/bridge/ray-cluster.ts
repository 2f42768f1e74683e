/**
 * Sim servers as Ray actors across a Ray cluster (docs/scale-out.md). {@link RaySimCluster} starts
 * `python -m csc_sim ray-cluster` (sim/csc_sim/ray_cluster.py), the driver that creates one actor
 * per worker, and follows its JSON-line events: where each actor's csc-sim/1 server listens, with
 * its CURVE public key, and which actors were lost and replaced. The remote env connects to those
 * endpoints with CURVE (src/envs/remote.ts) and asks for a replacement when a server stops answering.
 *
 * Keys: the client key pair is made here, per run; only its public key leaves this process (to the
 * driver, which hands it to the actors through Ray). Each actor makes its own server key pair.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Subject, type Observable } from 'rxjs';
import { curveKeyPair } from 'zeromq';
import { EnvInputError } from '../envs/env.ts';
import type { CurveClientKeys } from './client.ts';
import { SimStartError, type SimStartFailure } from './errors.ts';
import { killOnExit, parseJsonObjectLine, REPO_ROOT, simChildEnv, simPython, type EnvArgs } from './supervisor.ts';

/** How to run the actors. */
export interface RayClusterOptions {
  /** `auto`, `ray://HOST:PORT` or `HOST:PORT` (checked by {@link parseClusterAddress}). */
  readonly address: string;
  readonly envId: string;
  /** Actors, one csc-sim/1 server each. */
  readonly workers: number;
  /** Envs stepped as one batch by each actor. */
  readonly envsPerWorker: number;
  readonly envArgs?: EnvArgs;
  /** Interpreter of the driver; default {@link simPython}. */
  readonly python?: string;
  /** How long Ray start-up, scheduling and building the envs of all actors may take. */
  readonly startTimeoutMs?: number;
  /** Ray CPUs each actor reserves (default 1). */
  readonly cpusPerWorker?: number;
  /** Drivers started in a row after one died mid-run, before giving up (default 3). */
  readonly maxDriverRestarts?: number;
  /** Wait before the n-th restart in a row: n × this (default 2000 ms). */
  readonly driverRestartBackoffMs?: number;
}

/** Where the actor of one worker serves. */
export interface ActorEndpoint {
  readonly worker: number;
  /** 0 for the first actor of this worker, +1 for each replacement. */
  readonly generation: number;
  /** `tcp://NODE_IP:PORT`. */
  readonly endpoint: string;
  /** The server's CURVE public key (Z85). */
  readonly serverKey: string;
  /** Ray node id of the actor. */
  readonly node: string;
  readonly pid: number;
}

/** The driver's word that an actor is gone (its process or node died, or we asked to replace it). */
export interface ActorLost {
  readonly worker: number;
  readonly generation: number;
  readonly endpoint: string | undefined;
  readonly reason: string;
}

const ADDRESS_FORMS = 'auto, ray://HOST:PORT (Ray Client) or HOST:PORT (the GCS of a cluster this machine is a node of)';

/** Checks a `--sim-cluster` value; throws {@link EnvInputError} naming the accepted forms. */
export function parseClusterAddress(text: string): string {
  const a = text.trim();
  if (a === 'auto' || /^ray:\/\/[^:/\s]+:\d+$/.test(a) || /^[^:/\s]+:\d+$/.test(a)) return a;
  throw new EnvInputError(`--sim-cluster ${JSON.stringify(text)}: expected ${ADDRESS_FORMS}`);
}

const START_FAILURES: Record<string, SimStartFailure> = {
  unknown_env: 'unknown_env',
  missing_simulator: 'missing_simulator',
  env_error: 'env_error',
  bind_failed: 'bind_failed',
  no_ray: 'no_ray',
  ray_connect: 'ray_connect',
  workers_lost: 'workers_lost',
};

type DriverEvent =
  | ({ readonly event: 'endpoint' } & ActorEndpoint)
  | { readonly event: 'ready'; readonly workers: number }
  | ({ readonly event: 'lost' } & ActorLost)
  | { readonly event: 'error'; readonly code: string; readonly message: string };

/** Reads one JSON line of the driver; anything else (not ours) is `undefined`. */
export function parseDriverEvent(line: string): DriverEvent | undefined {
  const o = parseJsonObjectLine(line);
  if (o === undefined) return undefined;
  const int = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  switch (o.event) {
    case 'endpoint':
      if (int(o.worker) && int(o.generation) && typeof o.endpoint === 'string' && typeof o.serverKey === 'string' && o.serverKey.length === 40) {
        return {
          event: 'endpoint',
          worker: o.worker,
          generation: o.generation,
          endpoint: o.endpoint,
          serverKey: o.serverKey,
          node: typeof o.node === 'string' ? o.node : '?',
          pid: int(o.pid) ? o.pid : 0,
        };
      }
      return undefined;
    case 'ready':
      return int(o.workers) ? { event: 'ready', workers: o.workers } : undefined;
    case 'lost':
      if (int(o.worker) && int(o.generation) && typeof o.reason === 'string') {
        return { event: 'lost', worker: o.worker, generation: o.generation, endpoint: typeof o.endpoint === 'string' ? o.endpoint : undefined, reason: o.reason };
      }
      return undefined;
    case 'error':
      return typeof o.code === 'string' && typeof o.message === 'string' ? { event: 'error', code: o.code, message: o.message } : undefined;
    default:
      return undefined;
  }
}

interface Waiter {
  readonly notAt: string;
  readonly resolve: (e: ActorEndpoint) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The driver process and what it has told us. Build with {@link RaySimCluster.start}.
 *
 * A driver that dies while the run needs it (killed, out of memory, a Ray crash) is started again
 * with the same client key: its actors died with it (Ray kills the actors a driver owns), so every
 * worker is reported lost, and the new actors' endpoints answer the remote env's replacement
 * requests as usual; the episodes in flight are dropped and counted there. After
 * `maxDriverRestarts` drivers in a row that die before serving, the cluster gives up and every
 * waiter is rejected with the last driver's words.
 */
export class RaySimCluster {
  private readonly endpoints: (ActorEndpoint | undefined)[];
  private readonly waiters = new Map<number, Waiter[]>();
  private readonly lostSubject = new Subject<ActorLost>();
  /** Every actor the driver reports lost (it starts a replacement at once); completes on close. */
  readonly lost: Observable<ActorLost> = this.lostSubject.asObservable();
  private exitError: Error | undefined;
  private closing = false;
  private child: ChildProcess | undefined;
  private stderr = '';
  private readonly exited: Promise<void>;
  private resolveExited: () => void = () => undefined;
  /** Drivers started since the last one that served (0 while one serves). */
  private failedDriverStarts = 0;
  /** Whether a driver has had all its actors serving once (before that, a death fails the start). */
  private started = false;
  private readonly maxDriverRestarts: number;
  /** Actors lost and replaced so far (those of a dead driver included). */
  lostActors = 0;
  /** Drivers restarted after dying mid-run. */
  driverRestarts = 0;

  private constructor(
    readonly options: RayClusterOptions,
    private readonly keys: { readonly publicKey: string; readonly secretKey: string },
    private readonly python: string,
  ) {
    this.endpoints = Array.from({ length: options.workers }, () => undefined);
    this.maxDriverRestarts = options.maxDriverRestarts ?? 3;
    this.exited = new Promise((res) => {
      this.resolveExited = res;
    });
  }

  /** Starts the driver and resolves once every worker's actor serves; rejects with {@link SimStartError}. */
  static start(o: RayClusterOptions): Promise<RaySimCluster> {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new EnvInputError(`--sim-workers ${o.workers}: expected an integer >= 1`);
    const address = parseClusterAddress(o.address);
    const cluster = new RaySimCluster({ ...o, address }, curveKeyPair(), o.python ?? simPython());
    const startTimeoutMs = o.startTimeoutMs ?? 180_000;
    const tail = (): string => cluster.stderrTail();

    return new Promise<RaySimCluster>((resolveReady, rejectReady) => {
      let settled = false;
      let errorEvent: { code: string; message: string } | undefined;
      const child = cluster.spawnDriver((ev) => {
        if (ev.event === 'error') errorEvent = ev;
        if (ev.event === 'ready' && !settled) {
          settled = true;
          clearTimeout(timer);
          resolveReady(cluster);
        }
      });
      const fail = (reason: SimStartFailure, message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        cluster.closing = true;
        child.kill('SIGTERM');
        rejectReady(new SimStartError(o.envId, reason, message, tail()));
      };
      const timer = setTimeout(() => {
        const have = cluster.endpoints.filter((e) => e !== undefined).length;
        fail('timeout', `${have} of ${o.workers} Ray actors serving after ${startTimeoutMs} ms (does the cluster have ${o.workers} free CPUs?)${tail() ? `; stderr: ${tail()}` : ''}`);
      }, startTimeoutMs);
      child.once('error', (e: NodeJS.ErrnoException) => {
        fail(e.code === 'ENOENT' ? 'no_python' : 'exited', e.code === 'ENOENT' ? `no Python interpreter at ${cluster.python}; run scripts/setup-sim.sh or set CSC_SIM_PYTHON` : e.message);
      });
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        const reason = errorEvent !== undefined ? (START_FAILURES[errorEvent.code] ?? 'exited') : 'exited';
        fail(reason, `Ray sim driver exited (${signal ?? `code ${code ?? '?'}`}) before its actors were ready: ${errorEvent?.message ?? (tail() || 'no output')}`);
      });
    });
  }

  /**
   * Starts a driver process for all workers; `onEvent` sees each of its events after the cluster
   * has. Its unexpected exit, once the cluster has started, restarts it ({@link onDriverExit}).
   */
  private spawnDriver(onEvent: (ev: DriverEvent) => void = () => undefined): ChildProcess {
    const o = this.options;
    // (the key is passed as --client-key=KEY: Z85 keys may start with '-', which argparse would
    // take for an option)
    const args = ['-m', 'csc_sim', 'ray-cluster', '--address', o.address, '--env', o.envId, '--workers', String(o.workers),
      '--num-envs', String(o.envsPerWorker), `--client-key=${this.keys.publicKey}`, '--parent-pid', String(process.pid)];
    if (o.cpusPerWorker !== undefined) args.push('--cpus-per-worker', String(o.cpusPerWorker));
    for (const [k, v] of Object.entries(o.envArgs ?? {})) args.push('--env-arg', `${k}=${JSON.stringify(v)}`);
    // detached: a Ctrl-C at the terminal must not reach the driver, nor the Ray processes of a cluster
    // it started (`auto`): the learner finishes its epoch first, then closes the driver
    const child = spawn(this.python, args, { cwd: REPO_ROOT, env: simChildEnv(), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child = child;
    killOnExit(child, 'SIGTERM');
    child.stdin?.on('error', () => undefined); // a driver that died mid-write; its close event says so
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-4000);
    });
    let buf = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const ev = parseDriverEvent(buf.slice(0, nl).trim());
        buf = buf.slice(nl + 1);
        if (ev === undefined) continue;
        this.onEvent(ev);
        onEvent(ev);
      }
    });
    child.once('close', (code, signal) => { this.onDriverExit(child, code, signal); });
    return child;
  }

  private stderrTail(): string {
    return this.stderr.trim();
  }

  private onDriverExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    const how = signal ?? `code ${code ?? '?'}`;
    if (!this.closing && this.started && this.failedDriverStarts < this.maxDriverRestarts) {
      // its actors died with it: every worker is lost; the new driver's endpoints replace them
      for (let j = 0; j < this.endpoints.length; j++) {
        const e = this.endpoints[j];
        if (e === undefined) continue;
        this.endpoints[j] = undefined;
        this.lostActors++;
        this.lostSubject.next({ worker: j, generation: e.generation, endpoint: e.endpoint, reason: `the Ray sim driver exited (${how}); a new one starts its actors` });
      }
      this.failedDriverStarts++;
      this.driverRestarts++;
      process.stderr.write(`csc: the Ray sim driver exited (${how}) while the run needed it; starting another (${this.failedDriverStarts} of ${this.maxDriverRestarts})${this.stderrTail() ? `; its stderr: ${this.stderrTail().split('\n').slice(-3).join(' | ')}` : ''}\n`);
      this.stderr = '';
      this.child = undefined;
      setTimeout(() => {
        if (!this.closing) this.spawnDriver();
        else this.finish(`Ray sim driver exited (${how})`);
      }, (this.options.driverRestartBackoffMs ?? 2_000) * this.failedDriverStarts);
      return;
    }
    const gaveUp = !this.closing && this.failedDriverStarts > 0;
    this.finish(
      `Ray sim driver exited (${how})${this.closing ? '' : `${gaveUp ? `, the ${this.failedDriverStarts} restarted drivers in a row died before their actors served,` : ''} while the run needed it; stderr: ${this.stderrTail()}`}`,
    );
  }

  /** The cluster is over: waiters get `message`, `lost` completes, close() returns. */
  private finish(message: string): void {
    this.exitError = new Error(message);
    for (const [, list] of this.waiters) for (const w of list) this.settleWaiter(w, undefined, this.exitError);
    this.waiters.clear();
    this.lostSubject.complete();
    this.resolveExited();
  }

  /** Pid of the driver process. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Where worker `j`'s actor serves now (known once the cluster has started). */
  endpoint(j: number): ActorEndpoint {
    const e = this.endpoints[j];
    if (e === undefined) throw new Error(`Ray sim cluster: worker ${j} has no endpoint yet`);
    return e;
  }

  /** CURVE keys for talking to `e`. */
  curveFor(e: ActorEndpoint): CurveClientKeys {
    return { serverKey: e.serverKey, publicKey: this.keys.publicKey, secretKey: this.keys.secretKey };
  }

  /**
   * A serving actor for worker `j` other than the one at `notAt`: asks the driver to replace the
   * actor at `notAt` (if the driver has not already done so) and waits for the new endpoint.
   */
  replace(j: number, notAt: string, timeoutMs: number): Promise<ActorEndpoint> {
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    const now = this.endpoints[j];
    if (now !== undefined && now.endpoint !== notAt) return Promise.resolve(now);
    const p = new Promise<ActorEndpoint>((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(j) ?? [];
        this.waiters.set(j, list.filter((w) => w !== waiter));
        reject(new Error(`Ray sim cluster: no new actor for worker ${j} within ${timeoutMs} ms (is there a free CPU on a live node?)`));
      }, timeoutMs);
      const waiter: Waiter = { notAt, resolve, reject, timer };
      this.waiters.set(j, [...(this.waiters.get(j) ?? []), waiter]);
    });
    this.send({ op: 'replace', worker: j, endpoint: notAt });
    return p;
  }

  /** Kills every actor (the driver does, then leaves Ray) and waits for the driver to exit. Idempotent. */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.send({ op: 'close' });
      this.child?.stdin?.end();
    }
    if (this.exitError !== undefined) return;
    const term = setTimeout(() => { this.child?.kill('SIGTERM'); }, 15_000);
    const kill = setTimeout(() => { this.child?.kill('SIGKILL'); }, 30_000);
    await this.exited;
    clearTimeout(term);
    clearTimeout(kill);
  }

  private send(cmd: Record<string, unknown>): void {
    if (this.child?.stdin?.writable === true) this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  private onEvent(ev: DriverEvent): void {
    switch (ev.event) {
      case 'endpoint': {
        if (ev.worker >= this.endpoints.length) return;
        const { event: _event, ...e } = ev;
        this.endpoints[ev.worker] = e;
        const list = this.waiters.get(ev.worker) ?? [];
        const keep = list.filter((w) => w.notAt === e.endpoint);
        for (const w of list) if (w.notAt !== e.endpoint) this.settleWaiter(w, e, undefined);
        this.waiters.set(ev.worker, keep);
        return;
      }
      case 'lost': {
        if (ev.worker >= this.endpoints.length) return;
        const { event: _event, ...lost } = ev;
        if (this.endpoints[ev.worker]?.endpoint === lost.endpoint) this.endpoints[ev.worker] = undefined;
        this.lostActors++;
        this.lostSubject.next(lost);
        return;
      }
      case 'ready':
        this.started = true;
        this.failedDriverStarts = 0;
        return;
      case 'error':
        return;
    }
  }

  private settleWaiter(w: Waiter, e: ActorEndpoint | undefined, err: Error | undefined): void {
    clearTimeout(w.timer);
    if (e !== undefined) w.resolve(e);
    else w.reject(err ?? new Error('Ray sim cluster closed'));
  }
}
