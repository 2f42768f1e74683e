/**
 * How the safety node talks to ROS 2: topics as RxJS Observables, publishers, declared parameters
 * and a clock. Two implementations: `rclnodejs-transport.ts` (a real ROS 2 graph, loaded lazily)
 * and `loopback.ts` (in-process, every message round-tripped through CDR), used by tests, the
 * sim-in-the-loop run and the latency benchmark.
 */
import type { Observable } from 'rxjs';
import type { RosMessages, RosTypeName, Time } from './messages.ts';

/** The QoS settings the node needs (a subset of rmw's). */
export interface QosSettings {
  /** `reliable` (default) or `best_effort` (sensor data). */
  readonly reliability?: 'reliable' | 'best_effort';
  /** KEEP_LAST depth (default 10). */
  readonly depth?: number;
}

export interface RosPublisher<T extends RosTypeName> {
  publish(msg: RosMessages[T]): void;
}

/** The services the node calls (MoveIt Servo's start calls), request and response in rclnodejs' shape. */
export interface RosServices {
  'std_srvs/srv/Trigger': { request: Record<string, never>; response: { success: boolean; message: string } };
  'moveit_msgs/srv/ServoCommandType': { request: { command_type: number }; response: { success: boolean } };
}
export type RosServiceName = keyof RosServices;

/** A parameter value ROS 2 can carry (the types the node declares). */
export type ParameterValue = boolean | number | string | readonly number[];

export interface RosTransport {
  /** Node name (for diagnostics' `hardware_id` and logs). */
  readonly nodeName: string;
  /** Messages of `topic`; completes at shutdown. Peer faults arrive as stream errors. */
  subscribe<T extends RosTypeName>(topic: string, type: T, qos?: QosSettings): Observable<RosMessages[T]>;
  createPublisher<T extends RosTypeName>(topic: string, type: T, qos?: QosSettings): RosPublisher<T>;
  /**
   * Declares a parameter with its default and returns its value: the default, or what the
   * parameter files / overrides (`--ros-args -p name:=v --params-file f.yaml`) set.
   */
  declareParameter<V extends ParameterValue>(name: string, defaultValue: V): V;
  /**
   * Calls `service` once: resolves with the response, or null when no server is available or none
   * answered within `timeoutMs`. Peer faults never throw; misuse (a bad name) does.
   */
  callService<S extends RosServiceName>(service: string, type: S, request: RosServices[S]['request'], timeoutMs: number): Promise<RosServices[S]['response'] | null>;
  /** The node's clock (ROS time), for header stamps. */
  now(): Time;
  /** Destroys subscriptions and publishers; subscriptions complete. Idempotent. */
  shutdown(): Promise<void>;
}

/** A transport could not be created or used (ROS 2 not sourced, wrong parameter type, …). */
export class TransportError extends Error {
  override readonly name = 'TransportError';
}

/** Checks that a parameter override has the default's type; names the parameter otherwise. */
export function checkParameter<V extends ParameterValue>(name: string, defaultValue: V, value: unknown): V {
  const kind = (v: unknown): string => (Array.isArray(v) || ArrayBuffer.isView(v) ? 'number[]' : typeof v);
  if (kind(value) !== kind(defaultValue)) {
    throw new TransportError(`parameter ${name}: got ${JSON.stringify(value)} (${kind(value)}), expected a ${kind(defaultValue)} like the default ${JSON.stringify(defaultValue)}`);
  }
  if (kind(value) === 'number[]') {
    const arr = Array.from(value as ArrayLike<unknown>);
    if (!arr.every((x) => typeof x === 'number')) throw new TransportError(`parameter ${name}: got ${JSON.stringify(arr)}, expected a list of numbers`);
    return arr as unknown as V;
  }
  return value as V;
}
