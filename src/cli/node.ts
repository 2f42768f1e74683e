/**
 * `csc node`: the ROS 2 safety node. On a robot it runs on rclnodejs (a sourced ROS 2 and the
 * optional `rclnodejs` package); with `--sim ENV` it runs against a Python sim through the
 * loopback transport (sim in the loop), so the whole deploy path runs without ROS 2.
 */
import { fileURLToPath } from 'node:url';
import { Subject, lastValueFrom, takeUntil } from 'rxjs';
import { loadDeployedPolicy } from '../algos/load.ts';
import { makeVecEnv } from '../envs/make.ts';
import { BACKEND_CHOICES, initBackend } from '../nn/backend.ts';
import { LoopbackGraph, LoopbackTransport } from '../ros/loopback.ts';
import { McapRecorder } from '../ros/mcap.ts';
import { type RobotProfile, loadProfile } from '../ros/profile.ts';
import { createRclnodejsTransport } from '../ros/rclnodejs-transport.ts';
import { recordNodeTopics, timeNs } from '../ros/record.ts';
import { type Decision, SafetyNode } from '../ros/safety-node.ts';
import { startServo } from '../ros/servo.ts';
import { SimBridge } from '../ros/sim-bridge.ts';
import type { RosTransport } from '../ros/transport.ts';
import { backendFlag, listFlag, numberFlag, parseFlags, UsageError } from './args.ts';
import { resolveCheckpointDir } from './eval.ts';

export const NODE_USAGE = `Usage: csc node --checkpoint PATH --profile FILE [options] [--ros-args ...]
       csc node --sim ENV --checkpoint PATH [options]

Runs a trained policy as a ROS 2 safety node: state topics in, commands filtered by the safety
critic Q_C and clamped to the profile's hard limits out, with a state watchdog, an e-stop latch,
the critic's numbers and diagnostics (docs/ros.md).

On a robot, ROS 2 must be sourced and rclnodejs built (bash scripts/setup-ros.sh); everything
after --ros-args goes to rcl (--params-file FILE, -p name:=value, -r from:=to). Parameters
(docs/ros-packaging.md): checkpoint, profile (when not flags), epsilon (negative: the
checkpoint's), state_timeout_ms (0: the profile's; may only tighten it), deterministic (default
true), record_path (MCAP file for the commands and the critic's numbers; empty: none).

With --sim ENV the node runs against the Python sim ENV (e.g. panda-push-topple) through the
in-process loopback transport, every message CDR-encoded; prints a JSON summary.

Options:
  --checkpoint PATH   a checkpoint directory, or a run folder (its latest checkpoint)
  --profile FILE      robot profile (default with --sim: hardware/<robot>.yaml for the env)
  --sim ENV           sim in the loop on this env instead of ROS 2
  --episodes N        with --sim: episodes to run (default 3)
  --max-steps N       with --sim: stop after N steps even within an episode
  --sim-endpoint URL  with --sim: a running sim server (tcp://host:port) instead of spawning one
  --epsilon X         filter threshold (default: ε of the checkpoint's last epoch)
  --no-filter         act with the policy alone (the hard limits still apply)
  --deterministic     first candidate is the policy's mean action (with --sim; on ROS 2 the
                      parameter deterministic, default true)
  --record FILE       write commands, critic numbers (and with --sim the transitions) to an MCAP file
  --seed N            seed of candidate sampling and sim resets (default 0)
  --backend NAME      ${BACKEND_CHOICES.join(' | ')}
  -h, --help
`;

