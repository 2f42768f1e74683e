/**
 * rosbag2-compatible MCAP recording and reading.
 *
 * Files are what `ros2 bag record -s mcap` writes: MCAP profile `ros2`, messages CDR-encoded
 * (`@foxglove/rosmsg2-serialization`), each channel's schema the complete `ros2msg` text of its type
 * (src/ros/ros2msg.ts), chunked and indexed so `ros2 bag info`, the `mcap` CLI, Foxglove and the
 * Python `mcap-ros2-support` reader open them. Transitions (s, a, r, C(s′), terminated, truncated,
 * s′) travel on `/csc/transition` as `csc_node/msg/Transition`. Format and inspection:
 * docs/ros-packaging.md.
 */
import { McapStreamReader, McapWriter, type IWritable } from '@mcap/core';
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';
import { parse } from '@foxglove/rosmsg';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, tempSiblingPath } from '../core/atomic.ts';
import { definitionsWithDependencies, fullTypeName, ros2msgSchema, TRANSITION_TYPE } from './ros2msg.ts';

export { TRANSITION_TYPE } from './ros2msg.ts';

/** The topic transitions are recorded on. */
export const TRANSITION_TOPIC = '/csc/transition';

/** MCAP header profile of ROS 2 bags. */
export const ROS2_PROFILE = 'ros2';

/**
 * The QoS rosbag2 stores for each recorded topic (`offered_qos_profiles`, required by the MCAP
 * `ros2` profile): one publisher, reliable, volatile, automatic liveliness, infinite durations, in
 * the YAML layout rosbag2 has used since Humble. `ros2 bag play` offers this QoS when replaying.
 */
export const OFFERED_QOS_PROFILES = `- history: 3
  depth: 0
  reliability: 1
  durability: 2
  deadline:
    sec: 2147483647
    nsec: 4294967295
  lifespan:
    sec: 2147483647
    nsec: 4294967295
  liveliness: 1
  liveliness_lease_duration:
    sec: 2147483647
    nsec: 4294967295
  avoid_ros_namespace_conventions: false
`;

/** One environment step as recorded on `/csc/transition` and as `--seed-data` consumes it. */
export interface TransitionRecord {
  obs: Float32Array;
  action: Float32Array;
  reward: number;
  /** C(s′) ∈ {0, 1}. */
  failure: 0 | 1;
  terminated: boolean;
  truncated: boolean;
  next_obs: Float32Array;
}

/** Misuse of a recorder: writing after close, a topic reused with another type, a bad timestamp. */
export class McapRecorderError extends Error {
  override readonly name = 'McapRecorderError';
}

/** A file that is not a readable rosbag2 MCAP: names the file and what was wrong. */
export class McapReadError extends Error {
  override readonly name = 'McapReadError';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** Sequential writes to an open file handle, tracking the position MCAP's indexes need. */
class FileWritable implements IWritable {
  #position = 0n;
  constructor(private readonly fh: FileHandle) {}

  async write(buffer: Uint8Array): Promise<void> {
    let off = 0;
    while (off < buffer.length) {
      const { bytesWritten } = await this.fh.write(buffer, off, buffer.length - off);
      off += bytesWritten;
    }
    this.#position += BigInt(buffer.length);
  }

  position(): bigint {
    return this.#position;
  }
}

interface RecorderChannel {
  readonly type: string;
  readonly serializer: MessageWriter;
  /** Set once the channel's registration, queued before any of its messages, has run. */
  id: number | undefined;
  sequence: number;
}

/**
 * Records ROS 2 messages into an MCAP file. `write` is synchronous (it serializes at once, so the
 * caller may reuse its message object, and bad messages throw there); the file I/O runs behind it in
 * order. The file appears at `path` only when `close()` resolves: until then it is a dot-prefixed
 * temp sibling, renamed into place atomically, so a reader never sees half a bag.
 */
export class McapRecorder {
  readonly #channels = new Map<string, RecorderChannel>();
  #queue: Promise<void> = Promise.resolve();
  #failure: unknown = undefined;
  #closing: Promise<void> | undefined;
  #messageCount = 0;

  private constructor(
    /** Where the finished bag goes. */
    readonly path: string,
    private readonly tmpPath: string,
    private readonly fh: FileHandle,
    private readonly writer: McapWriter,
  ) {}

