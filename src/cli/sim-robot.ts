/**
 * `csc sim robot`: a Python sim plays the robot on a real ROS 2 graph. It publishes the profile's
 * state topics as a robot would (rebuilt from the sim's observation by `SimBridge`) and steps the
 * sim with every command it receives on the profile's command topic, so a deployment — the node,
 * its launch file, MoveIt Servo's protocol, the operators' tools — can be rehearsed without
 * hardware. The first episode starts at once; after an episode ends the robot stands (answering
 * commands with its last state) until a message on the profile's reset topic starts the next.
 */
import { makeVecEnv } from '../envs/make.ts';
import { loadProfile } from '../ros/profile.ts';
import { createRclnodejsTransport } from '../ros/rclnodejs-transport.ts';
import { SimBridge } from '../ros/sim-bridge.ts';
import { listFlag, numberFlag, parseFlags, UsageError } from './args.ts';
import { defaultProfileFor } from './node.ts';

export const SIM_ROBOT_USAGE = `usage: csc sim robot --env ID [--profile FILE] [--seed N] [--sim-endpoint URL] [--ros-args ...]

Plays the robot of a robot profile with the Python sim ENV on the ROS 2 graph (ROS 2 sourced,
rclnodejs installed): publishes the profile's state topics and steps the sim with each command
received on its command topic (one command, one sim step). Prints {"event":"ready",...} once its
topics are up; Ctrl-C / SIGTERM stop it (exit 0).

  --env ID            sim env (panda-push-topple, panda-push-boundary, laikago-walk)   (required)
  --profile FILE      robot profile (default: hardware/<robot>.yaml for the env)
  --seed N            seed of the first episode; episode k is seeded N + k             (default 0)
  --sim-endpoint URL  a running sim server (tcp://host:port) instead of spawning one
  -h, --help`;

const FLAGS = {
  env: { type: 'string' },
  profile: { type: 'string' },
  seed: { type: 'string' },
  'sim-endpoint': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Entry of `csc sim robot ...` (`argv` excludes `sim robot`). Resolves with the exit code. */
export async function simRobotCommand(argv: readonly string[]): Promise<number> {
  const rosAt = argv.indexOf('--ros-args');
  const { values: f } = parseFlags(rosAt < 0 ? argv : argv.slice(0, rosAt), FLAGS);
  if (f.help === true) {
    process.stdout.write(`${SIM_ROBOT_USAGE}\n`);
    return 0;
  }
  if (f.env === undefined) throw new UsageError('--env is required');
  const seed = numberFlag(f.seed, '--seed', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0') ?? 0;
  const profileFile = f.profile ?? defaultProfileFor(f.env);
  const profile = await loadProfile(profileFile);
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const transport = await createRclnodejsTransport({ nodeName: 'csc_sim_robot', rosArgs: rosAt < 0 ? [] : argv.slice(rosAt), onSignal: () => { stop(); } });
  try {
    const env = await makeVecEnv(f.env, 1, { simEndpoints: listFlag(f['sim-endpoint']) });
    try {
      const bridge = new SimBridge(env, profile, transport);
      bridge.serve(seed, { startNow: true });
      process.stdout.write(`${JSON.stringify({ event: 'ready', env: env.spec.id, profile: profile.name, command: profile.command.topic, state: Object.values(profile.state) })}\n`);
      process.stderr.write(`csc sim robot: ${env.spec.id} plays ${profile.name}: state on ${Object.values(profile.state).join(', ')}; commands from ${profile.command.topic}\n`);
      await stopped;
      bridge.close();
      const fault = bridge.serveError;
      if (fault !== null) throw fault instanceof Error ? fault : new Error("the sim failed", { cause: fault });
    } finally {
      await env.close();
    }
  } finally {
    await transport.shutdown();
  }
  return 0;
}
