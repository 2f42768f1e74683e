// The wasm kernels patched by wasm-kernels.ts against plain-JavaScript references: transposed
// matrix products (rank 2 and batched rank 3) and tanh with its gradient; and no leaked memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.ts';
import { Rng } from '../core/rng.ts';

const info = await initBackend('wasm');

/** C = op(A)·op(B) for row-major [batch, r, c] arrays. */
function refMatMul(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], ta: boolean, tb: boolean): Float32Array {
  const [batch, ar, ac] = aShape as [number, number, number];
  const [, br, bc] = bShape as [number, number, number];
  const m = ta ? ac : ar;
  const k = ta ? ar : ac;
  const n = tb ? br : bc;
  const out = new Float32Array(batch * m * n);
  for (let q = 0; q < batch; q++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let l = 0; l < k; l++) {
          const av = ta ? a[q * ar * ac + l * ac + i]! : a[q * ar * ac + i * ac + l]!;
          const bv = tb ? b[q * br * bc + j * bc + l]! : b[q * br * bc + l * bc + j]!;
          s += av * bv;
        }
        out[q * m * n + i * n + j] = s;
      }
    }
  }
  return out;
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  assert.equal(x.length, y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  return d;
}

test('patched wasm BatchMatMul matches a reference for every transpose combination, rank 2 and 3', () => {
  assert.equal(info.name, 'wasm');
  const rng = new Rng(5);
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
  for (const batch of [1, 3]) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const [m, k, n] = [37, 19, 11];
      const aShape = ta ? [batch, k, m] : [batch, m, k];
      const bShape = tb ? [batch, n, k] : [batch, k, n];
      const a = fill(batch * m * k);
      const b = fill(batch * k * n);
      const want = refMatMul(a, aShape, b, bShape, ta, tb);
      const got = tf.tidy(() => {
        const at = batch === 1 ? tf.tensor2d(a, [aShape[1]!, aShape[2]!]) : tf.tensor3d(a, aShape as [number, number, number]);
        const bt = batch === 1 ? tf.tensor2d(b, [bShape[1]!, bShape[2]!]) : tf.tensor3d(b, bShape as [number, number, number]);
        return tf.matMul(at, bt, ta, tb);
      });
      assert.deepEqual(got.shape, batch === 1 ? [m, n] : [batch, m, n], `shape, batch ${batch} ta ${ta} tb ${tb}`);
      assert.ok(maxAbsDiff(got.dataSync(), want) < 1e-4, `values, batch ${batch} ta ${ta} tb ${tb}`);
      got.dispose();
    }
  }
});

test('patched wasm tanh is within 1e-6 of Math.tanh, saturates, and keeps the gradient 1 − tanh²', () => {
  const xs = Float32Array.from({ length: 4001 }, (_, i) => -20 + i * 0.01);
  const y = tf.tanh(tf.tensor1d(xs));
  const got = y.dataSync();
  const want = Array.from(xs, (v) => Math.tanh(v));
  assert.ok(maxAbsDiff(got, want) < 1e-6, `max |Δ| ${maxAbsDiff(got, want)}`);
  assert.equal(got[0], -1);
  assert.equal(got[got.length - 1], 1);
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.tanh(x)))(tf.tensor1d([0, 0.5, -2]));
  assert.ok(maxAbsDiff(g.dataSync(), [1, 1 - Math.tanh(0.5) ** 2, 1 - Math.tanh(-2) ** 2]) < 1e-6);
});

test('patched kernels free their temporaries: repeated transposed products and tanh leave wasm memory flat', () => {
  const a = tf.tensor2d(Float32Array.from({ length: 512 * 64 }, (_, i) => Math.sin(i)), [512, 64]);
  const step = (): void => {
    tf.tidy(() => {
      tf.matMul(a, a, true, false).dataSync();
      tf.tanh(tf.matMul(a, a, false, true)).dataSync();
    });
  };
  step();
  const ids = (): number => tf.engine().backend.numDataIds();
  const before = { tensors: tf.memory().numTensors, ids: ids() };
  for (let i = 0; i < 50; i++) step();
  assert.equal(tf.memory().numTensors, before.tensors);
  assert.equal(ids(), before.ids, 'the backend holds data the engine does not know (an undisposed temporary)');
});