  /** Starts a recording that will land at `path` when closed. */
  static async open(path: string): Promise<McapRecorder> {
    const tmp = tempSiblingPath(path);
    const fh = await open(tmp, 'wx');
    const writer = new McapWriter({ writable: new FileWritable(fh), useStatistics: true, useChunks: true });
    try {
      await writer.start({ profile: ROS2_PROFILE, library: 'csc_node' });
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    return new McapRecorder(path, tmp, fh, writer);
  }

  /** Messages accepted by `write` so far. */
  get messageCount(): number {
    return this.#messageCount;
  }

  /**
   * Records `message` (a plain object in the layout of ROS 2 type `type`, `pkg/msg/Name`) on
   * `topic` at `timeNs` (nanoseconds since the epoch, or sim time). The first message on a topic
   * registers its schema and channel; a topic keeps one type.
   */
  write(topic: string, type: string, message: unknown, timeNs: bigint): void {
    if (this.#closing !== undefined) throw new McapRecorderError(`${this.path}: write to '${topic}' after close()`);
    if (this.#failure !== undefined) {
      throw new McapRecorderError(`${this.path}: recording failed earlier: ${describe(this.#failure)}`);
    }
    if (topic === '' || !topic.startsWith('/')) {
      throw new McapRecorderError(`${this.path}: topic '${topic}' must be an absolute ROS 2 name starting with '/'`);
    }
    if (timeNs < 0n) throw new McapRecorderError(`${this.path}: '${topic}' timestamp ${timeNs} ns is negative`);
    const channel = this.#channel(topic, fullTypeName(type));
    let data: Uint8Array;
    try {
      data = channel.serializer.writeMessage(message);
    } catch (err) {
      throw new McapRecorderError(`${this.path}: cannot encode a ${channel.type} for '${topic}': ${describe(err)}`);
    }
    const sequence = channel.sequence++;
    this.#messageCount++;
    this.#enqueue(() =>
      this.writer.addMessage({ channelId: channel.id!, sequence, logTime: timeNs, publishTime: timeNs, data }),
    );
  }

  /** Records one transition on `/csc/transition` as `csc_node/msg/Transition`. */
  writeTransition(t: TransitionRecord, timeNs: bigint): void {
    this.write(TRANSITION_TOPIC, TRANSITION_TYPE, t, timeNs);
  }

  /**
   * Finishes the file (summary, indexes, footer), fsyncs it and renames it to `path`. Rejects, and
   * leaves no file at `path`, if any write failed. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#finish();
    return this.#closing;
  }

  async #finish(): Promise<void> {
    try {
      await this.#queue;
      if (this.#failure !== undefined) throw new McapRecorderError(describe(this.#failure));
      await this.writer.end();
      await this.fh.sync();
    } catch (err) {
      await this.fh.close();
      await rm(this.tmpPath, { force: true });
      throw new McapRecorderError(`${this.path}: recording failed, nothing written: ${describe(err)}`);
    }
    await this.fh.close();
    await rename(this.tmpPath, this.path);
    await fsyncDir(dirname(this.path));
  }

  #channel(topic: string, type: string): RecorderChannel {
    const existing = this.#channels.get(topic);
    if (existing !== undefined) {
      if (existing.type !== type) {
        throw new McapRecorderError(`${this.path}: topic '${topic}' is recorded as ${existing.type}, not ${type}`);
      }
      return existing;
    }
    const channel: RecorderChannel = {
      type,
      serializer: new MessageWriter(definitionsWithDependencies(type)),
      id: undefined,
      sequence: 0,
    };
    const schema = new TextEncoder().encode(ros2msgSchema(type));
    this.#channels.set(topic, channel);
    this.#enqueue(async () => {
      const schemaId = await this.writer.registerSchema({ name: type, encoding: 'ros2msg', data: schema });
      channel.id = await this.writer.registerChannel({
        topic,
        schemaId,
        messageEncoding: 'cdr',
        metadata: new Map([['offered_qos_profiles', OFFERED_QOS_PROFILES]]),
      });
    });
    return channel;
  }

  /** McapWriter calls must not overlap; a failed one stops the rest and is reported once. */
  #enqueue(op: () => Promise<void>): void {
    this.#queue = this.#queue.then(async () => {
      if (this.#failure !== undefined) return;
      try {
        await op();
      } catch (err) {
        this.#failure = err;
      }
    });
  }
}

/** One message read back from a bag, decoded from CDR. */
export interface McapMessage {
  topic: string;
  /** ROS 2 type, `pkg/msg/Name`. */
  type: string;
  logTimeNs: bigint;
  publishTimeNs: bigint;
  sequence: number;
  /** The CDR bytes as stored. */
  data: Uint8Array;
  message: unknown;
}

