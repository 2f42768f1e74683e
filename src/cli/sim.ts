/**
 * `csc sim serve`: runs one csc-sim/1 server (`python -m csc_sim serve`) in the foreground, e.g. on
 * another host for `--sim tcp://host:port,...` on the learner. SIGINT/SIGTERM are forwarded to the
 * server, which shuts down cleanly; the command's exit code is the server's.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { REPO_ROOT, simChildEnv, simPython } from '../bridge/supervisor.ts';
import { simRobotCommand } from './sim-robot.ts';

/** Usage text of `csc sim`. */
export const SIM_USAGE = `usage: csc sim serve --env ID [--num-envs K] [--bind ADDR] [options]
       csc sim robot --env ID [--profile FILE] [options]   (the sim plays a robot on ROS 2; csc sim robot -h)

Runs a csc-sim/1 simulator server (docs/protocol.md) in the foreground until Ctrl-C / SIGTERM.
It prints one JSON line {"event":"ready","endpoint":...} once bound.

  --env ID               env id: a registered csc_sim env or gym:<GymnasiumId>      (required)
  --num-envs K           envs stepped as one batch per request                      (default 1)
  --bind ADDR            ZeroMQ endpoint: tcp://HOST:PORT (port 0 = any) or ipc://PATH
                                                                       (default tcp://127.0.0.1:0)
  --seed S               reset the batch with seed S before serving
  --env-arg KEY=VALUE    keyword argument for the env constructor, VALUE as JSON (repeatable)
  --failure-from MODE    gym: envs: terminated (default) | cost | none
  --health-budget H      gym: envs with --failure-from cost: starting health       (default 25)
  --cost-key KEY         gym: envs with --failure-from cost: info key of the cost  (default cost)
  --max-episode-steps N  override the env's time limit
  --python PATH          interpreter (default $CSC_SIM_PYTHON or sim/.venv/bin/python)
  -h, --help             show this help

Exit codes: 0 clean shutdown, 2 unknown env or bad arguments, 3 missing simulator package,
4 env failed to build, 5 cannot bind.`;

const PASS_THROUGH = ['env', 'num-envs', 'bind', 'seed', 'failure-from', 'health-budget', 'cost-key', 'max-episode-steps'] as const;

/** Entry of `csc sim ...` (`argv` excludes `sim`). Resolves with the exit code. */
export async function simCommand(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'robot') return simRobotCommand(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        env: { type: 'string' },
        'num-envs': { type: 'string' },
        bind: { type: 'string' },
        seed: { type: 'string' },
        'env-arg': { type: 'string', multiple: true },
        'failure-from': { type: 'string' },
        'health-budget': { type: 'string' },
        'cost-key': { type: 'string' },
        'max-episode-steps': { type: 'string' },
        python: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return usageError(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    console.log(SIM_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'serve') {
    return usageError(`expected the subcommand 'serve' or 'robot', got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  }
  if (values.env === undefined) return usageError('--env is required');
  for (const flag of ['num-envs', 'seed', 'max-episode-steps'] as const) {
    const v = values[flag];
    if (v !== undefined && !/^\d+$/.test(v)) return usageError(`--${flag} ${v}: expected a non-negative integer`);
  }

  const args = ['-m', 'csc_sim', 'serve'];
  for (const flag of PASS_THROUGH) {
    const v = values[flag];
    if (v !== undefined) args.push(`--${flag}`, v);
  }
  for (const kv of values['env-arg'] ?? []) args.push('--env-arg', kv);
  const python = values.python ?? simPython();

  return new Promise<number>((resolve) => {
    const child = spawn(python, args, { cwd: REPO_ROOT, env: simChildEnv(), stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const done = (code: number): void => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      console.error(
        e.code === 'ENOENT'
          ? `csc sim: no Python interpreter at ${python}; run scripts/setup-sim.sh or set CSC_SIM_PYTHON`
          : `csc sim: cannot start ${python}: ${e.message}`,
      );
      done(1);
    });
    child.once('exit', (code, signal) => {
      // a server killed by a signal reports 128 + n, as a shell would
      done(code ?? 128 + (signal !== null ? constants.signals[signal] : 0));
    });
  });
}

function usageError(message: string): number {
  console.error(`csc sim: ${message}\n\n${SIM_USAGE}`);
  return 2;
}
