/** `csc train`: train a policy into a run folder. */
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ALGOS, ConfigError, DEFAULT_CONFIG, type LearnerConfig, PRESETS, type Preset, resolveConfig } from '../algos/config.ts';
import { BACKEND_CHOICES, initBackend } from '../nn/backend.ts';
import { formatHealth } from '../runs/health.ts';
import type { ProgressMode } from '../runs/progress.ts';
import { configEnvArgs, defaultRunDirName, readConfig, RUN_FILES } from '../runs/run-folder.ts';
import { train } from '../runs/train.ts';
import type { EnvArgs } from '../bridge/supervisor.ts';
import { backendFlag, listFlag, numberFlag, parseFlags, UsageError } from './args.ts';
import { resolveInitPolicy } from './init-policy.ts';

export const TRAIN_USAGE = `Usage: csc train [options]

Trains a policy with CSC or a baseline and writes a run folder: config.json, metrics.jsonl and
metrics.csv (one row per epoch), checkpoints/, status.json. Ctrl-C stops after the current epoch
and writes a checkpoint; a second Ctrl-C aborts.

Options:
  --env ID               environment (default point-nav; Python sims: car-nav, panda-push-topple,
                         panda-push-boundary, laikago-walk, laikago-stand, gym:<id>; a robot
                         through ROS 2: ros:panda, ros:laikago or ros:PROFILE.yaml, --num-envs 1,
                         ROS 2 sourced; --env-arg sim=panda-push-topple lets the sim play the
                         robot without ROS 2; docs/ros.md "Learning on the robot")
  --algo NAME            ${ALGOS.join(' | ')} (default csc)
  --chi X                χ, tolerated failures per episode (default ${DEFAULT_CONFIG.chi})
  --epochs N             epochs to train (default ${DEFAULT_CONFIG.epochs})
  --seed N               seed of everything stochastic (default 0)
  --num-envs N           envs stepped in lock-step (default ${DEFAULT_CONFIG.numEnvs})
  --steps-per-epoch N    env steps per epoch across envs (default ${DEFAULT_CONFIG.stepsPerEpoch})
  --out DIR              run folder (default runs/<env>-<algo>-s<seed>-<time>)
  --resume               continue the run in --out from its latest checkpoint
  --config FILE          JSON file of config fields (see src/algos/config.ts)
  --init-policy PATH     start from the policy of a checkpoint or run folder; observation/action
                         sizes must match. Default: laikago-walk (all algos but sac) starts from
                         the shipped standing controller checkpoints/laikago-stand (paper A.8),
                         other envs from a fresh policy; \`none\` starts fresh everywhere
  --seed-data FILE       seed the replay buffer D_env with a file of labelled transitions before
                         training (Appendix A.10; format: docs/seed-data.md; csc record makes one)
  --record-transitions FILE  write every transition of this run to a seed-data file (.jsonl,
                         .jsonl.gz, or .mcap: rosbag2, /csc/transition), for --seed-data of later runs
  --preset NAME          default | paper | filter-only | observed-cost: \`paper\` is Algorithm 1 exactly as printed
                         (ε = (1−γ)(χ − V̂_C), lowest-Q_C fallback, Q_C of π, λ from fresh samples);
                         \`filter-only\` keeps λ at 0 and drops the CQL term, so only the filter
                         guards exploration (it learns the Panda pushes, which the default does not;
                         on point-nav it fails 19× as often, about χ per episode); \`observed-cost\`
                         takes eq. 8's cost advantage and λ from the failures seen and bounds CQL's
                         lift (laikago-walk, 2M steps: 0.30–0.47× TRPO's falls at 0.99–1.15× its
                         reward, 3 seeds); the default
                         is what our measurements picked (docs/algorithm.md, docs/results.md);
                         --set and --config override it
  --set KEY=VALUE        any config field, repeatable (e.g. --set cqlAlpha=0.05)
  --backend NAME         ${BACKEND_CHOICES.join(' | ')} (default auto = wasm)
  --checkpoint-every N   epochs between checkpoints (default 10; always at the end)
  --progress MODE        auto | bar | plain | quiet (default auto: a bar on a terminal)
  --sim-workers N        sim servers for Python envs (default 1): local processes, or Ray actors
                         with --sim-cluster; --num-envs is split evenly over them
  --sim URLS             comma-separated endpoints of running sim servers (tcp://host:port,…)
  --sim-cluster ADDR     run the sim servers as Ray actors across a Ray cluster, spread over its
                         nodes, traffic encrypted and authenticated with ZeroMQ CURVE (keys made
                         per run): ray://HEAD:10001 (Ray Client, learner outside the cluster),
                         HEAD:6379 (learner on a node of the cluster), or auto (a Ray cluster
                         running on this machine, else a new local one). A dead actor or node is
                         replaced and its episodes in flight are dropped and counted. Needs Ray in
                         sim/.venv (scripts/setup-sim.sh) and on every node; docs/scale-out.md
  --env-arg KEY=VALUE    keyword argument for the Python env, VALUE as JSON, repeatable
                         (e.g. --env-arg failure_from=cost --env-arg health_budget=25); for ros:
                         envs: sim=ENV, state_timeout_ms=N, sim_seed=N,
                         record_commands=FILE.mcap
  -h, --help             this text
`;