const READ_BLOCK_BYTES = 1 << 20;

interface ReaderChannel {
  topic: string;
  type: string;
  decoder: MessageReader | undefined;
}

/**
 * Every message of `path` in file order (only `topics` if given), decoded with the schemas stored in
 * the file. Throws `McapReadError` naming the file and the fault for anything but a complete,
 * uncompressed-or-decodable ROS 2 MCAP: wrong magic, truncation, a CRC mismatch, a schema that is not
 * `ros2msg`, a message that does not decode.
 */
export async function readMcapMessages(path: string, topics?: readonly string[]): Promise<McapMessage[]> {
  const wanted = topics === undefined ? undefined : new Set(topics);
  const reader = new McapStreamReader({ validateCrcs: true });
  const schemas = new Map<number, { name: string; encoding: string; text: string }>();
  const channels = new Map<number, ReaderChannel>();
  const out: McapMessage[] = [];
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new McapReadError(path, `cannot open: ${describe(err)}`);
  }
  try {
    const block = new Uint8Array(READ_BLOCK_BYTES);
    let offset = 0;
    for (;;) {
      const { bytesRead } = await fh.read(block, 0, block.length, offset);
      if (bytesRead === 0) break;
      if (offset === 0 && !hasMagic(block.subarray(0, bytesRead))) {
        throw new McapReadError(path, 'not an MCAP file (it does not start with the MCAP magic bytes 0x89 "MCAP0\\r\\n")');
      }
      offset += bytesRead;
      reader.append(block.slice(0, bytesRead));
      for (let record; (record = nextRecord(reader, path, offset)); ) {
        switch (record.type) {
          case 'Header':
            if (record.profile !== ROS2_PROFILE) {
              throw new McapReadError(path, `MCAP profile is '${record.profile}', expected '${ROS2_PROFILE}' (a rosbag2 bag)`);
            }
            break;
          case 'Schema':
            schemas.set(record.id, { name: record.name, encoding: record.encoding, text: new TextDecoder().decode(record.data) });
            break;
          case 'Channel':
            if (!channels.has(record.id)) channels.set(record.id, openChannel(path, record, schemas));
            break;
          case 'Message': {
            const ch = channels.get(record.channelId);
            if (ch === undefined) {
              throw new McapReadError(path, `message at log time ${record.logTime} on unknown channel id ${record.channelId}`);
            }
            if (wanted !== undefined && !wanted.has(ch.topic)) break;
            const data = record.data.slice();
            out.push({
              topic: ch.topic,
              type: ch.type,
              logTimeNs: record.logTime,
              publishTimeNs: record.publishTime,
              sequence: record.sequence,
              data,
              message: decode(path, ch, data, out.length),
            });
            break;
          }
          case 'Footer':
          case 'DataEnd':
          case 'Statistics':
          case 'Chunk':
          case 'MessageIndex':
          case 'ChunkIndex':
          case 'Attachment':
          case 'AttachmentIndex':
          case 'Metadata':
          case 'MetadataIndex':
          case 'SummaryOffset':
          case 'Unknown':
            break;
        }
      }
    }
    if (offset === 0) throw new McapReadError(path, 'empty file (0 bytes), expected an MCAP bag');
    if (!reader.done()) {
      throw new McapReadError(
        path,
        `truncated: the file ends after ${offset} bytes without the MCAP footer (was the recorder stopped before close()?)`,
      );
    }
  } finally {
    await fh.close();
  }
  return out;
}

/**
 * The transitions recorded on `/csc/transition` in `path`, in order, checked for a consistent
 * layout: every record has finite numbers, failure 0 or 1 (1 only with terminated, the Env
 * contract), `obs` and `next_obs` of one length, and the same sizes as the first record.
 */
export async function readMcapTransitions(path: string): Promise<TransitionRecord[]> {
  const msgs = await readMcapMessages(path, [TRANSITION_TOPIC]);
  const out: TransitionRecord[] = [];
  for (const [i, m] of msgs.entries()) {
    if (m.type !== TRANSITION_TYPE) {
      throw new McapReadError(path, `${TRANSITION_TOPIC} carries ${m.type}, expected ${TRANSITION_TYPE}`);
    }
    const t = toTransition(path, i, m.message);
    const first = out[0];
    if (first !== undefined && (t.obs.length !== first.obs.length || t.action.length !== first.action.length)) {
      throw new McapReadError(
        path,
        `transition ${i}: obs/action sizes ${t.obs.length}/${t.action.length} differ from the first transition's ` +
          `${first.obs.length}/${first.action.length}`,
      );
    }
    out.push(t);
  }
  return out;
}

