/** Robot profiles: the shipped ones load; a bad one fails with the file, field path, value and expectation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ProfileError, loadProfile, parseProfile } from '../src/ros/profile.ts';

test('hardware/panda.yaml and hardware/laikago.yaml load with the documented values', async () => {
  const panda = await loadProfile('hardware/panda.yaml');
  assert.equal(panda.robot, 'panda');
  if (panda.robot !== 'panda') return;
  assert.equal(panda.command.topic, '/servo_node/delta_twist_cmds');
  assert.equal(panda.controlRateHz, 20);
  // Well inside libfranka's 1.7 m/s and 13 m/s².
  assert.ok(panda.limits.maxLinearVelMPerS <= 0.25 && panda.limits.maxLinearAccelMPerS2 <= 2);
  // The virtual setpoint is the training env's (panda_push.py SETPOINT_BOX_M, ACTION_STEP_M).
  assert.deepEqual(panda.virtualSetpoint, { minM: [-0.25, -0.3, 0.01], maxM: [0.25, 0.3, 0.35], maxLeadM: 0.05 });
  const laikago = await loadProfile('hardware/laikago.yaml');
  assert.equal(laikago.robot, 'laikago');
  if (laikago.robot !== 'laikago') return;
  assert.equal(laikago.controlRateHz, 50);
  assert.equal(laikago.joints.names.length, 12);
  assert.ok(laikago.command.kpNmPerRad < 220, 'hardware gains, never the simulator’s Kp 220');
  // The learning sections are the documented defaults (the sims' reward constants).
  assert.deepEqual(panda.learning, { maxEpisodeSteps: 500, resetTimeoutS: 300, failureTopic: null, reward: { pushPerM: 50, reachPerM: 10, successBonus: 10, goalRadiusM: 0.03 } });
  assert.deepEqual(laikago.learning.reward, { forwardVelocityWeight: 1, aliveBonus: 0.02 });
});

test('a profile without a learning section gets the defaults', () => {
  const raw = parseYaml(readFileSync('hardware/panda.yaml', 'utf8')) as Record<string, unknown>;
  delete raw.learning;
  const p = parseProfile(raw, 'nolearning.yaml');
  assert.equal(p.learning.maxEpisodeSteps, 500);
  assert.equal(p.learning.failureTopic, null);
});

/** The parts of a parsed panda.yaml the cases mutate. */
interface RawPanda {
  [key: string]: unknown;
  limits: Record<string, unknown>;
  state: Record<string, unknown>;
}

