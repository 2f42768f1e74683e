/**
 * The safety node on a real ROS 2 graph (rcl, CycloneDDS, rclnodejs, rclpy, ros2 CLI, colcon):
 *
 * - `colcon build` of this package and of a moveit_msgs stand-in (Servo's ServoCommandType,
 *   verbatim) into a temporary workspace;
 * - `ros2 launch csc_node panda.launch.py` with the Panda played by `csc sim robot` (the Python
 *   sim) and MoveIt Servo's input contract played by test/ros_graph/servo_standin.py (Jazzy):
 *   the handshake with retries, commands flowing once Servo is started, stamps fresh, /csc/critic
 *   and /diagnostics, parameters from the params file (`ros2 param get`), a recording readable by
 *   Python's MCAP tools, a killed state publisher → hold, e-stop via `ros2 topic pub` latched,
 *   SIGINT → clean exit;
 * - the installed `csc_node` executable against a Humble Servo (start_servo) with `-p`
 *   overrides: their types, the final hold on SIGINT and exit 0; a mistyped parameter refused;
 * - `ros2 launch csc_node laikago.launch.py` with the Laikago played by the sim.
 *
 * ROS 2 comes from scripts/setup-ros.sh (or a sourced install); without one the suite is skipped
 * with one line saying why. Every process runs on a private DDS domain, discovery on localhost.
 * Waits have generous limits that only bound a hang; nothing asserts how fast anything was.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CscLearner } from '../src/algos/csc.ts';
import { resolveConfig } from '../src/algos/config.ts';
import { makeVecEnv } from '../src/envs/make.ts';
import { initBackend } from '../src/nn/backend.ts';
import { Proc, findRos, rosCache, run, sourced } from './ros-graph-env.ts';

const REPO = process.cwd();
const found = findRos(process.env, rosCache(), REPO);
const SIM_PYTHON = process.env.CSC_SIM_PYTHON ?? join(REPO, 'sim', '.venv', 'bin', 'python');
/** The unpacked core's rclpy runs on Debian's python3 (shared/ros2/README.md); a sourced ROS 2 on its own. */
const ROS_PYTHON = found.ok && found.setupBash !== null ? '/usr/bin/python3' : 'python3';

test('without a ROS 2 the graph tests skip with one line saying why; setup-ros.sh says so and succeeds', () => {
  const none = findRos({ PATH: process.env.PATH ?? '' }, '/nonexistent/csc-ros-cache', REPO);
  assert.equal(none.ok, false);
  assert.match(!none.ok ? none.reason : '', /^no ROS 2: none is sourced and \/nonexistent\/csc-ros-cache\/jazzy\/setup\.bash does not exist .*source a ROS 2 to run the ROS graph tests$/);
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', CSC_ROS_CACHE: '/nonexistent/csc-ros-cache', CSC_ROS_TARBALL: '/nonexistent/ros2.tar.zst' };
  const r = spawnSync('bash', ['scripts/setup-ros.sh'], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /^setup-ros: no ROS 2: none is sourced and there is no \/nonexistent\/ros2\.tar\.zst; the ROS graph tests will skip$/m);
});

interface Sample {
  readonly topic: string;
  readonly linear?: number[];
  readonly stamp?: number[];
  readonly frame?: string;
  readonly data?: number[];
  readonly level?: number;
  readonly message?: string;
  readonly values?: Record<string, string>;
}

