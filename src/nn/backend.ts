/**
 * TensorFlow.js backend choice (DESIGN.md "Measured facts"): wasm by default (fast small-batch
 * calls: rollouts, the filter), cpu as a fallback, and the native TensorFlow backend of
 * `@tensorflow/tfjs-node(-gpu)` when the user has installed one (10× faster large-batch updates).
 * `tensorflow-gpu` asks for `@tensorflow/tfjs-node-gpu` only (installed, or built offline by
 * `scripts/build-tfjs-node.sh --gpu`); it says when TensorFlow found no GPU and runs on the CPU.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients, and its ESM file that does cannot be loaded by
// Node (extensionless imports). The @tensorflow/tfjs umbrella's Node bundle registers them all
// into tfjs's global registry, shared with tfjs-core.
import '@tensorflow/tfjs';
import { patchWasmKernels } from './wasm-kernels.ts';

/** Backends a user can ask for. `auto` = wasm, else cpu. */
export type BackendChoice = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'tensorflow-gpu';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'];

/** What actually runs, for the start-up line and the run's config. */
export interface BackendInfo {
  readonly name: 'wasm' | 'cpu' | 'tensorflow' | 'tensorflow-gpu';
  readonly detail: string;
  /** Native backends only: whether TensorFlow runs the ops on a GPU (else on the CPU). */
  readonly gpu?: boolean;
}

/** The requested backend cannot run here. */
export class BackendError extends Error {
  override readonly name = 'BackendError';
}

let active: BackendInfo | null = null;

/**
 * Selects and initialises a backend once per process. Later calls with a different choice throw:
 * tensors of one backend cannot be used by another.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (active !== null) {
    if (choice === 'auto' || choice === active.name) return active;
    throw new BackendError(`backend already initialised as ${active.name}; cannot switch to ${choice} in the same process`);
  }
  switch (choice) {
    case 'tensorflow':
      active = await initTensorflow(false);
      break;
    case 'tensorflow-gpu':
      active = await initTensorflow(true);
      if (active.gpu !== true) process.stderr.write(`csc: warning: --backend tensorflow-gpu: ${active.detail}\n`);
      break;
    case 'wasm':
      active = await initWasm();
      break;
    case 'cpu':
      active = await initCpu();
      break;
    case 'auto':
      try {
        active = await initWasm();
      } catch (e) {
        active = await initCpu();
        active = { ...active, detail: `${active.detail} (wasm failed: ${String(e)})` };
      }
      break;
  }
  tf.enableProdMode();
  return active;
}

async function initWasm(): Promise<BackendInfo> {
  // The emscripten module installs uncaughtException/unhandledRejection handlers that rethrow and
  // print its whole minified source: remove whatever it added so errors stay readable.
  const before = new Set(process.listeners('uncaughtException'));
  const beforeRej = new Set(process.listeners('unhandledRejection'));
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setThreadsCount(1);
  const ok = await tf.setBackend('wasm');
  await tf.ready();
  for (const l of process.listeners('uncaughtException')) if (!before.has(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!beforeRej.has(l)) process.removeListener('unhandledRejection', l);
  if (!ok || tf.getBackend() !== 'wasm') throw new BackendError('the wasm backend did not initialise');
  // CSC_WASM_STOCK_KERNELS=1 keeps tfjs's own kernels (for bench/learner.ts's before/after).
  if (process.env.CSC_WASM_STOCK_KERNELS !== '1') patchWasmKernels();
  return { name: 'wasm', detail: 'tfjs wasm (SIMD, 1 thread)' };
}

async function initCpu(): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  await tf.ready();
  return { name: 'cpu', detail: 'tfjs cpu (plain JavaScript)' };
}

/**
 * Where scripts/build-tfjs-node.sh leaves its offline build: an npm prefix of its own, so `npm ci`
 * neither needs nor prunes it. Its `@tensorflow/tfjs` resolves up to the project's node_modules,
 * so the backend registers in this process's tfjs-core.
 */
const LOCAL_TFJS_NODE_DIR = fileURLToPath(new URL('../../.tfjs-node/prefix/node_modules/@tensorflow/tfjs-node/', import.meta.url));

/** Where `scripts/build-tfjs-node.sh --gpu` leaves `@tensorflow/tfjs-node-gpu`, built the same way against CUDA-enabled TensorFlow. */
const LOCAL_TFJS_NODE_GPU_DIR = fileURLToPath(new URL('../../.tfjs-node-gpu/prefix/node_modules/@tensorflow/tfjs-node-gpu/', import.meta.url));