const FLAGS = {
  checkpoint: { type: 'string' },
  profile: { type: 'string' },
  sim: { type: 'string' },
  episodes: { type: 'string' },
  'max-steps': { type: 'string' },
  'sim-endpoint': { type: 'string' },
  epsilon: { type: 'string' },
  'no-filter': { type: 'boolean' },
  deterministic: { type: 'boolean' },
  record: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The profile shipped for a sim env id (`panda-*` → hardware/panda.yaml). */
export function defaultProfileFor(envId: string): string {
  const robot = envId.split('-')[0] ?? '';
  if (robot !== 'panda' && robot !== 'laikago') throw new UsageError(`--sim ${envId}: no profile ships for it; pass --profile FILE (hardware/ has panda.yaml and laikago.yaml)`);
  return fileURLToPath(new URL(`../../hardware/${robot}.yaml`, import.meta.url));
}

export async function nodeCommand(argv: readonly string[]): Promise<number> {
  const rosAt = argv.indexOf('--ros-args');
  const own = rosAt < 0 ? argv : argv.slice(0, rosAt);
  const rosArgs = rosAt < 0 ? [] : argv.slice(rosAt);
  const { values: f } = parseFlags(own, FLAGS);
  if (f.help) {
    process.stdout.write(NODE_USAGE);
    return 0;
  }
  const backend = backendFlag(f.backend) ?? 'auto';
  const seed = numberFlag(f.seed, '--seed', Number.isInteger, 'an integer') ?? 0;
  const epsilonFlag = numberFlag(f.epsilon, '--epsilon');
  if (f.sim !== undefined) {
    if (rosArgs.length > 0) throw new UsageError('--ros-args applies to a ROS 2 run, not to --sim');
    if (f.checkpoint === undefined) throw new UsageError('--checkpoint is required');
    const episodes = numberFlag(f.episodes, '--episodes', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1') ?? 3;
    const maxSteps = numberFlag(f['max-steps'], '--max-steps', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
    await initBackend(backend);
    const profile = await loadProfile(f.profile ?? defaultProfileFor(f.sim));
    const summary = await runSimInTheLoop({
      envId: f.sim,
      checkpoint: await resolveCheckpointDir(f.checkpoint),
      profile,
      episodes,
      ...(maxSteps !== undefined ? { maxSteps } : {}),
      seed,
      ...(epsilonFlag !== undefined ? { epsilon: epsilonFlag } : {}),
      filter: f['no-filter'] !== true,
      deterministic: f.deterministic === true,
      simEndpoints: listFlag(f['sim-endpoint']),
      ...(f.record !== undefined ? { record: f.record } : {}),
    });
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  }
  if (f.episodes !== undefined || f['max-steps'] !== undefined || f['sim-endpoint'] !== undefined) throw new UsageError('--episodes, --max-steps and --sim-endpoint apply only with --sim');
  const stopped = new Subject<void>();
  const transport = await createRclnodejsTransport({
    nodeName: 'csc_node',
    rosArgs,
    onSignal: () => {
      stopped.next();
    },
  });
  try {
    await initBackend(backend);
    const checkpoint = f.checkpoint ?? transport.declareParameter('checkpoint', '');
    const profileFile = f.profile ?? transport.declareParameter('profile', '');
    if (checkpoint === '') throw new UsageError('--checkpoint (or the ROS parameter checkpoint) is required');
    if (profileFile === '') throw new UsageError('--profile (or the ROS parameter profile) is required');
    const profile = await loadProfile(profileFile);
    const dir = await resolveCheckpointDir(checkpoint);
    const policy = await loadDeployedPolicy(dir, { seed });
    let recorder: McapRecorder | null = null;
    try {
      const epsParam = transport.declareParameter('epsilon', -1.0);
      const epsilon = epsilonFlag ?? (epsParam >= 0 ? epsParam : policy.epsilon);
      const timeoutParam = transport.declareParameter('state_timeout_ms', 0.0);
      if (timeoutParam < 0 || timeoutParam > profile.stateTimeoutMs) throw new UsageError(`parameter state_timeout_ms = ${timeoutParam}: expected 0 (the profile's ${profile.stateTimeoutMs} ms) or a tighter positive value ≤ ${profile.stateTimeoutMs}`);
      const deterministic = f.deterministic === true ? true : transport.declareParameter('deterministic', true);
      const recordPath = f.record ?? transport.declareParameter('record_path', '');
      const filter = f['no-filter'] !== true;
      const node = new SafetyNode({ transport, profile, policy, epsilon, filter, deterministic, ...(timeoutParam > 0 ? { stateTimeoutMs: timeoutParam } : {}) });
      if (recordPath !== '') recorder = await McapRecorder.open(recordPath);
      const recording = recorder === null ? null : recordNodeTopics(transport, profile, recorder);
      process.stderr.write(`csc node: ${profile.name} at ${profile.controlRateHz} Hz, ${policy.algo} policy from ${dir} (${policy.spec.id}), ε = ${epsilon}, filter ${filter && policy.hasCritic ? 'on' : 'off'}${recordPath !== '' ? `, recording to ${recordPath}` : ''}\n`);
      // MoveIt Servo ignores commands until started: hold until it answers (docs/ros.md).
      const servoAbort = new AbortController();
      if (profile.robot === 'panda' && profile.servo.start) {
        node.waitFor(`waiting for MoveIt Servo at ${profile.servo.node} to start`);
        const log = (line: string): void => {
          process.stderr.write(`csc node: ${line}\n`);
        };
        void startServo({ transport, settings: profile.servo, distro: process.env.ROS_DISTRO ?? '', log, signal: servoAbort.signal }).then(
          (started) => {
            if (started) node.waitFor(null);
          },
          (e: unknown) => {
            log(`cannot start MoveIt Servo: ${e instanceof Error ? e.message : String(e)}; the node keeps holding`);
          },
        );
      }
      node.start();
      await lastValueFrom(node.decisions$.pipe(takeUntil(stopped)), { defaultValue: undefined });
      servoAbort.abort();
      node.stop();
      recording?.unsubscribe();
      process.stderr.write(`csc node: stopped; ${JSON.stringify(node.stats)}\n`);
    } finally {
      policy.dispose();
      await recorder?.close();
    }
  } finally {
    await transport.shutdown();
  }
  return 0;
}

/** Options of {@link runSimInTheLoop}. */
export interface SimInTheLoopOptions {
  readonly envId: string;
  readonly checkpoint: string;
  readonly profile: RobotProfile;
  readonly episodes: number;
  readonly maxSteps?: number;
  readonly seed: number;
  readonly epsilon?: number;
  readonly filter?: boolean;
  readonly deterministic?: boolean;
  readonly simEndpoints?: readonly string[] | undefined;
  /** MCAP file for commands, critic numbers and transitions. */
  readonly record?: string;
  /** Called with every decision and the observation the sim computed for that state. */
  readonly onDecision?: (d: Decision, simObs: Float32Array) => void;
}

/**
 * The node against a Python sim: loopback transport (CDR), `fresh-state` trigger (one decision per
 * sim step), and a state timeout of 60 s, since sim time is not wall time.
 */
export async function runSimInTheLoop(o: SimInTheLoopOptions): Promise<Record<string, unknown>> {
  const policy = await loadDeployedPolicy(o.checkpoint, { seed: o.seed });
  const graph = new LoopbackGraph();
  const nodeT: RosTransport = new LoopbackTransport(graph, { nodeName: 'csc_node' });
  const simT: RosTransport = new LoopbackTransport(graph, { nodeName: 'sim_bridge' });
  const env = await makeVecEnv(o.envId, 1, { simEndpoints: o.simEndpoints });
  try {
    const node = new SafetyNode({
      transport: nodeT,
      profile: o.profile,
      policy,
      trigger: 'fresh-state',
      stateTimeoutMs: 60_000,
      ...(o.epsilon !== undefined ? { epsilon: o.epsilon } : {}),
      filter: o.filter ?? true,
      deterministic: o.deterministic ?? false,
    });
    const bridge = new SimBridge(env, o.profile, simT);
    let obsMaxAbsDiff = 0;
    let qcSum = 0;
    let qcCount = 0;
    node.decisions$.subscribe((d) => {
      if (d.obs !== null) {
        for (let i = 0; i < d.obs.length; i++) obsMaxAbsDiff = Math.max(obsMaxAbsDiff, Math.abs(d.obs[i]! - bridge.lastObs[i]!));
      }
      if (Number.isFinite(d.qc)) {
        qcSum += d.qc;
        qcCount++;
      }
      o.onDecision?.(d, bridge.lastObs);
    });
    const recorder = o.record === undefined ? null : await McapRecorder.open(o.record);
    const recording = recorder === null ? null : recordNodeTopics(simT, o.profile, recorder);
    node.start();
    let run: Awaited<ReturnType<SimBridge['run']>>;
    try {
      run = await bridge.run(o.episodes, o.seed, o.maxSteps, recorder === null ? undefined : (tr) => {
        recorder.writeTransition(tr, timeNs(simT.now()));
      });
      node.stop();
    } finally {
      recording?.unsubscribe();
      bridge.close();
      await recorder?.close();
    }
    return {
      ...run,
      checkpoint: o.checkpoint,
      trainedOn: policy.spec.id,
      profile: o.profile.name,
      transport: 'loopback (CDR)',
      filter: (o.filter ?? true) && policy.hasCritic,
      epsilon: o.epsilon ?? policy.epsilon,
      node: node.stats,
      messages: Object.fromEntries(graph.published),
      meanQc: qcCount > 0 ? qcSum / qcCount : null,
      obsMaxAbsDiff,
    };
  } finally {
    policy.dispose();
    await nodeT.shutdown();
    await simT.shutdown();
    await env.close();
  }
}
