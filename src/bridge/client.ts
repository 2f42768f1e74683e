/**
 * One DEALER connection to one csc-sim/1 server: request ids, per-request timeouts, and replies
 * matched to requests by id (so several requests may be in flight). Server faults reject the
 * request's promise with a named error; replies that match nothing are counted, not thrown.
 */
import { Dealer } from 'zeromq';
import { BridgeProtocolError, SimServerError, SimTimeoutError } from './errors.ts';
import type { RenderRequest } from '../envs/env.ts';
import {
  decodeReply,
  encodeRequest,
  f32ToWire,
  parsePingData,
  parseRenderData,
  parseResetData,
  parseSpecData,
  parseStepData,
} from './codec.ts';
import {
  PROTOCOL_VERSION,
  type Op,
  type PingData,
  type RenderData,
  type Request,
  type ResetData,
  type SpecData,
  type StepData,
} from './messages.ts';

/**
 * ZeroMQ CURVE keys of a client (Z85 strings, 40 characters): the server's public key, which the
 * handshake proves the server holds the secret of, and this client's own key pair, which the
 * server's ZAP handler must admit. Traffic is then encrypted and authenticated both ways.
 */
export interface CurveClientKeys {
  readonly serverKey: string;
  readonly publicKey: string;
  readonly secretKey: string;
}

/** Options of a {@link SimClient}. */
export interface SimClientOptions {
  /** Default reply timeout for every request, in milliseconds. */
  readonly timeoutMs?: number;
  /** Talk CURVE to a CURVE server (a Ray-hosted server, docs/scale-out.md); plain when absent. */
  readonly curve?: CurveClientKeys;
}

interface Pending {
  readonly op: Op;
  readonly resolve: (data: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as callers write it: the client adds `v` and `id`, so ids cannot collide or be forged. */
type RequestBody = DistributiveOmit<Request, 'v' | 'id'>;

const MAX_ID = 0xffff_ffff;

/** A connection to one server. Create with {@link SimClient.connect}; release with {@link SimClient.disconnect}. */
export class SimClient {
  private readonly socket: Dealer;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly sendQueue: { id: number; frame: Buffer }[] = [];
  private sending = false;
  private closedBy: Error | undefined;
  private closedByUs = false;
  /** Replies whose id matched no in-flight request (late answers to timed-out requests, `bad_frame` echoes). */
  strayReplies = 0;

  private constructor(
    readonly endpoint: string,
    private readonly timeoutMs: number,
    curve: CurveClientKeys | undefined,
  ) {
    this.socket =
      curve === undefined
        ? new Dealer({ linger: 0 })
        : new Dealer({ linger: 0, curveServerKey: curve.serverKey, curvePublicKey: curve.publicKey, curveSecretKey: curve.secretKey });
  }

  /**
   * Connects (ZeroMQ connects lazily: a wrong endpoint, or CURVE keys the server refuses, show up
   * as request timeouts).
   */
  static connect(endpoint: string, options: SimClientOptions = {}): SimClient {
    const client = new SimClient(endpoint, options.timeoutMs ?? 10_000, options.curve);
    client.socket.connect(endpoint);
    void client.receiveLoop();
    return client;
  }

  /** Number of requests awaiting a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Whether {@link disconnect} or {@link failAll} has ended this client. */
  get closed(): boolean {
    return this.closedBy !== undefined;
  }

  spec(timeoutMs?: number): Promise<SpecData> {
    return this.request({ op: 'spec' }, timeoutMs).then(parseSpecData);
  }

  reset(seed: number, numEnvs: number, obsSize: number, timeoutMs?: number): Promise<ResetData> {
    return this.request({ op: 'reset', seed }, timeoutMs).then((d) => parseResetData(d, numEnvs, obsSize));
  }

  /**
   * Steps the server's batch with `actions` (`numEnvs × actSize`). With `render` (`env` indexes
   * this server's batch) the reply carries that env's s′ as a frame, taken before its auto-reset.
   */
  step(
    actions: Float32Array,
    numEnvs: number,
    actSize: number,
    obsSize: number,
    timeoutMs?: number,
    render?: RenderRequest,
  ): Promise<StepData> {
    const wire = f32ToWire(actions, [numEnvs, actSize]);
    const body: RequestBody =
      render === undefined
        ? { op: 'step', actions: wire }
        : { op: 'step', actions: wire, render: { env: render.env, width: render.widthPx, height: render.heightPx } };
    return this.request(body, timeoutMs).then((d) => parseStepData(d, numEnvs, obsSize, render));
  }

  /** A frame of env `request.env` (of this server's batch) in its current state. */
  render(request: RenderRequest, timeoutMs?: number): Promise<RenderData> {
    return this.request({ op: 'render', env: request.env, width: request.widthPx, height: request.heightPx }, timeoutMs).then((d) =>
      parseRenderData(d, request.widthPx, request.heightPx),
    );
  }

  ping(payload: Uint8Array = new Uint8Array(0), timeoutMs?: number): Promise<PingData> {
    return this.request({ op: 'ping', payload }, timeoutMs).then(parsePingData);
  }

  /** Asks the server process to shut down (it replies first). */
  async close(timeoutMs?: number): Promise<void> {
    await this.request({ op: 'close' }, timeoutMs);
  }

  /** Sends one request; resolves with the reply's unchecked `data`, rejects with a named error. */
  request(body: RequestBody, timeoutMs: number = this.timeoutMs): Promise<unknown> {
    if (this.closedBy !== undefined) {
      // a server fault (it died) stays that fault for every later request; our own disconnect is misuse
      return Promise.reject(
        this.closedByUs ? new Error(`SimClient ${this.endpoint}: ${body.op} after the client was closed`) : this.closedBy,
      );
    }
    const id = this.nextId;
    this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1;
    const frame = encodeRequest({ ...body, v: PROTOCOL_VERSION, id });
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SimTimeoutError(this.endpoint, body.op, id, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { op: body.op, resolve, reject, timer });
      this.sendQueue.push({ id, frame });
      if (!this.sending) void this.drainSendQueue();
    });
  }

