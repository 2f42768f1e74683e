/**
 * Entry point of the `csc` command: train | eval | compare | plot | record | sim | node | bench.
 * Mistakes on the command line exit 2 with the subcommand's usage; errors of a run exit 1 with
 * the error's own message (named error classes say what, where and what was expected).
 */
import { UsageError } from './args.ts';
import { COMPARE_USAGE, compareCommand } from './compare.ts';
import { EVAL_USAGE, evalCommand } from './eval.ts';
import { NODE_USAGE, nodeCommand } from './node.ts';
import { PLOT_USAGE, plotCommand } from './plot.ts';
import { RECORD_USAGE, recordCommand } from './record.ts';
import { SIM_USAGE, simCommand } from './sim.ts';
import { TRAIN_USAGE, trainCommand } from './train.ts';

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

Run 'csc <command> --help' for a command's options.
`;

type Command = (argv: readonly string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  train: { run: trainCommand, usage: TRAIN_USAGE },
  eval: { run: evalCommand, usage: EVAL_USAGE },
  compare: { run: (argv) => compareCommand(argv), usage: COMPARE_USAGE },
  plot: { run: (argv) => plotCommand(argv), usage: PLOT_USAGE },
  record: { run: recordCommand, usage: RECORD_USAGE },
  sim: { run: simCommand, usage: SIM_USAGE },
  node: { run: nodeCommand, usage: NODE_USAGE },
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (cmd === undefined) {
    process.stderr.write(`csc: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
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
