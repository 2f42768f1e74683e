/**
 * What the learners share when they load a checkpoint: the env-spec check, copying weights into
 * variables, the run totals and RNG states of `--resume`, and `--init-policy`'s copy of another
 * run's policy weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.ts';
import type { EnvSpec } from '../envs/env.ts';
import { CheckpointError, type LoadedCheckpoint, loadCheckpoint } from '../nn/checkpoint.ts';

/** Throws when a checkpoint's env spec does not fit the env it is loaded for. */
export function checkSpecMatches(dir: string, saved: unknown, spec: EnvSpec): void {
  if (typeof saved !== 'object' || saved === null) throw new CheckpointError(`${dir}: meta.spec is missing`);
  const s = saved as Partial<Record<keyof EnvSpec, unknown>>;
  if (s.id !== spec.id || s.obsSize !== spec.obsSize || s.actSize !== spec.actSize) {
    throw new CheckpointError(
      `${dir}: checkpoint is for env ${String(s.id)} (obs ${String(s.obsSize)}, act ${String(s.actSize)}), but the env is ${spec.id} (obs ${spec.obsSize}, act ${spec.actSize})`,
    );
  }
}

/** Assigns the checkpoint's arrays `prefix/0`, `prefix/1`, … to `vars` (shapes checked by `ck.get`). */
export function assignFrom(ck: LoadedCheckpoint, prefix: string, vars: readonly tf.Variable[]): void {
  tf.tidy(() => {
    vars.forEach((v, i) => {
      v.assign(tf.tensor(ck.get(`${prefix}/${i}`, v.shape), v.shape));
    });
  });
}

/** Episodes, env steps and failures since the start of a run, as checkpoints store them. */
export interface RunTotals {
  episodes: number;
  envSteps: number;
  failures: number;
}

/** Restores `meta.totals` (required) and the acting / update RNG states (when present). */
export function restoreTotalsAndRng(dir: string, meta: Record<string, unknown>, totals: RunTotals, actRng: Rng, updateRng: Rng): void {
  const t = meta.totals;
  if (typeof t === 'object' && t !== null && 'episodes' in t && 'envSteps' in t && 'failures' in t) {
    totals.episodes = Number(t.episodes);
    totals.envSteps = Number(t.envSteps);
    totals.failures = Number(t.failures);
  } else throw new CheckpointError(`${dir}: meta.totals is missing`);
  const rng = meta.rng;
  if (typeof rng === 'object' && rng !== null && 'act' in rng && 'update' in rng && Array.isArray(rng.act) && Array.isArray(rng.update)) {
    actRng.setState(rng.act as number[]);
    updateRng.setState(rng.update as number[]);
  }
}

/**
 * `--init-policy`: copies only the Gaussian policy's weights (`policy/i`) from the checkpoint in
 * `dir`. Its spec's action size must match `spec`, and its observation must be `spec`'s or a
 * prefix of it (same names, in order): inputs the saved policy lacks (e.g. `laikago-walk`'s gait
 * clock, `--env-arg gait_hz=…`) get zero weights in the first layer, so the copied policy acts
 * exactly as it did and learns to use them.
 */
export async function copyPolicyWeights(dir: string, spec: EnvSpec, policyVars: readonly tf.Variable[]): Promise<void> {
  const ck = await loadCheckpoint(dir);
  const saved = ck.meta.spec as Partial<Record<keyof EnvSpec, unknown>> | undefined;
  const savedNames = Array.isArray(saved?.obsNames) ? (saved.obsNames as unknown[]) : undefined;
  const prefix =
    savedNames !== undefined && typeof saved?.obsSize === 'number' && saved.obsSize < spec.obsSize && savedNames.length === saved.obsSize &&
    savedNames.every((n, i) => n === spec.obsNames[i]);
  if ((saved?.obsSize !== spec.obsSize && !prefix) || saved?.actSize !== spec.actSize) {
    throw new CheckpointError(
      `${dir}: --init-policy checkpoint has obs ${String(saved?.obsSize)} / act ${String(saved?.actSize)} (env ${String(saved?.id)}), this env ${spec.id} has obs ${spec.obsSize} / act ${spec.actSize} (the observation may only add inputs after the saved ones)`,
    );
  }
  if (!prefix) {
    assignFrom(ck, 'policy', policyVars);
    return;
  }
  const inSize = saved.obsSize as number;
  tf.tidy(() => {
    policyVars.forEach((v, i) => {
      if (i > 0) {
        v.assign(tf.tensor(ck.get(`policy/${i}`, v.shape), v.shape));
        return;
      }
      const [rows, cols] = v.shape as [number, number];
      const w = new Float32Array(rows * cols);
      w.set(ck.get('policy/0', [inSize, cols]));
      v.assign(tf.tensor2d(w, [rows, cols]));
    });
  });
}
