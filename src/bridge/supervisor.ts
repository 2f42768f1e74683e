/**
 * Spawning and supervising `python -m csc_sim serve` processes, and the worker abstraction the
 * remote env steps through: a worker is one server, either spawned here (restartable) or reached at
 * a given endpoint (reconnectable only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimClient } from './client.ts';
import { SimActorLostError, SimServerDiedError, SimStartError, type SimStartFailure } from './errors.ts';
import type { RaySimCluster } from './ray-cluster.ts';

/** Repository root (this file is src/bridge/supervisor.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The interpreter that runs csc_sim: `$CSC_SIM_PYTHON`, else the venv scripts/setup-sim.sh makes. */
export function simPython(): string {
  return process.env.CSC_SIM_PYTHON ?? join(REPO_ROOT, 'sim', '.venv', 'bin', 'python');
}

/** Extra keyword arguments for the env constructor, sent as `--env-arg KEY=<json>`. */
export type EnvArgs = Readonly<Record<string, string | number | boolean>>;

/** How to start one server. */
export interface ServeOptions {
  readonly envId: string;
  readonly numEnvs: number;
  /** ZeroMQ endpoint to bind, e.g. `ipc:///tmp/x.sock` or `tcp://127.0.0.1:0`. */
  readonly bind: string;
  readonly envArgs?: EnvArgs;
  /** Interpreter; default {@link simPython}. */
  readonly python?: string;
  /** How long to wait for the ready line; building a heavy simulator can take a while. */
  readonly startTimeoutMs?: number;
}

/** Builds the argument list of `python -m csc_sim serve`. */
export function serveArgs(o: Pick<ServeOptions, 'envId' | 'numEnvs' | 'bind' | 'envArgs'>, parentPid?: number): string[] {
  const args = ['-m', 'csc_sim', 'serve', '--env', o.envId, '--num-envs', String(o.numEnvs), '--bind', o.bind];
  for (const [k, v] of Object.entries(o.envArgs ?? {})) args.push('--env-arg', `${k}=${JSON.stringify(v)}`);
  if (parentPid !== undefined) args.push('--parent-pid', String(parentPid));
  return args;
}

/** Environment for a child interpreter: csc_sim importable even without the editable install. */
export function simChildEnv(): NodeJS.ProcessEnv {
  const simDir = join(REPO_ROOT, 'sim');
  const pp = process.env.PYTHONPATH;
  return { ...process.env, PYTHONUNBUFFERED: '1', PYTHONPATH: pp ? `${simDir}:${pp}` : simDir };
}

// Children still alive when Node exits are killed, so a crashed learner leaves no servers behind.
const liveChildren = new Map<ChildProcess, NodeJS.Signals>();
process.on('exit', () => {
  for (const [c, signal] of liveChildren) c.kill(signal);
});

/**
 * Sends `signal` to `child` if it is still alive when Node exits. SIGKILL for a server; SIGTERM for
 * a process that must clean up after itself (the Ray driver kills its actors on SIGTERM).
 */
export function killOnExit(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  liveChildren.set(child, signal);
  child.once('exit', () => liveChildren.delete(child));
}

const START_REASONS: Record<string, SimStartFailure> = {
  unknown_env: 'unknown_env',
  missing_simulator: 'missing_simulator',
  env_error: 'env_error',
  bind_failed: 'bind_failed',
};

