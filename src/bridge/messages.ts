/**
 * Message types of the csc-sim/1 protocol (docs/protocol.md), as tagged unions on `op` / `ok`.
 * These are the shapes after boundary validation in `codec.ts`; nothing from the wire is trusted
 * before it has been checked into one of them.
 */
import type { EnvSpec, Frame } from '../envs/env.ts';

/** Wire version carried as `v` in every message. */
export const PROTOCOL_VERSION = 1;
/** Human-readable protocol name reported by servers in their `spec` and ready line. */
export const PROTOCOL_NAME = 'csc-sim/1';

/** The operations a client can ask for. */
export const OPS = ['spec', 'reset', 'step', 'close', 'ping', 'render'] as const;
export type Op = (typeof OPS)[number];

/** Error codes a server may answer with (docs/protocol.md "Error codes"). */
export const ERROR_CODES = [
  'bad_frame',
  'bad_version',
  'unknown_op',
  'bad_request',
  'bad_action',
  'not_reset',
  'env_error',
  'cannot_render',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Element type tag of an array on the wire: little-endian float32 or uint8. */
export type WireDtype = 'f32' | 'u8';

/** A typed array on the wire: raw little-endian bytes plus dtype and shape. */
export interface WireArray {
  readonly dtype: WireDtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

interface RequestBase {
  readonly v: typeof PROTOCOL_VERSION;
  /** Chosen by the client, unique among its in-flight requests; echoed in the reply. */
  readonly id: number;
}

/** Which env of a server's batch to render, in pixels (the `render` op, a step's `render` field). */
export interface WireRender {
  readonly env: number;
  readonly width: number;
  readonly height: number;
}

/** A request from the learner (DEALER) to a server (ROUTER). */
export type Request =
  | (RequestBase & { readonly op: 'spec' })
  | (RequestBase & { readonly op: 'reset'; readonly seed: number })
  | (RequestBase & { readonly op: 'step'; readonly actions: WireArray; readonly render?: WireRender })
  | (RequestBase & { readonly op: 'close' })
  | (RequestBase & { readonly op: 'ping'; readonly payload: Uint8Array })
  | (RequestBase & { readonly op: 'render' } & WireRender);

/** The envelope of a reply; `data` is checked per op by the `parse*Data` functions of codec.ts. */
export type Reply =
  | { readonly v: typeof PROTOCOL_VERSION; readonly id: number | null; readonly ok: true; readonly data: unknown }
  | {
      readonly v: typeof PROTOCOL_VERSION;
      /** `null` when the server could not read the request's id (a `bad_frame`). */
      readonly id: number | null;
      readonly ok: false;
      readonly error: { readonly code: ErrorCode; readonly message: string };
    };

/** `spec` reply: the env's EnvSpec plus how many envs this server steps per request. */
export interface SpecData extends EnvSpec {
  readonly protocol: string;
  readonly numEnvs: number;
}

/** `reset` reply: `numEnvs × obsSize` initial observations. */
export interface ResetData {
  readonly obs: Float32Array;
}

/** `step` reply for the server's K envs (auto-reset; `nextObs` is the true s′). */
export interface StepData {
  readonly obs: Float32Array;
  readonly nextObs: Float32Array;
  readonly reward: Float32Array;
  readonly failure: Uint8Array;
  readonly terminated: Uint8Array;
  readonly truncated: Uint8Array;
  /** Present when the step asked for one: the rendered env's s′, before its auto-reset. */
  readonly frame?: Frame;
}

/** `render` reply: the env's current state. */
export interface RenderData {
  readonly frame: Frame;
}

/** `ping` reply: the request's payload echoed back. */
export interface PingData {
  readonly payload: Uint8Array;
}