describe('ROS 2 graph', { skip: found.ok ? false : found.reason }, () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const procs: Proc[] = [];
  const ckpt = { panda: '', laikago: '' };

  const start = (name: string, cmd: string, args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Proc => {
    const p = new Proc(name, cmd, args, { ...env, ...extraEnv }, REPO);
    procs.push(p);
    return p;
  };
  const ros2 = (...args: string[]): string => run('ros2', args, env, dir);
  const csc = (name: string, ...args: string[]): Proc => start(name, process.execPath, ['bin/csc.mjs', ...args]);
  const probe = (...topics: string[]): Proc => start('probe', ROS_PYTHON, ['test/ros_graph/probe.py', ...topics]);
  const samples = (p: Proc, topic?: string): Sample[] => (p.json() as unknown as Sample[]).filter((s) => typeof s.topic === 'string' && (topic === undefined || s.topic === topic));
  const ready = (p: Proc): Promise<Record<string, unknown>> => p.until('a ready line', () => p.json().find((j) => j.ready === true || j.event === 'ready'));
  const servoEvent = (p: Proc, event: string): Record<string, unknown> | undefined => p.json().find((j) => j.event === event);

  before(async () => {
    if (!found.ok) return;
    dir = await mkdtemp(join(tmpdir(), 'csc-ros-graph-'));
    const base: NodeJS.ProcessEnv = {
      ...process.env,
      // A private domain, discovery on this host only.
      ROS_DOMAIN_ID: String(100 + (process.pid % 100)),
      ROS_AUTOMATIC_DISCOVERY_RANGE: 'LOCALHOST',
      PYTHONUNBUFFERED: '1',
      RCUTILS_COLORIZED_OUTPUT: '0',
    };
    const underlay = found.setupBash === null ? base : sourced(base, [found.setupBash]);
    // colcon build: this package (the repository) and the moveit_msgs stand-in. The unpacked core's
    // Python tools run on Debian's python3 (shared/ros2/README.md).
    const cmakeArgs = found.setupBash !== null && existsSync('/usr/bin/python3') ? ['--cmake-args', '-DPython3_EXECUTABLE=/usr/bin/python3'] : [];
    run(found.colcon, ['build', '--merge-install', '--base-paths', REPO, join(REPO, 'test', 'ros_graph', 'moveit_msgs'), ...cmakeArgs], underlay, dir, 300_000);
    env = sourced(underlay, [join(dir, 'install', 'setup.bash')]);
    // rclnodejs generates its JS message classes from the ROS 2 sourced when it was built; the
    // node's Servo client needs moveit_msgs', so generate them once with the workspace sourced.
    if (!existsSync(join(found.rclnodejs, 'generated', 'moveit_msgs'))) run(process.execPath, [join(found.rclnodejs, 'scripts', 'generate_messages.cjs')], env, found.rclnodejs, 300_000);
    // Checkpoints in the real format (untrained weights: the node cannot tell the difference).
    await initBackend('auto');
    for (const [robot, id] of [['panda', 'panda-push-topple'], ['laikago', 'laikago-walk']] as const) {
      const vec = await makeVecEnv(id, 1);
      try {
        const learner = new CscLearner(resolveConfig({ env: id, numEnvs: 1 }), vec);
        ckpt[robot] = join(dir, 'ckpt', id);
        await learner.save(ckpt[robot]);
        learner.dispose();
      } finally {
        await vec.close();
      }
    }
  });

  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop(5000)));
  });

  after(async () => {
    // The ros2 CLI leaves its daemon running; it is ours to stop.
    if (dir !== '') spawnSync('ros2', ['daemon', 'stop'], { env, cwd: dir, timeout: 30_000, killSignal: 'SIGINT' });
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('colcon build installs csc_node and the moveit_msgs stand-in with Servo\'s definition verbatim', async () => {
    for (const f of ['lib/csc_node/csc_node', 'share/csc_node/launch/panda.launch.py', 'share/csc_node/launch/laikago.launch.py', 'share/csc_node/hardware/panda.yaml', 'share/csc_node/config/panda.params.yaml', 'share/csc_node/msg/Transition.msg']) {
      assert.ok(existsSync(join(dir, 'install', f)), f);
    }
    assert.equal(ros2('pkg', 'prefix', 'csc_node').trim(), join(dir, 'install'));
    const definition = await readFile(join(REPO, 'test', 'ros_graph', 'moveit_msgs', 'srv', 'ServoCommandType.srv'), 'utf8');
    assert.equal(ros2('interface', 'show', 'moveit_msgs/srv/ServoCommandType').trim(), definition.trim());
  });

  test('ros2 launch panda.launch.py (Jazzy Servo): handshake, commands, critic, diagnostics, params, recording, stale state, e-stop, SIGINT', async () => {
    const bag = join(dir, 'panda.mcap');
    const params = join(dir, 'panda.params.yaml');
    await writeFile(params, `csc_node:\n  ros__parameters:\n    epsilon: 0.5\n    state_timeout_ms: 0.0\n    deterministic: true\n    record_path: "${bag}"\n`);
    const cmd = '/servo_node/delta_twist_cmds';
    const p = probe(`${cmd}:geometry_msgs/msg/TwistStamped`, '/csc/critic:std_msgs/msg/Float64MultiArray', '/diagnostics:diagnostic_msgs/msg/DiagnosticArray', '/csc/ee_pose:geometry_msgs/msg/PoseStamped');
    await ready(p);
    const robot = csc('sim robot', 'sim', 'robot', '--env', 'panda-push-topple', '--profile', 'hardware/panda.yaml', '--seed', '1');
    await ready(robot);
    const launch = start('ros2 launch', 'ros2', ['launch', 'csc_node', 'panda.launch.py', `checkpoint:=${ckpt.panda}`, `params_file:=${params}`]);

    // Before Servo runs the node holds, says why, and keeps asking.
    const waiting = await p.until('a diagnostics hold waiting for Servo', () => samples(p, '/diagnostics').find((d) => /^hold \(waiting\): waiting for MoveIt Servo at \/servo_node to start$/.test(d.message ?? '')));
    assert.equal(waiting.level, 1);
    await launch.until('the first "waiting for MoveIt Servo" log', () => launch.lines.find((l) => /waiting for MoveIt Servo: \/servo_node\/switch_command_type \(moveit_msgs\/srv\/ServoCommandType, command_type TWIST = 1\): no answer \(attempt 1;/.test(l)));
    await p.until('hold commands on the command topic', () => samples(p, cmd).length >= 3);

    // Servo comes up late: it ignores what arrived before it was started, then takes the twists.
    const servo = start('servo stand-in', ROS_PYTHON, ['test/ros_graph/servo_standin.py', '--distro', 'jazzy', '--service-after-command']);
    await servo.until('Servo started by the node', () => servoEvent(servo, 'started'));
    assert.deepEqual(servoEvent(servo, 'started'), { event: 'started', service: 'switch_command_type', command_type: 1 });
    await launch.until('the node\'s "MoveIt Servo started" log', () => launch.lines.find((l) => /MoveIt Servo started: \/servo_node\/switch_command_type .* answered success after \d+ attempts/.test(l)));
    await servo.until('a twist accepted by Servo', () => servoEvent(servo, 'first_accepted'));

    // The policy acts: non-zero twists in the profile's frame, the critic's numbers, diagnostics.
    const acting = await p.until('a critic message of a policy decision', () => samples(p, '/csc/critic').find((c) => c.data?.[4] === 0));
    assert.equal(acting.data?.length, 5);
    assert.equal(acting.data?.[1], 0.5); // ε from the params file
    const qc = acting.data?.[0] ?? Number.NaN;
    assert.ok(qc >= 0 && qc <= 1, `Q_C ${qc}`);
    await p.until('a non-zero twist', () => samples(p, cmd).find((s) => s.linear !== undefined && Math.hypot(...s.linear) > 0));
    for (const s of samples(p, cmd)) {
      assert.equal(s.frame, 'panda_link0');
      assert.ok(s.stamp !== undefined && s.stamp[0]! > 0, 'every command carries a stamp from the node clock');
    }
    const ok = await p.until('diagnostics of the acting policy', () => samples(p, '/diagnostics').find((d) => /^policy acting|^hold \(exhausted\)/.test(d.message ?? '')));
    assert.equal(ok.values?.epsilon, '0.5');

    // Parameters from the params file, with their types.
    assert.match(ros2('param', 'get', '/csc_node', 'epsilon'), /^Double value is: 0\.5$/m);
    assert.match(ros2('param', 'get', '/csc_node', 'state_timeout_ms'), /^Double value is: 0\.0$/m);
    assert.match(ros2('param', 'get', '/csc_node', 'deterministic'), /^Boolean value is: True$/m);
    assert.match(ros2('param', 'get', '/csc_node', 'record_path'), new RegExp(`^String value is: ${bag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    const nodes = ros2('node', 'list');
    for (const n of ['/csc_node', '/csc_sim_robot', '/servo_node']) assert.match(nodes, new RegExp(`^${n}$`, 'm'));

    // The state publisher dies: the node holds once its last state is stateTimeoutMs (100 ms) old
    // by its own clock, says which topic and how old, and holds on every decision after that.
    // (That the hold comes at the first tick past the timeout is checked on virtual time in
    // test/ros-safety-node.test.ts; here the receipt times are the loaded machine's.)
    robot.signal('SIGKILL');
    await robot.exited;
    const stale = await p.until('a stale hold in diagnostics', () => samples(p, '/diagnostics').find((d) => /^hold \(stale\): \/joint_states is stale: last message \d+ ms ago, timeout 100 ms$/.test(d.message ?? '')));
    assert.equal(stale.level, 2);
    assert.ok(Number(/last message (\d+) ms/.exec(stale.message ?? '')?.[1]) >= 100);
    const staleAt = samples(p).findIndex((d) => d.topic === '/diagnostics' && d.message === stale.message);
    const criticAfter = (): Sample[] => samples(p).slice(staleAt + 1).filter((s) => s.topic === '/csc/critic');
    await p.until('ten decisions after the stale hold', () => criticAfter().length >= 10);
    assert.ok(criticAfter().every((c) => c.data?.[4] === 1), 'only holds once the state is stale');
    assert.ok(samples(p, cmd).slice(-10).every((t) => t.linear?.every((v) => v === 0) === true), 'zero twists once the state is stale');

    // E-stop from the command line: latched, and still latched after its publisher is gone.
    ros2('topic', 'pub', '-t', '3', '-r', '5', '/csc/estop', 'std_msgs/msg/Bool', '{data: true}');
    await p.until('an e-stop hold in diagnostics', () => samples(p, '/diagnostics').find((d) => d.message?.startsWith('hold (estop): e-stop latched on /csc/estop') === true));
    const n = samples(p, '/diagnostics').length;
    await p.until('two more diagnostics', () => samples(p, '/diagnostics').length >= n + 2);
    for (const d of samples(p, '/diagnostics').slice(n)) {
      assert.match(d.message ?? '', /^hold \(estop\)/);
      assert.equal(d.values?.estop_latched, 'true');
    }
    const echoed = ros2('topic', 'echo', '--once', '--qos-reliability', 'reliable', '/csc/critic');
    assert.match(echoed, /label: qc,epsilon,candidates_tried,fallback_used,hold/);

    // SIGINT: launch stops the node, which publishes its final hold and exits cleanly.
    const code = await launch.stop(20_000);
    assert.equal(code.code, 0, launch.tail());
    assert.ok(launch.lines.some((l) => /csc node: stopped; /.test(l)), launch.tail());
    assert.ok(launch.lines.some((l) => /\[csc_node-1\]: process has finished cleanly/.test(l)), launch.tail());
    const last = samples(p, cmd).at(-1);
    assert.deepEqual(last?.linear, [0, 0, 0]);

    const summary = await servo.stop().then(() => servoEvent(servo, 'summary'));
    assert.ok(summary !== undefined, servo.tail());
    assert.ok((summary.ignored_not_started as number) > 0, 'Servo ignored the commands sent before it was started');
    assert.ok((summary.accepted as number) > 0);
    assert.equal(summary.wrong_frame, 0);
    assert.equal(summary.zero_stamp, 0);
    await p.stop();

    // The node's recording opens with Python's MCAP tools (mcap-ros2-support, the sim venv's).
    const read = run(SIM_PYTHON, ['-c', [
      'import sys, collections',
      'from mcap_ros2.reader import read_ros2_messages',
      'n = collections.Counter(); twist = None',
      'for m in read_ros2_messages(sys.argv[1]):',
      '    n[m.channel.topic] += 1',
      '    if m.channel.topic == "/servo_node/delta_twist_cmds": twist = m.ros_msg',
      'print(dict(n)); print(twist.header.frame_id, twist.twist.linear.x)',
    ].join('\n'), bag], env, REPO);
    assert.match(read, /'\/servo_node\/delta_twist_cmds': \d+/);
    assert.match(read, /'\/csc\/critic': \d+/);
    assert.match(read, /^panda_link0 0\.0$/m); // the last command recorded: the final hold
  });

  test('csc_node executable on Humble\'s Servo (start_servo): -p overrides with types and ROS 2\'s precedence, final hold on SIGINT, exit 0; a mistyped parameter is refused', async () => {
    const profile = join(dir, 'panda-humble.yaml');
    const text = await readFile(join(REPO, 'hardware', 'panda.yaml'), 'utf8');
    await writeFile(profile, text.replace(/^servo:\n(?: {2}.*\n)+/m, 'servo:\n  start: true\n  node: /servo_node\n  interface: start_servo\n  retryPeriodS: 0.5\n'));
    const cmd = '/servo_node/delta_twist_cmds';
    const p = probe(`${cmd}:geometry_msgs/msg/TwistStamped`, '/csc/critic:std_msgs/msg/Float64MultiArray');
    await ready(p);
    const servo = start('servo stand-in', ROS_PYTHON, ['test/ros_graph/servo_standin.py', '--distro', 'humble']);
    await ready(servo);
    const robot = csc('sim robot', 'sim', 'robot', '--env', 'panda-push-topple', '--seed', '2');
    await ready(robot);
    const exe = join(dir, 'install', 'lib', 'csc_node', 'csc_node');
    // ROS 2's precedence: a params file's `csc_node:` entries are the node's own and win over a
    // plain `-p name:=v` (a rule for every node); `-p csc_node:name:=v` wins over the file.
    const params = join(dir, 'humble.params.yaml');
    await writeFile(params, 'csc_node:\n  ros__parameters:\n    epsilon: 0.3\n    record_path: ""\n');
    const node = start('csc_node', exe, ['--checkpoint', ckpt.panda, '--profile', profile, '--ros-args', '--params-file', params, '-p', 'csc_node:epsilon:=0.75', '-p', 'record_path:=/ignored.mcap', '-p', 'state_timeout_ms:=80.0', '-p', 'deterministic:=false']);
    await servo.until('Servo started by the node', () => servoEvent(servo, 'started'));
    assert.deepEqual(servoEvent(servo, 'started'), { event: 'started', service: 'start_servo' });
    await node.until('the node\'s "MoveIt Servo started" log', () => node.lines.find((l) => /MoveIt Servo started: \/servo_node\/start_servo \(std_srvs\/srv\/Trigger\) answered success/.test(l)));
    await p.until('a non-zero twist', () => samples(p, cmd).find((s) => s.linear !== undefined && Math.hypot(...s.linear) > 0));
    assert.match(ros2('param', 'get', '/csc_node', 'epsilon'), /^Double value is: 0\.75$/m);
    assert.match(ros2('param', 'get', '/csc_node', 'state_timeout_ms'), /^Double value is: 80\.0$/m);
    assert.match(ros2('param', 'get', '/csc_node', 'deterministic'), /^Boolean value is: False$/m);
    assert.match(ros2('param', 'get', '/csc_node', 'record_path'), /^String value is: $/m);
    const epsilons = new Set(samples(p, '/csc/critic').map((c) => c.data?.[1]));
    assert.ok(epsilons.has(0.75), `ε on /csc/critic: ${JSON.stringify([...epsilons])}`);

    const exit = await node.stop(20_000);
    assert.deepEqual(exit, { code: 0, signal: null }, node.tail());
    assert.ok(node.lines.some((l) => /^csc node: stopped; \{"decisions":\d+/.test(l)), node.tail());
    // Every decision publishes one command and one critic message; the extra last command is the
    // final hold, a zero twist.
    // The node has exited, so everything is sent; let the probe's queue drain before reading it.
    await new Promise((r) => setTimeout(r, 3000));
    await p.until('the final hold', () => samples(p, cmd).length === samples(p, '/csc/critic').length + 1);
    const twists = samples(p, cmd);
    assert.deepEqual(twists.at(-1)?.linear, [0, 0, 0]);
    const stampNs = (t: Sample): number => (t.stamp?.[0] ?? 0) * 1e9 + (t.stamp?.[1] ?? 0);
    assert.ok(twists.every((t) => stampNs(t) <= stampNs(twists.at(-1)!)), 'the final hold is the last command the node stamped');
    const summary = await servo.stop().then(() => servoEvent(servo, 'summary'));
    assert.ok(summary !== undefined && (summary.accepted as number) > 0 && summary.start_calls === 1, JSON.stringify(summary));

    // A parameter of the wrong type stops the node with the parameter's name and both types.
    const bad = start('csc_node (bad -p)', exe, ['--checkpoint', ckpt.panda, '--profile', profile, '--ros-args', '-p', 'epsilon:=true']);
    const r = await bad.exited;
    assert.equal(r.code, 1);
    assert.ok(bad.lines.some((l) => l.includes('parameter epsilon: got true (boolean), expected a number like the default -1')), bad.tail());
    await robot.stop();
    await p.stop();
  });

  test('ros2 launch laikago.launch.py with the Laikago sim as the robot', async () => {
    const cmd = '/csc/joint_pd_cmd';
    const p = probe(`${cmd}:std_msgs/msg/Float64MultiArray`, '/diagnostics:diagnostic_msgs/msg/DiagnosticArray');
    await ready(p);
    const robot = csc('sim robot', 'sim', 'robot', '--env', 'laikago-walk', '--seed', '3');
    await ready(robot);
    await mkdir(join(dir, 'laikago'), { recursive: true });
    const launch = start('ros2 launch', 'ros2', ['launch', 'csc_node', 'laikago.launch.py', `checkpoint:=${ckpt.laikago}`]);
    const first = await p.until('a command', () => samples(p, cmd)[0]);
    assert.equal(first.data?.length, 36); // [q* × 12, kp × 12, kd × 12]
    // The policy decided (acting, or an exhausted filter, a fall or a falling dog's joint speeds).
    await p.until('diagnostics of a policy decision', () => samples(p, '/diagnostics').find((d) => /^policy acting|^hold \((exhausted|failure|invalid-input)\)/.test(d.message ?? '')));
    assert.equal((await launch.stop(20_000)).code, 0, launch.tail());
    assert.ok(launch.lines.some((l) => /\[csc_node-1\]: process has finished cleanly/.test(l)), launch.tail());
    await robot.stop();
    await p.stop();
  });
});