const FLAGS = {
  env: { type: 'string' },
  algo: { type: 'string' },
  chi: { type: 'string' },
  epochs: { type: 'string' },
  seed: { type: 'string' },
  'num-envs': { type: 'string' },
  'steps-per-epoch': { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean' },
  config: { type: 'string' },
  'init-policy': { type: 'string' },
  'seed-data': { type: 'string' },
  'record-transitions': { type: 'string' },
  set: { type: 'string', multiple: true },
  preset: { type: 'string' },
  backend: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  progress: { type: 'string' },
  'sim-workers': { type: 'string' },
  sim: { type: 'string' },
  'sim-cluster': { type: 'string' },
  'env-arg': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses repeated `--env-arg KEY=JSON` flags into env constructor arguments. */
export function parseEnvArgs(kvs: readonly string[] | undefined): EnvArgs | undefined {
  if (kvs === undefined || kvs.length === 0) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env-arg ${JSON.stringify(kv)}: expected KEY=VALUE`);
    const raw = kv.slice(eq + 1);
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      v = raw; // a bare word is a string
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new UsageError(`--env-arg ${kv}: VALUE must be a JSON string, number or boolean`);
    }
    out[kv.slice(0, eq)] = v;
  }
  return out;
}

/** Parses `KEY=VALUE` into a typed config field, using the default's type. */
export function parseSet(kv: string): Partial<LearnerConfig> {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set ${JSON.stringify(kv)}: expected KEY=VALUE`);
  const key = kv.slice(0, eq);
  const raw = kv.slice(eq + 1);
  if (!(key in DEFAULT_CONFIG)) throw new UsageError(`--set ${key}: unknown config field; known: ${Object.keys(DEFAULT_CONFIG).join(', ')}`);
  const def = DEFAULT_CONFIG[key as keyof LearnerConfig];
  let value: unknown;
  if (typeof def === 'number') value = numberFlag(raw, `--set ${key}`);
  else if (typeof def === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new UsageError(`--set ${key}=${raw}: expected true or false`);
    value = raw === 'true';
  } else if (Array.isArray(def)) value = (listFlag(raw) ?? []).map((x) => numberFlag(x, `--set ${key}`));
  else value = raw;
  return { [key]: value };
}

/** Keeps only config fields from a config.json that also holds spec and provenance. */
function configFields(raw: unknown): Partial<LearnerConfig> {
  if (typeof raw !== 'object' || raw === null) throw new ConfigError('config.json does not hold an object');
  return Object.fromEntries(Object.entries(raw).filter(([k]) => k in DEFAULT_CONFIG));
}

export async function trainCommand(argv: readonly string[]): Promise<number> {
  const { values: f } = parseFlags(argv, FLAGS);
  if (f.help) {
    process.stdout.write(TRAIN_USAGE);
    return 0;
  }
  let overrides: Partial<LearnerConfig> = {};
  // a resumed run builds its env as the run did, unless --env-arg says otherwise
  let envArgs = parseEnvArgs(f['env-arg']);
  if (f.resume) {
    if (f.out === undefined) throw new UsageError('--resume needs --out DIR (the run folder to continue)');
    const saved = await readConfig(f.out);
    overrides = configFields(saved);
    envArgs ??= configEnvArgs(saved, join(f.out, RUN_FILES.config));
  }
  if (f.config !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(f.config, 'utf8'));
    } catch (e) {
      throw new UsageError(`--config ${f.config}: ${e instanceof Error ? e.message : String(e)}`);
    }
    overrides = { ...overrides, ...configFields(parsed) };
  }
  const pick = <K extends keyof LearnerConfig>(key: K, v: LearnerConfig[K] | undefined): void => {
    if (v !== undefined) overrides = { ...overrides, [key]: v };
  };
  pick('env', f.env);
  if (f.algo !== undefined && !ALGOS.includes(f.algo as LearnerConfig['algo'])) throw new UsageError(`--algo ${f.algo}: expected one of ${ALGOS.join(', ')}`);
  pick('algo', f.algo as LearnerConfig['algo'] | undefined);
  pick('chi', numberFlag(f.chi, '--chi'));
  pick('epochs', numberFlag(f.epochs, '--epochs', Number.isInteger, 'an integer'));
  pick('seed', numberFlag(f.seed, '--seed', Number.isInteger, 'an integer'));
  pick('numEnvs', numberFlag(f['num-envs'], '--num-envs', Number.isInteger, 'an integer'));
  pick('stepsPerEpoch', numberFlag(f['steps-per-epoch'], '--steps-per-epoch', Number.isInteger, 'an integer'));
  pick('backend', backendFlag(f.backend));
  for (const kv of f.set ?? []) overrides = { ...overrides, ...parseSet(kv) };
  const preset = f.preset ?? 'default';
  if (!(preset in PRESETS)) throw new UsageError(`--preset ${preset}: expected one of ${Object.keys(PRESETS).join(', ')}`);
  const config = resolveConfig(overrides, preset as Preset);
  const progress = (f.progress ?? 'auto') as ProgressMode;
  if (!['auto', 'bar', 'plain', 'quiet'].includes(progress)) throw new UsageError(`--progress ${progress}: expected auto, bar, plain or quiet`);
  const checkpointEvery = numberFlag(f['checkpoint-every'], '--checkpoint-every', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1') ?? 10;
  const simWorkers = numberFlag(f['sim-workers'], '--sim-workers', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  const out = f.out ?? `runs/${defaultRunDirName({ env: config.env, algo: config.algo, seed: config.seed })}`;

  const initPolicy = await resolveInitPolicy(f['init-policy'], config.env, config.algo, f.resume === true);

  const backend = await initBackend(config.backend);
  process.stderr.write(`csc train: ${config.algo} on ${config.env}, seed ${config.seed}, χ ${config.chi}; backend ${backend.detail}; run folder ${out}\n`);
  if (initPolicy !== undefined) process.stderr.write(`csc train: policy starts from ${initPolicy}\n`);

  let stopRequested = false;
  const onSigint = (): void => {
    if (stopRequested) {
      process.stderr.write('\ncsc train: aborted\n');
      process.exit(130);
    }
    stopRequested = true;
    process.stderr.write('\ncsc train: stopping after this epoch and writing a checkpoint (Ctrl-C again to abort)\n');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const result = await train({
      config,
      backend,
      out,
      resume: f.resume === true,
      checkpointEvery,
      progress,
      sim: { simWorkers, simEndpoints: listFlag(f.sim), simCluster: f['sim-cluster'], envArgs },
      shouldStop: () => stopRequested,
      ...(initPolicy !== undefined ? { initPolicy } : {}),
      ...(f['seed-data'] !== undefined ? { seedData: f['seed-data'] } : {}),
      ...(f['record-transitions'] !== undefined ? { recordTransitions: f['record-transitions'] } : {}),
      provenance: { command: ['csc', 'train', ...argv].join(' '), commit: gitCommit() },
    });
    const m = result.last;
    process.stderr.write(
      `csc train: ${result.stopped ? 'stopped' : 'done'} after ${result.epochs} epochs` +
        (m === undefined ? '' : `; episodes ${m.totalEpisodes}, cumulative failures ${m.cumulativeFailures}, last avg reward ${m.avgReward.toFixed(2)}`) +
        `; ${result.dir}` +
        (f['record-transitions'] !== undefined ? `; ${result.recordedTransitions} transitions recorded to ${f['record-transitions']}` : '') +
        '\n',
    );
    if (result.health.length > 0) process.stderr.write(`csc train: what the run's metrics say (also in ${join(result.dir, RUN_FILES.health)}):\n${formatHealth(result.health)}\n`);
    return result.stopped ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
