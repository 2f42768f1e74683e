/**
 * The ROS 2 transport on rclnodejs, kept thin: rclnodejs is an optional peer dependency loaded by
 * a dynamic import only here, and only once a sourced ROS 2 is detected (without one, rclnodejs
 * tries to compile itself inside the import and fails after a long while).
 *
 * rclnodejs' typings are generated from the installed ROS 2 and are absent here, so the few calls
 * used are described by the structural interfaces below and checked when the module loads.
 * `--ros-args …` (e.g. `--params-file`, `-p name:=value`, remappings) reach rcl through
 * `init(context, argv)`; SIGINT and SIGTERM shut the node down.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Observable, Subject, takeUntil } from 'rxjs';
import type { RosMessages, RosTypeName, Time } from './messages.ts';
import { type ParameterValue, type QosSettings, type RosPublisher, type RosServiceName, type RosServices, type RosTransport, TransportError, checkParameter } from './transport.ts';

interface RclTime {
  readonly secondsAndNanoseconds: { readonly seconds: number | bigint; readonly nanoseconds: number | bigint };
}
interface RclParameter {
  readonly value: unknown;
}
interface RclClient {
  waitForService(timeoutMs?: number): Promise<boolean>;
  sendRequestAsync(request: unknown, options?: { timeout?: number }): Promise<unknown>;
}
interface RclNode {
  createClient(type: string, service: string): RclClient;
  createSubscription(type: string, topic: string, options: { qos: unknown }, callback: (msg: unknown) => void): unknown;
  createPublisher(type: string, topic: string, options: { qos: unknown }): { publish(msg: unknown): void };
  declareParameter(parameter: unknown): RclParameter;
  getClock(): { now(): RclTime };
  spin(): void;
  destroy(): void;
}
interface RclModule {
  init(context?: unknown, argv?: readonly string[]): Promise<void>;
  shutdown(): void;
  /** rclnodejs ≥ 0.22. */
  removeSignalHandlers?: () => void;
  Node: new (name: string) => RclNode;
  Parameter: new (name: string, type: number, value: unknown) => unknown;
  ParameterType: Readonly<Record<string, number>>;
  QoS: { readonly profileDefault: unknown; readonly profileSensorData: unknown };
}

export const ROS_SETUP_HINT =
  'source your ROS 2 installation first (e.g. `source /opt/ros/jazzy/setup.bash`, then your workspace\'s install/setup.bash) and build the optional peer dependency rclnodejs against it with `bash scripts/setup-ros.sh` in this package (it runs `npm install rclnodejs@2.2.0` in its own folder and links it into node_modules)';

/** Options of {@link createRclnodejsTransport}. */
export interface RclnodejsOptions {
  readonly nodeName: string;
  /** Arguments for rcl: everything from `--ros-args` on (parameter files, remaps, log level). */
  readonly rosArgs: readonly string[];
  /** Called on SIGINT/SIGTERM instead of shutting down at once (the caller shuts down). */
  readonly onSignal?: (signal: NodeJS.Signals) => void;
}

/** Loads rclnodejs, initialises rcl with the ROS args and creates the node. */
export async function createRclnodejsTransport(options: RclnodejsOptions): Promise<RosTransport> {
  const env = process.env;
  if ((env.AMENT_PREFIX_PATH ?? '') === '' || (env.ROS_DISTRO ?? '') === '') {
    throw new TransportError(`ROS 2 is not sourced (AMENT_PREFIX_PATH and ROS_DISTRO are unset): ${ROS_SETUP_HINT}. Without ROS 2, use \`csc node --sim <env>\` for the loopback transport.`);
  }
  // rclnodejs rebuilds itself in the import when its native module does not load (and its
  // rebuild starts by deleting the working build): make sure rcl is there first.
  const prefixes = (env.AMENT_PREFIX_PATH ?? '').split(':').filter((p) => p !== '');
  if (!prefixes.some((p) => existsSync(join(p, 'lib', 'librcl.so')))) {
    throw new TransportError(`cannot load rclnodejs (no lib/librcl.so under AMENT_PREFIX_PATH ${prefixes.join(':')}; is ROS 2 sourced from its setup.bash?): ${ROS_SETUP_HINT}`);
  }
  let mod: unknown;
  const specifier = 'rclnodejs';
  try {
    mod = await import(specifier);
  } catch (e) {
    throw new TransportError(`cannot load rclnodejs (${e instanceof Error ? e.message : String(e)}): ${ROS_SETUP_HINT}`);
  }
  const rcl = rclModule(mod);
  // rclnodejs shuts every context down on SIGINT by itself; the node must publish its final hold
  // first, so the handler below replaces rclnodejs'.
  rcl.removeSignalHandlers?.();
  // rcl parses its own arguments from argv[>0]; argv[0] is the program name.
  await rcl.init(undefined, ['csc', ...options.rosArgs]);
  const node = new rcl.Node(options.nodeName);
  const transport = new RclnodejsTransport(rcl, node, options.nodeName);
  node.spin();
  // With a handler, the caller stops its node first (a final hold command) and then shuts the
  // transport down; without one, the signal shuts the transport down at once.
  // The first signal stops; repeats are ignored (`ros2 launch` forwards a Ctrl-C the process
  // group already got, and a second SIGINT must not cut the final hold short).
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    if (options.onSignal !== undefined) options.onSignal(signal);
    else void transport.shutdown();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  transport.onClose = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  return transport;
}