/** How a server process ended. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running `python -m csc_sim serve` process. */
export class SimProcess {
  private exitInfo: ExitInfo | undefined;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;

  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
    private readonly stderrTail: () => string,
  ) {
    this.exited = new Promise((res) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.exitInfo = { code: child.exitCode, signal: child.signalCode };
        res(this.exitInfo);
        return;
      }
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        res(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Set once the process has exited. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** The last lines the server wrote to stderr (for error messages). */
  get stderr(): string {
    return this.stderrTail();
  }

  /** Sends a signal (no-op once exited). */
  kill(signal: NodeJS.Signals): void {
    if (this.exitInfo === undefined) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 2000): Promise<ExitInfo> {
    if (this.exitInfo !== undefined) return this.exitInfo;
    this.kill('SIGTERM');
    const timer = setTimeout(() => { this.kill('SIGKILL'); }, graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  /** Spawns a server and waits for its ready line; rejects with {@link SimStartError} otherwise. */
  static spawn(o: ServeOptions): Promise<SimProcess> {
    const python = o.python ?? simPython();
    const startTimeoutMs = o.startTimeoutMs ?? 60_000;
    const child = spawn(python, serveArgs(o, process.pid), {
      cwd: REPO_ROOT,
      env: simChildEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnExit(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr = (stderr + s).slice(-4000);
    });
    const tail = (): string => stderr.trim();

    return new Promise<SimProcess>((resolveReady, rejectReady) => {
      let stdoutBuf = '';
      let errorLine: { code: string; message: string } | undefined;
      let settled = false;
      const fail = (reason: SimStartFailure, message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        rejectReady(new SimStartError(o.envId, reason, message, tail()));
      };
      const timer = setTimeout(() => {
        fail('timeout', `no ready line within ${startTimeoutMs} ms${tail() ? `; stderr: ${tail()}` : ''}`);
      }, startTimeoutMs);
      child.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') {
          fail('no_python', `no Python interpreter at ${python}; run scripts/setup-sim.sh or set CSC_SIM_PYTHON`);
        } else fail('exited', `spawning ${python} failed: ${e.message}`);
      });
      // 'close' (not 'exit'): it comes after stdout and stderr are drained, so the error line is in
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        const reason = errorLine !== undefined ? (START_REASONS[errorLine.code] ?? 'exited') : 'exited';
        const why = errorLine?.message ?? (tail() || 'no output');
        fail(reason, `server exited (${signal ?? `code ${code ?? '?'}`}) before it was ready: ${why}`);
      });
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (s: string) => {
        if (settled) return;
        stdoutBuf += s;
        let nl: number;
        while ((nl = stdoutBuf.indexOf('\n')) >= 0) {
          const line = stdoutBuf.slice(0, nl).trim();
          stdoutBuf = stdoutBuf.slice(nl + 1);
          const ev = parseEventLine(line);
          if (ev?.event === 'ready') {
            settled = true;
            clearTimeout(timer);
            resolveReady(new SimProcess(child, ev.endpoint, tail));
            return;
          }
          if (ev?.event === 'error') errorLine = ev;
        }
      });
    });
  }
}

type EventLine = { event: 'ready'; endpoint: string } | { event: 'error'; code: string; message: string };

/**
 * One stdout line of a Python child (a sim server, the Ray driver) as a JSON object, or undefined
 * for anything else (a simulator's chatter).
 */
export function parseJsonObjectLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  return typeof v === 'object' && v !== null ? { ...v } : undefined;
}

/** Reads one of the server's JSON stdout lines; anything else (a simulator's chatter) is ignored. */
export function parseEventLine(line: string): EventLine | undefined {
  const o = parseJsonObjectLine(line);
  if (o === undefined) return undefined;
  if (o.event === 'ready' && typeof o.endpoint === 'string') return { event: 'ready', endpoint: o.endpoint };
  if (o.event === 'error' && typeof o.code === 'string' && typeof o.message === 'string') {
    return { event: 'error', code: o.code, message: o.message };
  }
  return undefined;
}

/** Where a worker's server comes from. */
export type WorkerSource =
  | {
      readonly kind: 'spawn';
      readonly envId: string;
      readonly numEnvs: number;
      readonly transport: 'ipc' | 'tcp';
      readonly envArgs?: EnvArgs;
      readonly python?: string;
      readonly startTimeoutMs?: number;
    }
  | { readonly kind: 'connect'; readonly endpoint: string }
  /** Worker `index` of a Ray cluster of sim actors: CURVE, and replaced through the driver. */
  | { readonly kind: 'cluster'; readonly cluster: RaySimCluster; readonly replaceTimeoutMs: number };

/**
 * One server and the client connected to it. `restart()` replaces a dead or hung server: a spawned
 * one is killed (SIGKILL) and spawned afresh on a new endpoint; a Ray actor is replaced by the
 * cluster's driver, on whatever node has room; a remote one gets a new socket (we cannot restart
 * another host's process).
 */
export class SimWorker {
  private proc: SimProcess | undefined;
  private clientNow: SimClient;
  private generation = 0;
  private closing = false;
  private unwatchCluster: (() => void) | undefined;

  private constructor(
    readonly index: number,
    readonly source: WorkerSource,
    private readonly ipcDir: string | undefined,
    private readonly timeoutMs: number,
    proc: SimProcess | undefined,
    client: SimClient,
  ) {
    this.proc = proc;
    this.clientNow = client;
    this.watch();
  }

  /** Starts (or connects to) the server of worker `index`. */
  static async start(index: number, source: WorkerSource, ipcDir: string | undefined, timeoutMs: number): Promise<SimWorker> {
    if (source.kind === 'connect') {
      return new SimWorker(index, source, ipcDir, timeoutMs, undefined, SimClient.connect(source.endpoint, { timeoutMs }));
    }
    if (source.kind === 'cluster') {
      const e = source.cluster.endpoint(index);
      return new SimWorker(index, source, ipcDir, timeoutMs, undefined, SimClient.connect(e.endpoint, { timeoutMs, curve: source.cluster.curveFor(e) }));
    }
    const proc = await SimProcess.spawn(spawnOptions(source, index, 0, ipcDir));
    return new SimWorker(index, source, ipcDir, timeoutMs, proc, SimClient.connect(proc.endpoint, { timeoutMs }));
  }

