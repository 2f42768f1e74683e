/**
 * What the safety node needs from a robot: its state topics, the observation in the training
 * env's layout, the failure detector, and commands under hard limits. One implementation per
 * profile kind (`panda.ts`, `laikago.ts`); the node itself is robot-agnostic.
 */
import type { Observable } from 'rxjs';
import type { Time } from './messages.ts';
import type { RobotProfile } from './profile.ts';
import type { RosTransport } from './transport.ts';

/** Which hard limits changed the policy's command this step (empty: it passed unchanged). */
export type LimitFlag = 'rate' | 'velocity' | 'workspace' | 'joint-range' | 'non-finite';

export interface RobotAdapter {
  readonly profile: RobotProfile;
  /** Observation names, in order; must equal the checkpoint's env spec. */
  readonly obsNames: readonly string[];
  /** The state topics that must all be fresh before the policy may act. */
  readonly stateTopics: readonly string[];
  /**
   * Subscribes to the state topics and opens the command publisher. Emits the topic name of each
   * state message after storing it; stream errors are peer faults of the transport.
   */
  connect(transport: RosTransport): Observable<string>;
  /** Fills `obs` from the latest messages; returns why it cannot (missing, NaN, implausible) or null. */
  observe(obs: Float32Array): string | null;
  /** The profile's failure detector on the latest state: a reason, or null. */
  detectFailure(): string | null;
  /** Maps a policy action to a command, clamps it to the hard limits and publishes it. */
  actuate(action: Float32Array, stamp: Time): readonly LimitFlag[];
  /** Publishes the hold command (zero twist / damping) and forgets the command history. */
  hold(stamp: Time): void;
  /** A new episode: re-anchors internal state (virtual setpoint, last action). */
  reset(): void;
}

export function checkFinite(values: ArrayLike<number>, what: string): string | null {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return `${what}[${i}] is ${values[i]}`;
  return null;
}

/** Rotation matrix (row-major 3×3) of a quaternion (x, y, z, w), normalised; null when its norm is implausible. */
export function rotationOf(q: { x: number; y: number; z: number; w: number }): Float64Array | null {
  const n = Math.hypot(q.x, q.y, q.z, q.w);
  if (!Number.isFinite(n) || Math.abs(n - 1) > 0.05) return null;
  const x = q.x / n;
  const y = q.y / n;
  const z = q.z / n;
  const w = q.w / n;
  return Float64Array.of(
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  );
}
