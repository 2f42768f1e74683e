import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import {
  McapReadError,
  McapRecorder,
  McapRecorderError,
  readMcapMessages,
  readMcapTransitions,
  TRANSITION_TOPIC,
  TRANSITION_TYPE,
  type TransitionRecord,
} from './mcap.ts';
import { definitionsWithDependencies } from './ros2msg.ts';
import { sampleMessages, writeSampleBag } from '../../test/fixtures/sample-bag.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'csc-mcap-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function rejectsWith(path: string, pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof McapReadError, `expected McapReadError, got ${String(err)}`);
    assert.equal(err.path, path);
    assert.ok(err.message.startsWith(`${path}: `), err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

test('a recorded bag reads back: same topics, types, times, CDR bytes and decoded values', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'run.mcap');
    const written = await writeSampleBag(path);
    const read = await readMcapMessages(path);
    assert.equal(read.length, written.length);
    for (const [i, w] of written.entries()) {
      const r = read[i]!;
      assert.equal(r.topic, w.topic);
      assert.equal(r.type, w.type);
      assert.equal(r.logTimeNs, w.timeNs);
      assert.equal(r.publishTimeNs, w.timeNs);
      const expectedBytes = new MessageWriter(definitionsWithDependencies(w.type)).writeMessage(w.message);
      assert.deepEqual(r.data, expectedBytes, `${w.topic}: stored CDR bytes`);
      // Decoding then re-encoding gives the same bytes: every field survived.
      assert.deepEqual(new MessageWriter(definitionsWithDependencies(w.type)).writeMessage(r.message), expectedBytes);
    }
    const js = read.find((m) => m.topic === '/joint_states')!.message as { name: string[]; position: Float64Array };
    assert.deepEqual(js.name, ['panda_joint1', 'panda_joint2', 'panda_joint3', 'panda_joint4', 'panda_joint5', 'panda_joint6', 'panda_joint7']);
    assert.deepEqual(Array.from(js.position), [0, -0.785, 0, -2.356, 0, 1.571, 0.785]);
    // Sequence numbers count per topic.
    assert.deepEqual(
      read.filter((m) => m.topic === TRANSITION_TOPIC).map((m) => m.sequence),
      [0, 1, 2],
    );
  });
});

test('transitions read back as Float32Arrays and numbers with the --seed-data field names', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'run.mcap');
    await writeSampleBag(path);
    const ts = await readMcapTransitions(path);
    const expected = sampleMessages()
      .filter((m) => m.topic === TRANSITION_TOPIC)
      .map((m) => m.message as TransitionRecord);
    assert.equal(ts.length, 3);
    for (const [i, t] of ts.entries()) {
      const e = expected[i]!;
      assert.ok(t.obs instanceof Float32Array && t.next_obs instanceof Float32Array && t.action instanceof Float32Array);
      assert.deepEqual(Array.from(t.obs), Array.from(e.obs));
      assert.deepEqual(Array.from(t.action), Array.from(e.action));
      assert.deepEqual(Array.from(t.next_obs), Array.from(e.next_obs));
      assert.equal(t.reward, e.reward, 'float64 reward is exact');
      assert.equal(t.failure, e.failure);
      assert.equal(t.terminated, e.terminated);
      assert.equal(t.truncated, e.truncated);
    }
    assert.deepEqual(Object.keys(ts[0]!).sort(), ['action', 'failure', 'next_obs', 'obs', 'reward', 'terminated', 'truncated']);
  });
});

test('the bag appears only on close, atomically, with no temp file left', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'run.mcap');
    const rec = await McapRecorder.open(path);
    rec.write('/x', 'std_msgs/msg/Float64', { data: 1.5 }, 10n);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    await rec.close();
    await rec.close();
    assert.deepEqual(await readdir(dir), ['run.mcap']);
    const msgs = await readMcapMessages(path);
    assert.deepEqual(msgs.map((m) => m.message), [{ data: 1.5 }]);
    assert.equal(rec.messageCount, 1);
  });
});

test('an empty recording is still a valid bag', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'empty.mcap');
    await (await McapRecorder.open(path)).close();
    assert.deepEqual(await readMcapMessages(path), []);
    assert.deepEqual(await readMcapTransitions(path), []);
  });
});

test('misuse throws at write: unknown type, type change on a topic, bad topic or time, after close', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'run.mcap');
    const rec = await McapRecorder.open(path);
    assert.throws(() => { rec.write('/x', 'my_msgs/msg/Nope', {}, 0n); }, /unknown ROS 2 message type 'my_msgs\/msg\/Nope'/);
    rec.write('/x', 'std_msgs/msg/Float64', { data: 1 }, 0n);
    assert.throws(
      () => { rec.write('/x', 'std_msgs/msg/Bool', { data: true }, 1n); },
      (err: unknown) => err instanceof McapRecorderError && /'\/x' is recorded as std_msgs\/msg\/Float64, not std_msgs\/msg\/Bool/.test(err.message),
    );
    assert.throws(() => { rec.write('x', 'std_msgs/msg/Float64', { data: 1 }, 0n); }, /must be an absolute ROS 2 name/);
    assert.throws(() => { rec.write('/x', 'std_msgs/msg/Float64', { data: 1 }, -1n); }, /timestamp -1 ns is negative/);
    await rec.close();
    assert.throws(() => { rec.write('/x', 'std_msgs/msg/Float64', { data: 1 }, 2n); }, /after close\(\)/);
    assert.equal((await readMcapMessages(path)).length, 1);
  });
});