  get client(): SimClient {
    return this.clientNow;
  }

  get endpoint(): string {
    return this.clientNow.endpoint;
  }

  /** Pid of the spawned server (undefined for remote servers). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Whether this worker's server can be restarted by us (spawned, or a Ray actor). */
  get restartable(): boolean {
    return this.source.kind !== 'connect';
  }

  /** Replaces the server (spawned) or the connection (remote). */
  async restart(): Promise<void> {
    if (this.closing) throw new Error(`sim worker ${this.index}: restart after close`);
    this.clientNow.disconnect();
    this.generation++;
    if (this.source.kind === 'connect') {
      this.clientNow = SimClient.connect(this.source.endpoint, { timeoutMs: this.timeoutMs });
      return;
    }
    if (this.source.kind === 'cluster') {
      const cluster = this.source.cluster;
      const e = await cluster.replace(this.index, this.clientNow.endpoint, this.source.replaceTimeoutMs);
      if (this.closing) throw new Error(`sim worker ${this.index}: closed during restart`);
      this.clientNow = SimClient.connect(e.endpoint, { timeoutMs: this.timeoutMs, curve: cluster.curveFor(e) });
      this.watch();
      return;
    }
    if (this.proc !== undefined) {
      this.proc.kill('SIGKILL');
      await this.proc.exited;
      this.proc = undefined;
    }
    const proc = await SimProcess.spawn(spawnOptions(this.source, this.index, this.generation, this.ipcDir));
    if (this.closing) {
      // close() ran while we were spawning and could not see this process
      await proc.stop();
      throw new Error(`sim worker ${this.index}: closed during restart`);
    }
    this.proc = proc;
    this.clientNow = SimClient.connect(proc.endpoint, { timeoutMs: this.timeoutMs });
    this.watch();
  }

  /**
   * Shuts the server down: `close` op, then SIGTERM/SIGKILL for a spawned one. Idempotent. A Ray
   * actor is only disconnected from: its cluster's driver kills the actors when it closes.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.unwatchCluster?.();
    const proc = this.proc;
    if (proc !== undefined && proc.exit === undefined) {
      try {
        await this.clientNow.close(1000);
      } catch {
        // a dead or hung server cannot answer close; the signals below end it
      }
      const timer = setTimeout(() => { proc.kill('SIGTERM'); }, 1000);
      const killer = setTimeout(() => { proc.kill('SIGKILL'); }, 3000);
      await proc.exited;
      clearTimeout(timer);
      clearTimeout(killer);
    }
    this.clientNow.disconnect();
  }

  // A spawned server that exits, or a Ray actor the driver reports lost, fails its in-flight
  // requests at once instead of at their timeout.
  private watch(): void {
    const proc = this.proc;
    const client = this.clientNow;
    if (this.source.kind === 'cluster') {
      this.unwatchCluster?.();
      const sub = this.source.cluster.lost.subscribe((lost) => {
        if (lost.worker !== this.index || lost.endpoint !== client.endpoint || this.closing || client.closed) return;
        client.failAll(new SimActorLostError(client.endpoint, this.index, lost.reason));
      });
      this.unwatchCluster = () => { sub.unsubscribe(); };
      return;
    }
    if (proc === undefined) return;
    void proc.exited.then((info) => {
      if (this.closing || client.closed) return;
      client.failAll(new SimServerDiedError(client.endpoint, proc.pid, info.code, info.signal));
    });
  }
}

function spawnOptions(
  source: Extract<WorkerSource, { kind: 'spawn' }>,
  index: number,
  generation: number,
  ipcDir: string | undefined,
): ServeOptions {
  const bind =
    source.transport === 'tcp' || ipcDir === undefined
      ? 'tcp://127.0.0.1:0'
      : `ipc://${join(ipcDir, `w${index}-g${generation}.sock`)}`;
  return {
    envId: source.envId,
    numEnvs: source.numEnvs,
    bind,
    ...(source.envArgs !== undefined ? { envArgs: source.envArgs } : {}),
    ...(source.python !== undefined ? { python: source.python } : {}),
    ...(source.startTimeoutMs !== undefined ? { startTimeoutMs: source.startTimeoutMs } : {}),
  };
}

/** A private directory for ipc sockets; removed by the returned cleanup. */
export function makeIpcDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'csc-sim-'));
  return { dir, remove: () => { rmSync(dir, { recursive: true, force: true }); } };
}
