/**
 * Entry point of the `csc` command: train | eval | compare | plot | record | sim | node | version.
 * Mistakes on the command line exit 2 with the subcommand's usage; errors of a run exit 1 with
 * the error's own message (named error classes say what, where and what was expected).
 */
import { readFileSync } from 'node:fs';

const USAGE = `Usage: csc <command> [options]

Commands:
  train     train a policy (CSC, TRPO, Q-ensembles, CPO, SAC) into a run folder
  eval      run a checkpoint with or without the safety filter
  compare   algorithms × seeds × χ, one run folder each, resumable; summary and figures
  plot      the paper's figures from run folders (SVG and PNG)
  record    roll out a run's policy and write its transitions as seed data (--seed-data)
  sim       serve a Python simulator over ZeroMQ (csc sim serve)
  node      the ROS 2 safety node (on a robot, or sim in the loop with --sim ENV)
  help      this text
  version   the package's version (also --version, -v)

Run 'csc <command> --help' for a command's options.
`;

type Command = (argv: readonly string[]) => Promise<number>;

/** A subcommand's entry and usage text, from its module. */
interface CommandModule {
  readonly run: Command;
  readonly usage: string;
}

/**
 * Each subcommand's module is imported only when it runs: they pull in TensorFlow.js, vega and
 * ZeroMQ, which would cost `csc --help` and `csc --version` a second of start-up
 * (bench/startup.ts).
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  train: async () => import('./train.ts').then((m) => ({ run: m.trainCommand, usage: m.TRAIN_USAGE })),
  eval: async () => import('./eval.ts').then((m) => ({ run: m.evalCommand, usage: m.EVAL_USAGE })),
  compare: async () => import('./compare.ts').then((m) => ({ run: (argv) => m.compareCommand(argv), usage: m.COMPARE_USAGE })),
  plot: async () => import('./plot.ts').then((m) => ({ run: (argv) => m.plotCommand(argv), usage: m.PLOT_USAGE })),
  record: async () => import('./record.ts').then((m) => ({ run: m.recordCommand, usage: m.RECORD_USAGE })),
  sim: async () => import('./sim.ts').then((m) => ({ run: m.simCommand, usage: m.SIM_USAGE })),
  node: async () => import('./node.ts').then((m) => ({ run: m.nodeCommand, usage: m.NODE_USAGE })),
};

/** The `version` of the package.json two folders up: the same file from src/cli/ and dist/cli/. */
export function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
  if (typeof version !== 'string') throw new Error(`package.json next to the csc sources has no string "version" (got ${JSON.stringify(version)})`);
  return version;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === 'version' || name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    process.stderr.write(`csc: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  const cmd = await load();
  try {
    return await cmd.run(rest);
  } catch (e) {
    // args.ts is loaded by now (every command parses its flags with it); importing it up front
    // would load the TensorFlow.js backends for `csc --help`.
    const { UsageError } = await import('./args.ts');
    if (e instanceof UsageError) {
      process.stderr.write(`csc ${name}: ${e.message}\n\n${cmd.usage}`);
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`csc ${name}: ${err.name === 'Error' ? '' : `${err.name}: `}${err.message}\n`);
    if (process.env.CSC_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}