function toTransition(path: string, index: number, message: unknown): TransitionRecord {
  const where = `transition ${index}`;
  if (typeof message !== 'object' || message === null) throw new McapReadError(path, `${where} did not decode to a message`);
  const m = new Map<string, unknown>(Object.entries(message));
  const floats = (field: string): Float32Array => {
    const v = m.get(field);
    if (!(v instanceof Float32Array)) throw new McapReadError(path, `${where}: field '${field}' is not a float32[]`);
    for (const [j, x] of v.entries()) {
      if (!Number.isFinite(x)) throw new McapReadError(path, `${where}: ${field}[${j}] is ${x}, expected a finite number`);
    }
    return v;
  };
  const obs = floats('obs');
  const action = floats('action');
  const nextObs = floats('next_obs');
  const reward = m.get('reward');
  if (typeof reward !== 'number' || !Number.isFinite(reward)) {
    throw new McapReadError(path, `${where}: reward is ${String(reward)}, expected a finite number`);
  }
  const failure = m.get('failure');
  if (failure !== 0 && failure !== 1) throw new McapReadError(path, `${where}: failure is ${String(failure)}, expected 0 or 1`);
  if (nextObs.length !== obs.length) {
    throw new McapReadError(path, `${where}: next_obs has ${nextObs.length} values, obs has ${obs.length}`);
  }
  const terminated = m.get('terminated');
  const truncated = m.get('truncated');
  if (typeof terminated !== 'boolean' || typeof truncated !== 'boolean') {
    throw new McapReadError(path, `${where}: terminated/truncated are not booleans`);
  }
  if (failure === 1 && !terminated) {
    throw new McapReadError(path, `${where}: failure is 1 but terminated is false (a failure always ends the episode)`);
  }
  return { obs, action, reward, failure, terminated, truncated, next_obs: nextObs };
}

const MCAP_MAGIC = [0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a];

function hasMagic(head: Uint8Array): boolean {
  return head.length >= MCAP_MAGIC.length && MCAP_MAGIC.every((b, i) => head[i] === b);
}

function nextRecord(reader: McapStreamReader, path: string, offset: number): ReturnType<McapStreamReader['nextRecord']> {
  try {
    return reader.nextRecord();
  } catch (err) {
    const compression = /Unsupported compression (\S+)/.exec(describe(err))?.[1];
    if (compression !== undefined) {
      throw new McapReadError(
        path,
        `chunk compression '${compression}' is not supported: this reader takes uncompressed chunks, as McapRecorder ` +
          'writes them (docs/ros-packaging.md shows how to rewrite a compressed bag)',
      );
    }
    throw new McapReadError(path, `malformed MCAP within the first ${offset} bytes: ${describe(err)}`);
  }
}

function openChannel(
  path: string,
  channel: { id: number; topic: string; schemaId: number; messageEncoding: string },
  schemas: ReadonlyMap<number, { name: string; encoding: string; text: string }>,
): ReaderChannel {
  const schema = schemas.get(channel.schemaId);
  if (schema === undefined) {
    throw new McapReadError(path, `channel '${channel.topic}' refers to schema id ${channel.schemaId}, which precedes no Schema record`);
  }
  if (channel.messageEncoding !== 'cdr' || schema.encoding !== 'ros2msg') {
    // Still listed, so a topic filter can skip it; decoding it is an error (see decode()).
    return { topic: channel.topic, type: schema.name, decoder: undefined };
  }
  try {
    return { topic: channel.topic, type: schema.name, decoder: new MessageReader(parse(schema.text, { ros2: true })) };
  } catch (err) {
    throw new McapReadError(path, `channel '${channel.topic}': schema ${schema.name} does not parse as ros2msg: ${describe(err)}`);
  }
}

function decode(path: string, ch: ReaderChannel, data: Uint8Array, index: number): unknown {
  if (ch.decoder === undefined) {
    throw new McapReadError(path, `channel '${ch.topic}' (${ch.type}) is not CDR with a ros2msg schema; cannot decode it`);
  }
  try {
    return ch.decoder.readMessage(data);
  } catch (err) {
    throw new McapReadError(path, `message ${index} on '${ch.topic}' does not decode as ${ch.type}: ${describe(err)}`);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
