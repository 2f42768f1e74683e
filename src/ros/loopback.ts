/**
 * In-process ROS 2 transport: a {@link LoopbackGraph} plays the DDS domain and any number of
 * {@link LoopbackTransport} nodes join it. By default every published message is CDR-encoded with
 * the real ROS 2 definitions and each subscriber decodes its own copy, so whatever runs on the
 * loopback also proves its messages survive the real wire format. Delivery is synchronous (in
 * publish order), which keeps tests on virtual time deterministic.
 */
import { type Observable, type SchedulerLike, Subject, asyncScheduler, map, takeUntil } from 'rxjs';
import { CdrCodec, type RosMessages, type RosTypeName, type Time, timeFromSeconds } from './messages.ts';
import { type ParameterValue, type QosSettings, type RosPublisher, type RosServiceName, type RosServices, type RosTransport, TransportError, checkParameter } from './transport.ts';

/** A loopback service server: answers a request, or null to leave it unanswered. */
export type LoopbackHandler<S extends RosServiceName> = (request: RosServices[S]['request']) => RosServices[S]['response'] | null;

interface Topic {
  readonly type: RosTypeName;
  readonly bytes$: Subject<Uint8Array | object>;
}

/** The shared "domain" loopback nodes publish and subscribe on. */
export class LoopbackGraph {
  private readonly topics = new Map<string, Topic>();
  private readonly codecs = new Map<RosTypeName, CdrCodec<RosTypeName>>();
  /** Messages published per topic (for tests and the bench). */
  readonly published = new Map<string, number>();
  private readonly services = new Map<string, { type: RosServiceName; handler: (request: never) => unknown }>();

  constructor(
    /** Round-trip every message through CDR (default true); false passes the objects through. */
    readonly cdr = true,
  ) {}

  topic(name: string, type: RosTypeName): Topic {
    if (!name.startsWith('/')) throw new TransportError(`topic ${JSON.stringify(name)}: expected an absolute name starting with '/'`);
    let t = this.topics.get(name);
    if (t === undefined) {
      t = { type, bytes$: new Subject() };
      this.topics.set(name, t);
    } else if (t.type !== type) {
      throw new TransportError(`topic ${name} carries ${t.type}, but ${type} was asked for`);
    }
    return t;
  }

  /** Offers `service` on the graph (requests and responses pass as objects, without CDR). */
  serve<S extends RosServiceName>(service: string, type: S, handler: LoopbackHandler<S>): void {
    if (!service.startsWith('/')) throw new TransportError(`service ${JSON.stringify(service)}: expected an absolute name starting with '/'`);
    this.services.set(service, { type, handler });
  }

  /** The server of `service`, or undefined; a type mismatch throws. */
  server<S extends RosServiceName>(service: string, type: S): LoopbackHandler<S> | undefined {
    const s = this.services.get(service);
    if (s === undefined) return undefined;
    if (s.type !== type) throw new TransportError(`service ${service} is ${s.type}, but ${type} was asked for`);
    return s.handler as LoopbackHandler<S>;
  }

  codec<T extends RosTypeName>(type: T): CdrCodec<T> {
    let c = this.codecs.get(type);
    if (c === undefined) {
      c = new CdrCodec(type);
      this.codecs.set(type, c);
    }
    return c as CdrCodec<T>;
  }
}

/** Options of a {@link LoopbackTransport}. */
export interface LoopbackOptions {
  readonly nodeName?: string;
  /** Parameter overrides, as `--ros-args -p name:=value` would give. */
  readonly parameters?: Readonly<Record<string, ParameterValue>>;
  /** Clock source (virtual time in tests); ROS time = scheduler.now() in ms. */
  readonly scheduler?: SchedulerLike;
}

export class LoopbackTransport implements RosTransport {
  readonly nodeName: string;
  private readonly scheduler: SchedulerLike;
  private readonly shutdown$ = new Subject<void>();
  private closed = false;

  constructor(
    readonly graph: LoopbackGraph,
    private readonly options: LoopbackOptions = {},
  ) {
    this.nodeName = options.nodeName ?? 'csc_node';
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  subscribe<T extends RosTypeName>(topic: string, type: T, _qos?: QosSettings): Observable<RosMessages[T]> {
    this.checkOpen();
    const t = this.graph.topic(topic, type);
    const codec = this.graph.codec(type);
    return t.bytes$.pipe(
      map((m) => (m instanceof Uint8Array ? codec.decode(m) : (m as RosMessages[T]))),
      takeUntil(this.shutdown$),
    );
  }

  createPublisher<T extends RosTypeName>(topic: string, type: T, _qos?: QosSettings): RosPublisher<T> {
    this.checkOpen();
    const t = this.graph.topic(topic, type);
    const codec = this.graph.codec(type);
    const graph = this.graph;
    return {
      publish: (msg: RosMessages[T]): void => {
        if (this.closed) throw new TransportError(`${this.nodeName}: publish on ${topic} after shutdown`);
        graph.published.set(topic, (graph.published.get(topic) ?? 0) + 1);
        t.bytes$.next(graph.cdr ? codec.encode(msg) : msg);
      },
    };
  }

  declareParameter<V extends ParameterValue>(name: string, defaultValue: V): V {
    const over = this.options.parameters?.[name];
    return over === undefined ? defaultValue : checkParameter(name, defaultValue, over);
  }

  callService<S extends RosServiceName>(service: string, type: S, request: RosServices[S]['request'], _timeoutMs: number): Promise<RosServices[S]['response'] | null> {
    this.checkOpen();
    const handler = this.graph.server(service, type);
    return Promise.resolve(handler === undefined ? null : handler(request));
  }

  now(): Time {
    return timeFromSeconds(this.scheduler.now() / 1000);
  }

  shutdown(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.shutdown$.next();
      this.shutdown$.complete();
    }
    return Promise.resolve();
  }

  private checkOpen(): void {
    if (this.closed) throw new TransportError(`${this.nodeName}: transport used after shutdown`);
  }
}
