// `--backend tensorflow`: with the offline build of scripts/build-tfjs-node.sh present, the native
// backend loads into this process's tfjs-core and computes; without it (CI, fresh clones), the
// error names the build script. One backend per process, so this file asks for nothing else first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { BackendError, initBackend, nativeBuildPresent } from './backend.ts';

const available = nativeBuildPresent('tensorflow');

test('initBackend("tensorflow") loads the native backend into the project tfjs-core, or names the build script', async () => {
  if (!available) {
    await assert.rejects(initBackend('tensorflow'), (e: unknown) => {
      assert.ok(e instanceof BackendError);
      assert.match(e.message, /scripts\/build-tfjs-node\.sh/);
      assert.match(e.message, /not built/);
      return true;
    });
    return;
  }
  const handlersBefore = process.listeners('uncaughtException').length;
  const info = await initBackend('tensorflow');
  assert.equal(info.name, 'tensorflow');
  assert.equal(tf.getBackend(), 'tensorflow');
  assert.equal(process.listeners('uncaughtException').length, handlersBefore, 'tfjs-node must not install uncaughtException handlers');
  // [[1, 2], [3, 4]] · [[5], [6]] = [[17], [39]], then tanh and a gradient through the native kernels.
  const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6], [2, 1]));
  assert.deepEqual(Array.from(y.dataSync()), [17, 39]);
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.tanh(x)))(tf.tensor1d([0, 0.5]));
  const got = g.dataSync();
  assert.ok(Math.abs(got[0]! - 1) < 1e-6 && Math.abs(got[1]! - (1 - Math.tanh(0.5) ** 2)) < 1e-6, `d/dx Σ tanh x = 1 − tanh²x, got ${Array.from(got).join(', ')}`);
  await assert.rejects(initBackend('wasm'), BackendError);
});
