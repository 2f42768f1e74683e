import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackGraph, LoopbackTransport } from './loopback.ts';
import { DEFAULT_SERVO } from './profile.ts';
import { SERVO_COMMAND_TYPE, servoInterfaceFor, startServo } from './servo.ts';

test('servoInterfaceFor: start_servo up to iron, switch_command_type from jazzy on; the profile can force either', () => {
  const cases: [string, string, string][] = [
    ['auto', 'humble', 'start_servo'],
    ['auto', 'iron', 'start_servo'],
    ['auto', 'Humble', 'start_servo'],
    ['auto', 'jazzy', 'switch_command_type'],
    ['auto', 'kilted', 'switch_command_type'],
    ['auto', 'rolling', 'switch_command_type'],
    ['start_servo', 'jazzy', 'start_servo'],
    ['switch_command_type', 'humble', 'switch_command_type'],
  ];
  for (const [setting, distro, want] of cases) assert.equal(servoInterfaceFor(setting as 'auto', distro), want, `${setting} on ${distro}`);
});

test('startServo retries until Servo answers success, logging the first failure and the start', async () => {
  const graph = new LoopbackGraph();
  const t = new LoopbackTransport(graph);
  const requests: number[] = [];
  graph.serve('/servo_node/switch_command_type', 'moveit_msgs/srv/ServoCommandType', (req) => {
    requests.push(req.command_type);
    // Not up for two calls (no answer), then refuses once, then starts.
    return requests.length <= 2 ? null : { success: requests.length > 3 };
  });
  const log: string[] = [];
  const ok = await startServo({ transport: t, settings: { ...DEFAULT_SERVO, retryPeriodS: 0.001 }, distro: 'jazzy', log: (l) => log.push(l) });
  assert.equal(ok, true);
  assert.deepEqual(requests, [1, 1, 1, 1].map(() => SERVO_COMMAND_TYPE.TWIST));
  assert.equal(log.length, 2);
  assert.match(log[0]!, /^waiting for MoveIt Servo: \/servo_node\/switch_command_type \(moveit_msgs\/srv\/ServoCommandType, command_type TWIST = 1\): no answer \(attempt 1; retrying every 0\.001 s; .*servo\.start: false/);
  assert.match(log[1]!, /^MoveIt Servo started: \/servo_node\/switch_command_type .* answered success after 4 attempts$/);
});

test('startServo on humble calls start_servo (std_srvs/Trigger) at the profile\'s node; an abort stops the retries', async () => {
  const graph = new LoopbackGraph();
  const t = new LoopbackTransport(graph);
  let calls = 0;
  graph.serve('/arm/servo/start_servo', 'std_srvs/srv/Trigger', () => {
    calls++;
    return { success: false, message: 'robot not ready' };
  });
  const log: string[] = [];
  const abort = new AbortController();
  const started = startServo({ transport: t, settings: { ...DEFAULT_SERVO, node: '/arm/servo', retryPeriodS: 0.001 }, distro: 'humble', log: (l) => log.push(l), signal: abort.signal });
  while (calls < 12) await new Promise((r) => setTimeout(r, 1));
  abort.abort();
  assert.equal(await started, false);
  assert.match(log[0]!, /^waiting for MoveIt Servo: \/arm\/servo\/start_servo \(std_srvs\/srv\/Trigger\): refused \(robot not ready\) \(attempt 1;/);
  assert.match(log[1]!, /\(attempt 10;/);
  // A server of another type is a misuse, reported at once.
  graph.serve('/servo_node/start_servo', 'moveit_msgs/srv/ServoCommandType', () => ({ success: true }));
  await assert.rejects(startServo({ transport: t, settings: DEFAULT_SERVO, distro: 'humble', log: () => undefined }), /service \/servo_node\/start_servo is moveit_msgs\/srv\/ServoCommandType, but std_srvs\/srv\/Trigger was asked for/);
});
