/**
 * TensorFlow.js backend choice (DESIGN.md "Measured facts"): wasm by default (fast small-batch
 * calls: rollouts, the filter), cpu as a fallback, and the native TensorFlow backend of
 * `@tensorflow/tfjs-node(-gpu)` when the user has installed one (10× faster large-batch updates).
 */
import { existsSync } from 'node:fs';
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
export type BackendChoice = 'auto' | 'wasm' | 'cpu' | 'tensorflow';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'wasm', 'cpu', 'tensorflow'];

/** What actually runs, for the start-up line and the run's config. */
export interface BackendInfo {
  readonly name: 'wasm' | 'cpu' | 'tensorflow';
  readonly detail: string;
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
      active = await initTensorflow();
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
export const LOCAL_TFJS_NODE_DIR = fileURLToPath(new URL('../../.tfjs-node/prefix/node_modules/@tensorflow/tfjs-node/', import.meta.url));

async function initTensorflow(): Promise<BackendInfo> {
  // TensorFlow's C++ start-up INFO lines (CPU feature notes) are noise here; warnings stay.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  const candidates: readonly { readonly label: string; readonly load: () => Promise<unknown> }[] = [
    ...['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].map((pkg) => ({ label: pkg, load: () => import(pkg) })),
    {
      label: '@tensorflow/tfjs-node built by scripts/build-tfjs-node.sh',
      load: () => {
        if (!existsSync(join(LOCAL_TFJS_NODE_DIR, 'package.json'))) return Promise.reject(new Error(`not built (no ${LOCAL_TFJS_NODE_DIR})`));
        return Promise.resolve(createRequire(import.meta.url)(LOCAL_TFJS_NODE_DIR));
      },
    },
  ];
  const errors: string[] = [];
  for (const { label, load } of candidates) {
    try {
      await load();
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        return { name: 'tensorflow', detail: `${label} (TensorFlow C API)` };
      }
      errors.push(`${label}: loaded but the 'tensorflow' backend did not register with this tfjs-core`);
    } catch (e) {
      errors.push(`${label}: ${e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)}`);
    }
  }
  throw new BackendError(
    `--backend tensorflow needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (npm install one, or run scripts/build-tfjs-node.sh offline): ${errors.join('; ')}`,
  );
}

/** The backend in use, or null before {@link initBackend}. */
export function activeBackend(): BackendInfo | null {
  return active;
}