/** Where each native backend may come from, in the order {@link initBackend} tries them. */
const NATIVE_SOURCES = {
  tensorflow: { packages: ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'], dir: LOCAL_TFJS_NODE_DIR, built: '@tensorflow/tfjs-node', script: 'scripts/build-tfjs-node.sh' },
  'tensorflow-gpu': { packages: ['@tensorflow/tfjs-node-gpu'], dir: LOCAL_TFJS_NODE_GPU_DIR, built: '@tensorflow/tfjs-node-gpu', script: 'scripts/build-tfjs-node.sh --gpu' },
} as const;

/** Whether a package or local build {@link initBackend} would try for `kind` is on disk (it may still fail to load). */
export function nativeBuildPresent(kind: keyof typeof NATIVE_SOURCES): boolean {
  const { packages, dir } = NATIVE_SOURCES[kind];
  const resolves = (pkg: string): boolean => {
    try {
      createRequire(import.meta.url).resolve(pkg);
      return true;
    } catch {
      return false;
    }
  };
  return existsSync(join(dir, 'package.json')) || packages.some(resolves);
}

function nativeCandidates(kind: keyof typeof NATIVE_SOURCES): readonly { readonly label: string; readonly load: () => Promise<unknown> }[] {
  const { packages, dir, built, script } = NATIVE_SOURCES[kind];
  const local = {
    label: `${built} built by ${script}`,
    load: (): Promise<unknown> => {
      if (!existsSync(join(dir, 'package.json'))) return Promise.reject(new Error(`not built (no ${dir})`));
      return Promise.resolve(createRequire(import.meta.url)(dir));
    },
  };
  return [...packages.map((pkg) => ({ label: pkg, load: () => import(pkg) as Promise<unknown> })), local];
}

/**
 * Why TensorFlow sees no GPU, as far as this process can tell without CUDA: the driver's kernel
 * module, or CUDA_VISIBLE_DEVICES hiding the devices. TensorFlow's own log lines say more.
 */
export function noGpuReason(env: NodeJS.ProcessEnv = process.env, driverVersionFile = '/proc/driver/nvidia/version'): string {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === '' || visible.trim() === '-1')) return `CUDA_VISIBLE_DEVICES='${visible}' hides every GPU`;
  if (!existsSync(driverVersionFile)) return `no NVIDIA driver on this machine (no ${driverVersionFile})`;
  let driver = '';
  try {
    driver = /Kernel Module\s+([0-9.]+)/.exec(readFileSync(driverVersionFile, 'utf8'))?.[1] ?? '';
  } catch {
    // unreadable: say nothing about the version
  }
  return `NVIDIA driver ${driver || '(version unknown)'} is loaded but TensorFlow found no usable GPU (TensorFlow's log lines above say why; CUDA 12 needs driver ≥ 525, see docs/backends.md)`;
}

async function initTensorflow(gpuOnly: boolean): Promise<BackendInfo> {
  // TensorFlow's C++ start-up INFO lines (CPU feature notes) are noise here; warnings stay.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  // TensorFlow otherwise reserves nearly all GPU memory at start-up; the learner's networks need
  // megabytes, and simulators (MuJoCo rendering) may share the GPU.
  process.env.TF_FORCE_GPU_ALLOW_GROWTH ??= 'true';
  const candidates = nativeCandidates(gpuOnly ? 'tensorflow-gpu' : 'tensorflow');
  const errors: string[] = [];
  for (const { label, load } of candidates) {
    try {
      await load();
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        const native = tf.backend() as { isUsingGpuDevice?: boolean; binding?: { TF_Version?: string } };
        const gpu = native.isUsingGpuDevice === true;
        const version = native.binding?.TF_Version ?? '?';
        const where = gpu ? 'on the GPU' : gpuOnly ? `NO GPU: ${noGpuReason()}; TensorFlow runs on the CPU` : 'on the CPU';
        return { name: gpuOnly ? 'tensorflow-gpu' : 'tensorflow', detail: `${label} (TensorFlow ${version} C API), ${where}`, gpu };
      }
      errors.push(`${label}: loaded but the 'tensorflow' backend did not register with this tfjs-core`);
    } catch (e) {
      errors.push(`${label}: ${e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)}`);
    }
  }
  if (gpuOnly) {
    throw new BackendError(
      `--backend tensorflow-gpu is not available: build it with 'bash scripts/build-tfjs-node.sh --gpu' (≈3.4 GB from PyPI, docs/backends.md) or npm install @tensorflow/tfjs-node-gpu where Google's storage is reachable (${errors.join('; ')})`,
    );
  }
  throw new BackendError(
    `--backend tensorflow needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (npm install one, or run scripts/build-tfjs-node.sh offline): ${errors.join('; ')}`,
  );
}

/** The backend in use, or null before {@link initBackend}. */
export function activeBackend(): BackendInfo | null {
  return active;
}
