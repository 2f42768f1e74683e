/**
 * The ROS 2 messages the node uses, typed in rclnodejs' plain-object shape (`header.stamp.sec` /
 * `nanosec`, snake_case fields), and their CDR wire encoding from the real ROS 2 definitions
 * (`@foxglove/rosmsg-msgs-common`, humble = iron = jazzy for these types).
 *
 * rclnodejs generates its typings from the installed ROS 2, which this project cannot rely on, so
 * the node keeps its own types for exactly the messages it reads and writes. Arrays arrive as
 * typed arrays from both rclnodejs and the CDR reader, hence `ArrayLike<number>`.
 */
import { ros2humble } from '@foxglove/rosmsg-msgs-common';
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';

/** builtin_interfaces/Time. */
export interface Time {
  readonly sec: number;
  readonly nanosec: number;
}
export interface Header {
  readonly stamp: Time;
  readonly frame_id: string;
}
export interface Vector3 {
  readonly x: number;
  readonly y: number;
  readonly z: number;
}
export interface Quaternion extends Vector3 {
  readonly w: number;
}
export interface Pose {
  readonly position: Vector3;
  readonly orientation: Quaternion;
}
export interface Twist {
  readonly linear: Vector3;
  readonly angular: Vector3;
}
export interface JointState {
  readonly header: Header;
  readonly name: readonly string[];
  readonly position: ArrayLike<number>;
  readonly velocity: ArrayLike<number>;
  readonly effort: ArrayLike<number>;
}
export interface PoseStamped {
  readonly header: Header;
  readonly pose: Pose;
}
export interface TwistStamped {
  readonly header: Header;
  readonly twist: Twist;
}
export interface PointStamped {
  readonly header: Header;
  readonly point: Vector3;
}
export interface Imu {
  readonly header: Header;
  readonly orientation: Quaternion;
  readonly orientation_covariance: ArrayLike<number>;
  readonly angular_velocity: Vector3;
  readonly angular_velocity_covariance: ArrayLike<number>;
  readonly linear_acceleration: Vector3;
  readonly linear_acceleration_covariance: ArrayLike<number>;
}
export interface Odometry {
  readonly header: Header;
  readonly child_frame_id: string;
  readonly pose: { readonly pose: Pose; readonly covariance: ArrayLike<number> };
  readonly twist: { readonly twist: Twist; readonly covariance: ArrayLike<number> };
}
export interface Bool {
  readonly data: boolean;
}
export type Empty = Record<string, never>;
export interface MultiArrayDimension {
  readonly label: string;
  readonly size: number;
  readonly stride: number;
}
export interface Float64MultiArray {
  readonly layout: { readonly dim: readonly MultiArrayDimension[]; readonly data_offset: number };
  readonly data: ArrayLike<number>;
}
export interface KeyValue {
  readonly key: string;
  readonly value: string;
}
/** diagnostic_msgs/DiagnosticStatus levels. */
export const DiagnosticLevel = { OK: 0, WARN: 1, ERROR: 2, STALE: 3 } as const;
export interface DiagnosticStatus {
  readonly level: number;
  readonly name: string;
  readonly message: string;
  readonly hardware_id: string;
  readonly values: readonly KeyValue[];
}
export interface DiagnosticArray {
  readonly header: Header;
  readonly status: readonly DiagnosticStatus[];
}

/** ROS 2 type name (as rclnodejs and `ros2 topic` spell it) → its TypeScript shape. */
export interface RosMessages {
  'sensor_msgs/msg/JointState': JointState;
  'sensor_msgs/msg/Imu': Imu;
  'geometry_msgs/msg/PoseStamped': PoseStamped;
  'geometry_msgs/msg/TwistStamped': TwistStamped;
  'geometry_msgs/msg/PointStamped': PointStamped;
  'nav_msgs/msg/Odometry': Odometry;
  'std_msgs/msg/Bool': Bool;
  'std_msgs/msg/Empty': Empty;
  'std_msgs/msg/Float64MultiArray': Float64MultiArray;
  'diagnostic_msgs/msg/DiagnosticArray': DiagnosticArray;
}
export type RosTypeName = keyof RosMessages;
export const ROS_TYPE_NAMES: readonly RosTypeName[] = [
  'sensor_msgs/msg/JointState',
  'sensor_msgs/msg/Imu',
  'geometry_msgs/msg/PoseStamped',
  'geometry_msgs/msg/TwistStamped',
  'geometry_msgs/msg/PointStamped',
  'nav_msgs/msg/Odometry',
  'std_msgs/msg/Bool',
  'std_msgs/msg/Empty',
  'std_msgs/msg/Float64MultiArray',
  'diagnostic_msgs/msg/DiagnosticArray',
];

export function isRosTypeName(s: string): s is RosTypeName {
  return (ROS_TYPE_NAMES as readonly string[]).includes(s);
}

type MessageDefinition = ConstructorParameters<typeof MessageWriter>[0][number];

const DEFINITIONS: Readonly<Record<string, MessageDefinition>> = ros2humble;

/** The root definition of `type` followed by every nested one, as the CDR writer/reader want. */
export function definitionsOf(type: RosTypeName): MessageDefinition[] {
  const out: MessageDefinition[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const def = DEFINITIONS[name];
    if (def === undefined) throw new Error(`no ROS 2 definition for ${name}`);
    out.push(def);
    for (const f of def.definitions) if (f.isComplex === true) visit(f.type);
  };
  visit(type.replace('/msg/', '/'));
  return out;
}

/** CDR encode/decode of one message type (what travels on the wire between DDS participants). */
export class CdrCodec<T extends RosTypeName> {
  private readonly writer: MessageWriter;
  private readonly reader: MessageReader;

  constructor(readonly type: T) {
    const defs = definitionsOf(type);
    this.writer = new MessageWriter(defs);
    this.reader = new MessageReader(defs);
  }

  encode(msg: RosMessages[T]): Uint8Array {
    return this.writer.writeMessage(msg);
  }

  /** Decodes CDR bytes; the reader builds exactly the definition's fields, so the shape is T's. */
  decode(bytes: Uint8Array): RosMessages[T] {
    return this.reader.readMessage<RosMessages[T]>(bytes);
  }
}

/** Seconds (float) → builtin_interfaces/Time. */
export function timeFromSeconds(s: number): Time {
  const sec = Math.floor(s);
  return { sec, nanosec: Math.min(999_999_999, Math.round((s - sec) * 1e9)) };
}

export function header(stamp: Time, frameId: string): Header {
  return { stamp, frame_id: frameId };
}