test('the pkg/Name spelling records under the ROS 2 pkg/msg/Name', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'run.mcap');
    const rec = await McapRecorder.open(path);
    rec.write('/flag', 'std_msgs/Bool', { data: true }, 5n);
    await rec.close();
    const [m] = await readMcapMessages(path);
    assert.equal(m!.type, 'std_msgs/msg/Bool');
    assert.deepEqual(m!.message, { data: true });
  });
});

test('a topic filter returns only those topics', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'run.mcap');
    await writeSampleBag(path);
    const msgs = await readMcapMessages(path, ['/diagnostics', '/imu']);
    assert.deepEqual(msgs.map((m) => m.topic), ['/imu', '/diagnostics']);
  });
});

test('malformed files fail with the file name and what was wrong', async () => {
  await withDir(async (dir) => {
    const good = join(dir, 'good.mcap');
    await writeSampleBag(good);
    const bytes = await readFile(good);

    const cut = join(dir, 'cut.mcap');
    await writeFile(cut, bytes);
    await truncate(cut, bytes.length - 40);
    await assert.rejects(readMcapMessages(cut), rejectsWith(cut, /truncated: the file ends after \d+ bytes without the MCAP footer/));

    const cutInChunk = join(dir, 'cut-in-chunk.mcap');
    await writeFile(cutInChunk, bytes.subarray(0, Math.floor(bytes.length / 3)));
    await assert.rejects(readMcapTransitions(cutInChunk), rejectsWith(cutInChunk, /truncated/));

    const notMcap = join(dir, 'not.mcap');
    await writeFile(notMcap, '{"obs": [1, 2]}\n');
    await assert.rejects(readMcapMessages(notMcap), rejectsWith(notMcap, /not an MCAP file/));

    const empty = join(dir, 'empty.mcap');
    await writeFile(empty, '');
    await assert.rejects(readMcapMessages(empty), rejectsWith(empty, /empty file/));

    const missing = join(dir, 'missing.mcap');
    await assert.rejects(readMcapMessages(missing), rejectsWith(missing, /cannot open: .*ENOENT/));

    // A flipped byte inside the chunk's records breaks its CRC.
    const flipped = join(dir, 'flipped.mcap');
    const copy = Buffer.from(bytes);
    const at = copy.indexOf(Buffer.from('panda_joint3'));
    assert.ok(at > 0);
    copy[at] = copy[at]! ^ 0xff;
    await writeFile(flipped, copy);
    await assert.rejects(readMcapMessages(flipped), rejectsWith(flipped, /malformed MCAP .*crc/i));
  });
});

test('a bag with another MCAP profile is refused', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'run.mcap');
    await writeSampleBag(path);
    const bytes = await readFile(path);
    // The header's profile string 'ros2' sits right after the magic, opcode, length and string length.
    const at = bytes.indexOf(Buffer.from('ros2'));
    assert.ok(at > 0 && at < 32);
    bytes.write('ros1', at);
    await writeFile(path, bytes);
    await assert.rejects(readMcapMessages(path), rejectsWith(path, /MCAP profile is 'ros1', expected 'ros2'/));
  });
});

test('transitions with a bad failure flag or mismatched sizes are refused with their index', async () => {
  const base: TransitionRecord = {
    obs: Float32Array.from([1, 2]),
    action: Float32Array.from([0]),
    reward: 0,
    failure: 0,
    terminated: false,
    truncated: false,
    next_obs: Float32Array.from([2, 3]),
  };
  const cases: { name: string; second: Record<string, unknown>; error: RegExp }[] = [
    { name: 'failure 2', second: { ...base, failure: 2 }, error: /transition 1: failure is 2, expected 0 or 1/ },
    {
      name: 'failure not terminal',
      second: { ...base, failure: 1, terminated: false },
      error: /transition 1: failure is 1 but terminated is false/,
    },
    { name: 'NaN reward', second: { ...base, reward: NaN }, error: /transition 1: reward is NaN/ },
    { name: 'inf obs', second: { ...base, obs: Float32Array.from([1, Infinity]) }, error: /transition 1: obs\[1\] is Infinity/ },
    {
      name: 'next_obs size',
      second: { ...base, next_obs: Float32Array.from([1]) },
      error: /transition 1: next_obs has 1 values, obs has 2/,
    },
    {
      name: 'obs size change',
      second: { ...base, obs: Float32Array.from([1, 2, 3]), next_obs: Float32Array.from([1, 2, 3]) },
      error: /transition 1: obs\/action sizes 3\/1 differ from the first transition's 2\/1/,
    },
  ];
  await withDir(async (dir) => {
    for (const c of cases) {
      const path = join(dir, `${c.name.replace(/ /g, '-')}.mcap`);
      const rec = await McapRecorder.open(path);
      rec.writeTransition(base, 1n);
      rec.write(TRANSITION_TOPIC, TRANSITION_TYPE, c.second, 2n);
      await rec.close();
      await assert.rejects(readMcapTransitions(path), rejectsWith(path, c.error), c.name);
    }
  });
});