  // zeromq allows one pending send per socket: requests leave one after another, in order
  private async drainSendQueue(): Promise<void> {
    this.sending = true;
    for (let next = this.sendQueue.shift(); next !== undefined; next = this.sendQueue.shift()) {
      if (this.closedBy !== undefined) break;
      try {
        await this.socket.send(next.frame);
      } catch (e) {
        this.settle(next.id, undefined, e instanceof Error ? e : new Error(String(e)));
      }
    }
    this.sending = false;
  }

  /** Rejects every in-flight request with `err` and closes the socket (e.g. the process died). */
  failAll(err: Error): void {
    if (this.closedBy === undefined) this.closedBy = err;
    for (const [id] of this.pending) this.settle(id, undefined, err);
    this.socket.close();
  }

  /** Closes the socket; in-flight requests reject. Idempotent. */
  disconnect(): void {
    if (this.closedBy === undefined) this.closedByUs = true;
    this.failAll(new Error(`SimClient ${this.endpoint} disconnected`));
  }

  private settle(id: number, data: unknown, err: Error | undefined): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err !== undefined) p.reject(err);
    else p.resolve(data);
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const frame = frames[frames.length - 1];
        if (frame === undefined) continue;
        let reply;
        try {
          reply = decodeReply(frame);
        } catch (e) {
          // a reply we cannot read cannot be matched either: fail everything in flight on this server
          const err = e instanceof Error ? e : new BridgeProtocolError(String(e));
          for (const [id] of this.pending) this.settle(id, undefined, err);
          continue;
        }
        const p = reply.id === null ? undefined : this.pending.get(reply.id);
        if (p === undefined || reply.id === null) {
          this.strayReplies++;
          continue;
        }
        if (reply.ok) this.settle(reply.id, reply.data, undefined);
        else this.settle(reply.id, undefined, new SimServerError(this.endpoint, p.op, reply.error.code, reply.error.message));
      }
    } catch (e) {
      if (this.closedBy === undefined) this.failAll(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