const cases: [string, (p: RawPanda) => void, RegExp][] = [
  ['a missing field', (p) => delete p.limits.maxLinearVelMPerS, /bad\.yaml: limits\.maxLinearVelMPerS is missing/],
  ['a negative speed', (p) => (p.limits.maxLinearVelMPerS = -1), /bad\.yaml: limits\.maxLinearVelMPerS: got -1, expected a finite number > 0 and ≤ 1\.7/],
  ['a speed beyond libfranka', (p) => (p.limits.maxLinearVelMPerS = 3), /limits\.maxLinearVelMPerS: got 3, expected a finite number > 0 and ≤ 1\.7/],
  ['a string for a number', (p) => (p.controlRateHz = 'fast'), /bad\.yaml: controlRateHz: got "fast", expected a finite number > 0 and ≤ 10000/],
  ['a fractional episode length', (p) => ((p.learning as Record<string, unknown>).maxEpisodeSteps = 2.5), /bad\.yaml: learning\.maxEpisodeSteps: got 2\.5, expected an integer ≥ 1/],
  ['a relative failure topic', (p) => ((p.learning as Record<string, unknown>).failureTopic = 'failure'), /bad\.yaml: learning\.failureTopic: got "failure", expected an absolute ROS topic name/],
  ['a missing reward term', (p) => delete ((p.learning as Record<string, unknown>).reward as Record<string, unknown>).pushPerM, /bad\.yaml: learning\.reward\.pushPerM is missing/],
  ['a misspelt reward term', (p) => (((p.learning as Record<string, unknown>).reward as Record<string, unknown>).pushPerMeter = 1), /bad\.yaml: unknown field learning\.reward\.pushPerMeter/],
  ['a relative topic', (p) => (p.state.eePose = 'ee_pose'), /state\.eePose: got "ee_pose", expected an absolute ROS topic name/],
  ['an inverted workspace', (p) => (p.limits.workspaceMaxM = [0.2, -0.3, 0.3]), /limits\.workspaceMaxM: got \[0\.2,-0\.3,0\.3\], expected each component above workspaceMinM's/],
  ['a short vector', (p) => (p.taskFrameOriginM = [0.5, 0]), /taskFrameOriginM: got \[0\.5,0\], expected a list of 3 finite numbers/],
  ['an unknown robot', (p) => (p.robot = 'ur5'), /robot: got "ur5", expected one of 'panda', 'laikago'/],
  ['a typo', (p) => (p.limits.maxLinearVelMPS = 0.1), /unknown field limits\.maxLinearVelMPS \(a typo\?/],
  ['a timeout shorter than a period', (p) => (p.stateTimeoutMs = 10), /stateTimeoutMs: got 10, expected at least one control period \(50 ms at controlRateHz 20\)/],
  ['a bad trigger', (p) => (p.trigger = 'sometimes'), /trigger: got "sometimes", expected one of 'timer', 'fresh-state'/],
];

for (const [what, mutate, message] of cases) {
  test(`panda profile with ${what} fails naming the field`, async () => {
    const raw = parseYaml(await readFile('hardware/panda.yaml', 'utf8')) as RawPanda;
    mutate(raw);
    assert.throws(() => parseProfile(raw, 'bad.yaml'), (e: unknown) => e instanceof ProfileError && message.test(e.message) ? true : assert.fail(`${String(e)} does not match ${message}`));
  });
}

test('laikago profile: joint vectors are checked element by element', async () => {
  const raw = parseYaml(await readFile('hardware/laikago.yaml', 'utf8')) as { joints: { nominalRad: number[]; names: string[] } };
  raw.joints.nominalRad[2] = 0.5;
  assert.throws(() => parseProfile(raw, 'l.yaml'), /l\.yaml: joints\.nominalRad\[2\]: got 0\.5, expected within \[-2\.164, 0\]/);
  raw.joints.nominalRad[2] = -0.7;
  raw.joints.names[3] = raw.joints.names[0]!;
  assert.throws(() => parseProfile(raw, 'l.yaml'), /joints\.names: got .*, expected 12 distinct joint names/);
  raw.joints.names = ['a'];
  assert.throws(() => parseProfile(raw, 'l.yaml'), /joints\.names: got \["a"\], expected a list of 12 names/);
});

test('unreadable or non-YAML profile files say so', async () => {
  await assert.rejects(loadProfile('hardware/nope.yaml'), /hardware\/nope\.yaml: cannot read the profile/);
  const dir = await mkdtemp(join(tmpdir(), 'csc-profile-'));
  await writeFile(join(dir, 'x.yaml'), 'robot: [unclosed');
  await assert.rejects(loadProfile(join(dir, 'x.yaml')), /x\.yaml: not valid YAML/);
  await writeFile(join(dir, 'y.yaml'), '- a list\n');
  await assert.rejects(loadProfile(join(dir, 'y.yaml')), /y\.yaml: expected a YAML mapping at the top level, got \["a list"\]/);
});

test('safety.onExhausted and servo: defaults when absent, field-path errors when wrong', () => {
  const raw = (): Record<string, unknown> => parseYaml(readFileSync('hardware/panda.yaml', 'utf8')) as Record<string, unknown>;
  const shipped = parseProfile(raw(), 'panda.yaml');
  assert.deepEqual(shipped.safety, { onExhausted: 'hold' });
  // A walking Laikago held mid-stride falls, so its shipped profile executes the filter's fallback.
  const laikagoShipped = parseProfile(parseYaml(readFileSync('hardware/laikago.yaml', 'utf8')) as Record<string, unknown>, 'laikago.yaml');
  assert.deepEqual(laikagoShipped.safety, { onExhausted: 'fallback' });
  assert.ok(shipped.robot === 'panda');
  assert.deepEqual(shipped.servo, { start: true, node: '/servo_node', interface: 'auto', retryPeriodS: 1 });
  const bare = raw();
  delete bare.safety;
  delete bare.servo;
  const p = parseProfile(bare, 'bare.yaml');
  assert.equal(p.safety.onExhausted, 'hold');
  assert.ok(p.robot === 'panda' && p.servo.start);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ safety: { onExhausted: 'least_risky' } }, /^x\.yaml: safety\.onExhausted: got "least_risky", expected one of 'hold', 'fallback'$/],
    [{ safety: { onExhausted: 'hold', retries: 2 } }, /^x\.yaml: unknown field safety\.retries/],
    [{ servo: { start: 'yes' } }, /^x\.yaml: servo\.start: got "yes", expected true or false$/],
    [{ servo: { node: 'servo_node' } }, /^x\.yaml: servo\.node: got "servo_node", expected an absolute ROS topic name/],
    [{ servo: { interface: 'humble' } }, /^x\.yaml: servo\.interface: got "humble", expected one of 'auto', 'start_servo', 'switch_command_type'$/],
    [{ servo: { retryPeriodS: 0 } }, /^x\.yaml: servo\.retryPeriodS: got 0, expected a finite number > 0$/],
  ];
  for (const [patch, error] of cases) {
    assert.throws(() => parseProfile({ ...raw(), ...patch }, 'x.yaml'), (e: unknown) => e instanceof ProfileError && error.test(e.message), JSON.stringify(patch));
  }
  // The Laikago has no Servo: a servo section there is a typo.
  const laikago = parseYaml(readFileSync('hardware/laikago.yaml', 'utf8')) as Record<string, unknown>;
  assert.throws(() => parseProfile({ ...laikago, servo: { start: false } }, 'l.yaml'), /^ProfileError: l\.yaml: unknown field servo/);
});