function rclModule(mod: unknown): RclModule {
  const m = (typeof mod === 'object' && mod !== null && 'default' in mod ? (mod).default : mod) as Partial<RclModule> | null;
  const missing = ['init', 'shutdown', 'Node', 'Parameter', 'ParameterType', 'QoS'].filter((k) => m === null || !(k in m));
  if (m === null || missing.length > 0) throw new TransportError(`rclnodejs lacks ${missing.join(', ')}: expected rclnodejs ≥ 0.21 (${ROS_SETUP_HINT})`);
  return m as RclModule;
}

class RclnodejsTransport implements RosTransport {
  private readonly shutdown$ = new Subject<void>();
  private readonly clients = new Map<string, RclClient>();
  private closed = false;
  onClose: () => void = () => undefined;

  constructor(
    private readonly rcl: RclModule,
    private readonly node: RclNode,
    readonly nodeName: string,
  ) {}

  subscribe<T extends RosTypeName>(topic: string, type: T, qos?: QosSettings): Observable<RosMessages[T]> {
    return new Observable<RosMessages[T]>((sub) => {
      // rclnodejs builds each message from the type's generated definition: its shape is T's.
      this.node.createSubscription(type, topic, { qos: this.qos(qos) }, (msg) => {
        sub.next(msg as RosMessages[T]);
      });
    }).pipe(takeUntil(this.shutdown$));
  }

  createPublisher<T extends RosTypeName>(topic: string, type: T, qos?: QosSettings): RosPublisher<T> {
    const pub = this.node.createPublisher(type, topic, { qos: this.qos(qos) });
    return {
      publish: (msg) => {
        pub.publish(msg);
      },
    };
  }

  declareParameter<V extends ParameterValue>(name: string, defaultValue: V): V {
    const t = this.rcl.ParameterType;
    const typeId =
      typeof defaultValue === 'boolean' ? t.PARAMETER_BOOL : typeof defaultValue === 'string' ? t.PARAMETER_STRING : typeof defaultValue === 'number' ? t.PARAMETER_DOUBLE : t.PARAMETER_DOUBLE_ARRAY;
    if (typeId === undefined) throw new TransportError(`rclnodejs.ParameterType lacks the type for parameter ${name}`);
    const p = this.node.declareParameter(new this.rcl.Parameter(name, typeId, defaultValue));
    // Integer overrides (`-p rate:=20`) arrive as bigint; the node's parameters are doubles.
    const v = typeof p.value === 'bigint' ? Number(p.value) : p.value;
    return checkParameter(name, defaultValue, v);
  }

  async callService<S extends RosServiceName>(service: string, type: S, request: RosServices[S]['request'], timeoutMs: number): Promise<RosServices[S]['response'] | null> {
    let client = this.clients.get(service);
    if (client === undefined) {
      try {
        client = this.node.createClient(type, service);
      } catch (e) {
        // rclnodejs generates its message classes at install time, from the ROS 2 sourced then.
        throw new TransportError(`cannot create a client of ${service} (${type}): ${e instanceof Error ? e.message : String(e)}; if ${type.split('/')[0] ?? type} was installed after rclnodejs, regenerate rclnodejs' messages with the workspace sourced (\`npx generate-ros-messages\` in this package)`);
      }
      this.clients.set(service, client);
    }
    const t0 = Date.now();
    if (!(await client.waitForService(timeoutMs))) return null;
    try {
      const rest = Math.max(1, timeoutMs - (Date.now() - t0));
      // rclnodejs builds the response from the type's generated definition: its shape is S's.
      return (await client.sendRequestAsync(request, { timeout: rest })) as RosServices[S]['response'];
    } catch {
      return null; // timed out, or the server went away
    }
  }

  now(): Time {
    const { seconds, nanoseconds } = this.node.getClock().now().secondsAndNanoseconds;
    return { sec: Number(seconds), nanosec: Number(nanoseconds) };
  }

  shutdown(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.shutdown$.next();
    this.shutdown$.complete();
    this.node.destroy();
    this.rcl.shutdown();
    this.onClose();
    return Promise.resolve();
  }

  private qos(q: QosSettings | undefined): unknown {
    // rclnodejs' named profiles: default (reliable, keep last 10) and sensor data (best effort, 5).
    return q?.reliability === 'best_effort' ? this.rcl.QoS.profileSensorData : this.rcl.QoS.profileDefault;
  }
}
