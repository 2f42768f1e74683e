import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from '@foxglove/rosmsg';
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';
import {
  definitionsWithDependencies,
  fullTypeName,
  ros2msgSchema,
  shortTypeName,
  TRANSITION_DEFINITION,
  TRANSITION_TYPE,
  UnknownMessageTypeError,
} from './ros2msg.ts';

test('type names convert between pkg/Name and pkg/msg/Name', () => {
  assert.equal(fullTypeName('sensor_msgs/JointState'), 'sensor_msgs/msg/JointState');
  assert.equal(fullTypeName('sensor_msgs/msg/JointState'), 'sensor_msgs/msg/JointState');
  assert.equal(shortTypeName('sensor_msgs/msg/JointState'), 'sensor_msgs/JointState');
  assert.equal(shortTypeName('sensor_msgs/JointState'), 'sensor_msgs/JointState');
});

test('TwistStamped schema is the rosbag2 ros2msg layout, written out by hand', () => {
  const sep = '='.repeat(80);
  const expected = [
    'std_msgs/Header header',
    'geometry_msgs/Twist twist',
    '',
    sep,
    'MSG: geometry_msgs/Twist',
    'geometry_msgs/Vector3 linear',
    'geometry_msgs/Vector3 angular',
    '',
    sep,
    'MSG: geometry_msgs/Vector3',
    'float64 x',
    'float64 y',
    'float64 z',
    '',
    sep,
    'MSG: std_msgs/Header',
    'builtin_interfaces/Time stamp',
    'string frame_id',
    '',
    sep,
    'MSG: builtin_interfaces/Time',
    'int32 sec',
    'uint32 nanosec',
    '',
  ].join('\n');
  assert.equal(ros2msgSchema('geometry_msgs/msg/TwistStamped'), expected);
});

test('constants, fixed arrays and defaults are written in .msg syntax', () => {
  const status = ros2msgSchema('diagnostic_msgs/msg/DiagnosticStatus');
  assert.match(status, /^uint8 OK=0$/m);
  assert.match(status, /^diagnostic_msgs\/KeyValue\[\] values$/m);
  const imu = ros2msgSchema('sensor_msgs/msg/Imu');
  assert.match(imu, /^float64\[9\] orientation_covariance$/m);
  assert.match(ros2msgSchema('geometry_msgs/msg/Quaternion'), /^float64 w 1$/m);
});

const SAMPLES: Record<string, unknown> = {
  'sensor_msgs/msg/JointState': {
    header: { stamp: { sec: 3, nanosec: 7 }, frame_id: 'base' },
    name: ['a', 'b'],
    position: [1.5, -2],
    velocity: [0.25, 0],
    effort: [],
  },
  'geometry_msgs/msg/TwistStamped': {
    header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'panda_link0' },
    twist: { linear: { x: 0.1, y: 0.2, z: 0.3 }, angular: { x: -0.1, y: 0, z: 0.5 } },
  },
  'sensor_msgs/msg/Imu': {
    header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'imu' },
    orientation: { x: 0, y: 0, z: 0, w: 1 },
    orientation_covariance: [1, 2, 3, 4, 5, 6, 7, 8, 9],
    angular_velocity: { x: 1, y: 2, z: 3 },
    angular_velocity_covariance: [0, 0, 0, 0, 0, 0, 0, 0, 0],
    linear_acceleration: { x: 0, y: 0, z: 9.81 },
    linear_acceleration_covariance: [0, 0, 0, 0, 0, 0, 0, 0, 0],
  },
  'diagnostic_msgs/msg/DiagnosticArray': {
    header: { stamp: { sec: 5, nanosec: 0 }, frame_id: '' },
    status: [{ level: 2, name: 'n', message: 'm', hardware_id: 'h', values: [{ key: 'k', value: 'v' }] }],
  },
  'trajectory_msgs/msg/JointTrajectory': {
    header: { stamp: { sec: 5, nanosec: 0 }, frame_id: '' },
    joint_names: ['j1'],
    points: [
      { positions: [0.5], velocities: [], accelerations: [], effort: [], time_from_start: { sec: 0, nanosec: 5e6 } },
    ],
  },
  [TRANSITION_TYPE]: {
    obs: Float32Array.from([1, 2]),
    action: Float32Array.from([0.5]),
    reward: 1.25,
    failure: 1,
    terminated: true,
    truncated: false,
    next_obs: Float32Array.from([3, 4]),
  },
};

for (const [type, sample] of Object.entries(SAMPLES)) {
  test(`${type}: the schema text parses back to definitions that encode the same CDR bytes`, () => {
    const direct = new MessageWriter(definitionsWithDependencies(type)).writeMessage(sample);
    const fromText = parse(ros2msgSchema(type), { ros2: true });
    assert.deepEqual(new MessageWriter(fromText).writeMessage(sample), direct);
    const decoded = new MessageReader(fromText).readMessage(direct);
    assert.deepEqual(new MessageWriter(fromText).writeMessage(decoded), direct);
  });
}

test('msg/Transition.msg is the definition the recorder uses', () => {
  const text = readFileSync(new URL('../../msg/Transition.msg', import.meta.url), 'utf8');
  const [parsed] = parse(text, { ros2: true });
  const strip = (fs: readonly { name: string; type: string; isArray?: boolean }[]) =>
    fs.map((f) => ({ name: f.name, type: f.type, isArray: f.isArray === true }));
  assert.deepEqual(strip(parsed!.definitions), strip(TRANSITION_DEFINITION.definitions));
});

test('an unknown type names itself and the expected form', () => {
  assert.throws(() => ros2msgSchema('my_msgs/msg/Nope'), (err: unknown) => {
    assert.ok(err instanceof UnknownMessageTypeError);
    assert.match(err.message, /'my_msgs\/msg\/Nope'/);
    assert.match(err.message, /package\/msg\/Name/);
    return true;
  });
});
