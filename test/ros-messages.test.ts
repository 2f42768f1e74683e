import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstValueFrom, take, toArray } from 'rxjs';
import { CdrCodec, type RosMessages, type RosTypeName, definitionsOf } from '../src/ros/messages.ts';
import { LoopbackGraph, LoopbackTransport } from '../src/ros/loopback.ts';
import { createRclnodejsTransport } from '../src/ros/rclnodejs-transport.ts';
import { TransportError } from '../src/ros/transport.ts';

const hdr = { stamp: { sec: 1_732_000_000, nanosec: 123_456_789 }, frame_id: 'panda_link0' };

const SAMPLES: { [T in RosTypeName]?: RosMessages[T] } = {
  'sensor_msgs/msg/JointState': { header: hdr, name: ['j1', 'j2'], position: [0.5, -1.25], velocity: [0.1, 0.2], effort: [] },
  'geometry_msgs/msg/TwistStamped': { header: hdr, twist: { linear: { x: 0.1, y: -0.2, z: 0.3 }, angular: { x: 0, y: 0, z: 0.5 } } },
  'sensor_msgs/msg/Imu': {
    header: hdr,
    orientation: { x: 0, y: 0, z: 0.38268343236, w: 0.92387953251 },
    orientation_covariance: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    angular_velocity: { x: 0.01, y: -0.02, z: 0.03 },
    angular_velocity_covariance: new Array<number>(9).fill(0),
    linear_acceleration: { x: 0, y: 0, z: 9.81 },
    linear_acceleration_covariance: new Array<number>(9).fill(-1),
  },
  'diagnostic_msgs/msg/DiagnosticArray': {
    header: hdr,
    status: [{ level: 1, name: 'csc_node: safety', message: 'stale state', hardware_id: 'panda', values: [{ key: 'qc', value: '0.0004' }] }],
  },
  'std_msgs/msg/Bool': { data: true },
  'nav_msgs/msg/Odometry': {
    header: hdr,
    child_frame_id: 'base',
    pose: { pose: { position: { x: 1, y: 2, z: 0.45 }, orientation: { x: 0, y: 0, z: 0, w: 1 } }, covariance: new Array<number>(36).fill(0) },
    twist: { twist: { linear: { x: 0.3, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0.1 } }, covariance: new Array<number>(36).fill(0) },
  },
  'std_msgs/msg/Float64MultiArray': { layout: { dim: [{ label: 'joint', size: 3, stride: 3 }], data_offset: 0 }, data: [1.5, -2, 3] },
};

