/**
 * Two wasm kernels of tfjs 4.22 replaced by faster compositions of the backend's own kernels
 * (measured in bench/learner.ts's profile, issue 12; docs/backends.md):
 *
 * - `BatchMatMul` with `transposeA` or `transposeB` leaves XNNPACK for a plain loop: 1024×64ᵀ·64
 *   took 3.7–3.9 ms against 0.46 ms untransposed. Every dense layer's backward pass asks for
 *   both (dX = dY·Wᵀ, dW = Xᵀ·dY). Here the transposed operand is materialised by the wasm
 *   `Transpose` kernel and the untransposed path runs (0.6 ms together).
 * - `Tanh` runs a scalar libm tanh (1.27 ms for 65,536 values); tanh(x) = 2σ(2x) − 1 through the
 *   wasm `Sigmoid` kernel takes a fraction of that. The absolute difference from Math.tanh is
 *   below 1e-6 (wasm-kernels.test.ts); the gradient, (1 − y²)·dy from the output, is unchanged.
 *
 * Values differ from the stock kernels only by float rounding, so runs are statistically, not
 * bitwise, identical to runs before this patch.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What the wasm backend object offers kernels (tfjs-backend-wasm's BackendWasm, untyped here). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId): boolean;
}

let patched = false;

/** Replaces the wasm `BatchMatMul` and `Tanh` kernels once per process; a no-op afterwards. */
export function patchWasmKernels(): void {
  if (patched) return;
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  const tanh = tf.getKernel('Tanh', 'wasm');
  const sigmoid = tf.getKernel('Sigmoid', 'wasm');
  if (matMul === undefined || transpose === undefined || tanh === undefined || sigmoid === undefined) {
    throw new Error('patchWasmKernels: the wasm backend is not registered (BatchMatMul, Transpose, Tanh, Sigmoid)');
  }
  patched = true;

  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return matMul.kernelFunc(args);
      const backend = args.backend as unknown as WasmBackend;
      const temps: tf.TensorInfo[] = [];
      const swapped = (x: tf.TensorInfo): tf.TensorInfo => {
        const r = x.shape.length;
        const perm = x.shape.map((_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
        const t = transpose.kernelFunc({ inputs: { x }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
        temps.push(t);
        return t;
      };
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const out = matMul.kernelFunc({
        inputs: { a: transposeA ? swapped(a) : a, b: transposeB ? swapped(b) : b },
        backend: args.backend,
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
      for (const t of temps) backend.disposeData(t.dataId);
      return out;
    },
  });

  tf.unregisterKernel('Tanh', 'wasm');
  tf.registerKernel({
    kernelName: 'Tanh',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      if (x.dtype !== 'float32') return tanh.kernelFunc(args);
      const backend = args.backend as unknown as WasmBackend;
      const out = backend.makeOutput([...x.shape], 'float32');
      // Views are re-read after every allocation: a growing wasm heap detaches the old ones.
      const xs = backend.typedArrayFromHeap(x);
      let os = backend.typedArrayFromHeap(out);
      for (let i = 0; i < os.length; i++) os[i] = 2 * xs[i]!;
      const s = sigmoid.kernelFunc({ inputs: { x: out }, backend: args.backend, attrs: {} }) as tf.TensorInfo;
      const ss = backend.typedArrayFromHeap(s);
      os = backend.typedArrayFromHeap(out);
      for (let i = 0; i < os.length; i++) os[i] = 2 * ss[i]! - 1;
      backend.disposeData(s.dataId);
      return out;
    },
  });
}
