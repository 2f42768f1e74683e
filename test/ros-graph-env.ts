/**
 * The ROS 2 the graph tests run against (test/ros-graph.test.ts), and the processes they start.
 *
 * Which ROS 2: a sourced one (ROS_DISTRO and AMENT_PREFIX_PATH set), else the Jazzy core that
 * scripts/setup-ros.sh unpacked from ../shared/ros2 into its cache. Without either, or without
 * rclnodejs or colcon, {@link findRos} says why, in one line, and the tests skip.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where scripts/setup-ros.sh unpacks and builds. */
export function rosCache(env: NodeJS.ProcessEnv = process.env): string {
  return env.CSC_ROS_CACHE ?? join(homedir(), '.cache', 'csc_node', 'ros');
}

export type RosFound =
  | { readonly ok: true; readonly setupBash: string | null; readonly colcon: string; readonly rclnodejs: string }
  | { readonly ok: false; readonly reason: string };

/** Finds a ROS 2, colcon and rclnodejs for the graph tests, or the reason to skip them. */
export function findRos(env: NodeJS.ProcessEnv, cache: string, repo: string): RosFound {
  let setupBash: string | null = null;
  if ((env.ROS_DISTRO ?? '') === '' || (env.AMENT_PREFIX_PATH ?? '') === '') {
    setupBash = join(cache, 'jazzy', 'setup.bash');
    if (!existsSync(setupBash)) return { ok: false, reason: `no ROS 2: none is sourced and ${setupBash} does not exist (scripts/setup-ros.sh unpacks one from ../shared/ros2 when that is there); source a ROS 2 to run the ROS graph tests` };
  }
  const rclnodejs = join(repo, 'node_modules', 'rclnodejs');
  if (!existsSync(join(rclnodejs, 'package.json'))) return { ok: false, reason: `rclnodejs is not installed in ${join(repo, 'node_modules')}: run scripts/setup-ros.sh` };
  const cached = join(cache, 'colcon', 'bin', 'colcon');
  const onPath = spawnSync('bash', ['-c', 'command -v colcon'], { encoding: 'utf8', env }).stdout.trim();
  const colcon = existsSync(cached) ? cached : onPath;
  if (colcon === '') return { ok: false, reason: `colcon is not installed (neither ${cached} nor on PATH): run scripts/setup-ros.sh` };
  return { ok: true, setupBash, colcon, rclnodejs };
}

/** The environment after sourcing `scripts` (bash) on top of `base`. */
export function sourced(base: NodeJS.ProcessEnv, scripts: readonly string[]): NodeJS.ProcessEnv {
  const cmd = [...scripts.map((s) => `source ${JSON.stringify(s)}`), 'env -0'].join(' && ');
  const r = spawnSync('bash', ['-c', cmd], { env: base, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`sourcing ${scripts.join(', ')} failed (exit ${r.status}): ${r.stderr}`);
  const env: NodeJS.ProcessEnv = {};
  for (const kv of r.stdout.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

/** A process of the test graph with its output kept line by line. */
export class Proc {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    cmd: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    cwd: string,
  ) {
    // Its own process group, so a kill reaches the children too (the sim robot's Python server).
    this.child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        this.lines.push(...parts);
        for (const w of this.waiters.splice(0)) w();
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        for (const w of this.waiters.splice(0)) w();
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** JSON lines (those that parse as an object). */
  json(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const l of this.lines) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // a log line that happens to start with '{'
      }
    }
    return out;
  }

  /**
   * Waits until `check` holds on the output, failing after `limitMs` (a bound on a hang, not a
   * timing requirement) or if the process exits first.
   */
  async until<T>(what: string, check: () => T | undefined | false, limitMs = 120_000): Promise<T> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; its output:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: still waiting for ${what} after ${limitMs / 1000} s; its output:\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Sends `signal` to the process group. */
  signal(signal: NodeJS.Signals): void {
    if (this.child.pid !== undefined && this.running) {
      try {
        process.kill(-this.child.pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** SIGINT (how ROS 2 processes are stopped), then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal('SIGINT');
    const t = setTimeout(() => {
      this.signal('SIGKILL');
    }, graceMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

/** Runs a command to completion (ros2 CLI); fails with its output on a non-zero exit. */
export function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, limitMs = 120_000): string {
  // SIGINT on a hang: ros2 CLI processes can ignore SIGTERM (shared/ros2/README.md).
  const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8', timeout: limitMs, killSignal: 'SIGINT', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