/** Plain JSON view (typed arrays → arrays) for deep comparison. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (ArrayBuffer.isView(x) ? Array.from(x as unknown as ArrayLike<number>) : x))) as unknown;

for (const [type, msg] of Object.entries(SAMPLES)) {
  test(`CDR round trip with the ROS 2 definition of ${type}`, () => {
    const codec = new CdrCodec(type as RosTypeName);
    const bytes = codec.encode(msg);
    // Every CDR message starts with the encapsulation header: 0x00 0x01 = little-endian CDR.
    assert.deepEqual(Array.from(bytes.subarray(0, 4)), [0, 1, 0, 0]);
    assert.deepEqual(plain(codec.decode(bytes)), plain(msg));
  });
}

test('definitions come from the real ROS 2 messages (nested types included, ROS 2 time fields)', () => {
  const names = definitionsOf('sensor_msgs/msg/JointState').map((d) => d.name);
  assert.deepEqual(names, ['sensor_msgs/JointState', 'std_msgs/Header']);
  const imu = definitionsOf('sensor_msgs/msg/Imu')[0]!;
  assert.deepEqual(
    imu.definitions.map((f) => `${f.type}${f.isArray === true ? `[${f.arrayLength ?? ''}]` : ''} ${f.name}`),
    ['std_msgs/Header header', 'geometry_msgs/Quaternion orientation', 'float64[9] orientation_covariance', 'geometry_msgs/Vector3 angular_velocity', 'float64[9] angular_velocity_covariance', 'geometry_msgs/Vector3 linear_acceleration', 'float64[9] linear_acceleration_covariance'],
  );
});

test('hand-checked CDR bytes: std_msgs/Bool and a TwistStamped header', () => {
  assert.deepEqual(Array.from(new CdrCodec('std_msgs/msg/Bool').encode({ data: true })), [0, 1, 0, 0, 1]);
  assert.deepEqual(Array.from(new CdrCodec('std_msgs/msg/Bool').encode({ data: false })), [0, 1, 0, 0, 0]);
  // std_msgs/Empty carries ROS 2's one-byte placeholder member.
  assert.deepEqual(Array.from(new CdrCodec('std_msgs/msg/Empty').encode({})), [0, 1, 0, 0, 0]);
  const bytes = new CdrCodec('geometry_msgs/msg/TwistStamped').encode({
    header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'ab' },
    twist: { linear: { x: 1, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } },
  });
  const hex = Buffer.from(bytes).toString('hex');
  // encapsulation | sec int32 | nanosec uint32 | string length 3 (incl. NUL) | 'a' 'b' NUL | 1 pad byte
  assert.equal(hex.slice(0, 2 * 20), '00010000' + '01000000' + '02000000' + '03000000' + '616200' + '00');
  // float64 aligns to 8 bytes counted from the payload (after the 4-byte encapsulation): payload
  // offset 15 pads to 16, so linear.x = 1.0 (LE) sits at bytes 20..27, then 5 more float64s.
  assert.equal(hex.slice(2 * 20, 2 * 28), '000000000000f03f');
  assert.equal(bytes.length, 4 + 16 + 6 * 8);
});

test('loopback: subscribers receive CDR-decoded copies in publish order; a topic has one type', async () => {
  const graph = new LoopbackGraph();
  const a = new LoopbackTransport(graph, { nodeName: 'a' });
  const b = new LoopbackTransport(graph, { nodeName: 'b' });
  const got = firstValueFrom(b.subscribe('/js', 'sensor_msgs/msg/JointState').pipe(take(2), toArray()));
  const pub = a.createPublisher('/js', 'sensor_msgs/msg/JointState');
  const msg = SAMPLES['sensor_msgs/msg/JointState']!;
  pub.publish(msg);
  pub.publish({ ...msg, position: [Number.NaN, Number.POSITIVE_INFINITY] });
  const [m1, m2] = await got;
  assert.notEqual(m1, msg);
  assert.ok(m1!.position instanceof Float64Array, 'arrays come back as the CDR reader builds them');
  assert.deepEqual(plain(m1), plain(msg));
  assert.ok(Number.isNaN(m2!.position[0]) && m2!.position[1] === Number.POSITIVE_INFINITY);
  assert.throws(() => b.subscribe('/js', 'std_msgs/msg/Bool'), /topic \/js carries sensor_msgs\/msg\/JointState, but std_msgs\/msg\/Bool was asked for/);
  assert.throws(() => a.createPublisher('relative', 'std_msgs/msg/Bool'), /expected an absolute name/);
  await a.shutdown();
  assert.throws(() => { pub.publish(msg); }, /after shutdown/);
});

test('loopback parameters: defaults, overrides of the right type, and a clear error for the wrong type', () => {
  const t = new LoopbackTransport(new LoopbackGraph(), { parameters: { control_rate_hz: 50, profile: 'hardware/x.yaml', bad: 'fast' } });
  assert.equal(t.declareParameter('control_rate_hz', 20), 50);
  assert.equal(t.declareParameter('epsilon_override', -1), -1);
  assert.equal(t.declareParameter('profile', ''), 'hardware/x.yaml');
  assert.throws(() => t.declareParameter('bad', 1), /parameter bad: got "fast" \(string\), expected a number like the default 1/);
});

test('rclnodejs transport without a sourced ROS 2: a TransportError saying how to source it', async () => {
  const saved = { a: process.env.AMENT_PREFIX_PATH, d: process.env.ROS_DISTRO };
  delete process.env.AMENT_PREFIX_PATH;
  delete process.env.ROS_DISTRO;
  try {
    await assert.rejects(createRclnodejsTransport({ nodeName: 'x', rosArgs: [] }), (e: unknown) => {
      assert.ok(e instanceof TransportError);
      assert.match(e.message, /ROS 2 is not sourced/);
      assert.match(e.message, /source \/opt\/ros\/jazzy\/setup\.bash/);
      assert.match(e.message, /scripts\/setup-ros\.sh/);
      return true;
    });
    // Sourced (as far as the environment says) but rclnodejs is not installed: the import fails clearly.
    process.env.AMENT_PREFIX_PATH = '/opt/ros/jazzy';
    process.env.ROS_DISTRO = 'jazzy';
    await assert.rejects(createRclnodejsTransport({ nodeName: 'x', rosArgs: [] }), /cannot load rclnodejs .*scripts\/setup-ros\.sh/);
  } finally {
    if (saved.a === undefined) delete process.env.AMENT_PREFIX_PATH;
    else process.env.AMENT_PREFIX_PATH = saved.a;
    if (saved.d === undefined) delete process.env.ROS_DISTRO;
    else process.env.ROS_DISTRO = saved.d;
  }
});
