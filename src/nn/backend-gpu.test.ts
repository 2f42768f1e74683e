// `--backend tensorflow-gpu`: without `scripts/build-tfjs-node.sh --gpu` (CI, fresh clones) it fails
// with one line that names the build; with the build it loads @tensorflow/tfjs-node-gpu into this
// process's tfjs-core, computes, and says whether TensorFlow found a GPU (on a machine without one it
// runs on the CPU and says why). One backend per process, so this file asks for nothing else first.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_CHOICES, BackendError, initBackend, nativeBuildPresent, noGpuReason } from './backend.ts';

const available = nativeBuildPresent('tensorflow-gpu');

test('tensorflow-gpu is a --backend choice', () => {
  assert.ok(BACKEND_CHOICES.includes('tensorflow-gpu'));
});

test('noGpuReason names what hides the GPU: CUDA_VISIBLE_DEVICES, a missing driver, or the driver version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'csc-gpu-'));
  try {
    const missing = join(dir, 'absent');
    assert.match(noGpuReason({ CUDA_VISIBLE_DEVICES: '-1' }, missing), /CUDA_VISIBLE_DEVICES='-1' hides every GPU/);
    assert.match(noGpuReason({ CUDA_VISIBLE_DEVICES: '' }, missing), /hides every GPU/);
    assert.match(noGpuReason({}, missing), /no NVIDIA driver on this machine/);
    const version = join(dir, 'version');
    writeFileSync(version, 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version: gcc 12\n');
    assert.match(noGpuReason({ CUDA_VISIBLE_DEVICES: '0' }, version), /NVIDIA driver 550\.54\.15 is loaded but TensorFlow found no usable GPU/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('initBackend("tensorflow-gpu") loads tfjs-node-gpu and reports its device, or fails in one line naming the build', async () => {
  if (!available) {
    await assert.rejects(initBackend('tensorflow-gpu'), (e: unknown) => {
      assert.ok(e instanceof BackendError);
      assert.match(e.message, /^--backend tensorflow-gpu is not available: build it with 'bash scripts\/build-tfjs-node\.sh --gpu'/);
      assert.match(e.message, /not built/);
      assert.ok(!e.message.includes('\n'), `one line, got: ${e.message}`);
      return true;
    });
    return;
  }
  const info = await initBackend('tensorflow-gpu');
  assert.equal(info.name, 'tensorflow-gpu');
  assert.equal(tf.getBackend(), 'tensorflow');
  assert.equal(typeof info.gpu, 'boolean');
  if (info.gpu === true) assert.match(info.detail, /on the GPU/);
  else assert.match(info.detail, /NO GPU: .+; TensorFlow runs on the CPU/);
  const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6], [2, 1]));
  assert.deepEqual(Array.from(y.dataSync()), [17, 39]);
  // Asking again for the same backend is a no-op; another one throws.
  assert.equal(await initBackend('tensorflow-gpu'), info);
  await assert.rejects(initBackend('tensorflow'), BackendError);
});
