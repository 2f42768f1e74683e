/**
 * Adam's state in checkpoints, so that `--resume` continues the value function's, the critics'
 * and SAC's optimisers where they stopped instead of from zero moments and bias correction at
 * step 1 (which makes the first steps after a resume as large as the very first ones).
 *
 * A tfjs Adam optimiser keeps its step count and one first and one second moment per variable it
 * has updated, indexed in the order of the gradient map it was given: the variable list's names as
 * object keys (tfjs names unnamed variables by a numeric id, so that is creation order).
 * `momentOrder` reproduces that order, so the moments are saved and checked against the shapes of
 * the variables they belong to.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, type LoadedCheckpoint, type NamedArray } from './checkpoint.ts';

/** One Adam optimiser of a learner and the variables it updates (the `varList` of its `minimize`). */
export interface AdamSlot {
  readonly prefix: string;
  readonly optimizer: tf.Optimizer;
  readonly vars: readonly tf.Variable[];
}

/**
 * What `meta.adam[prefix]` records: the step count, how many variables have moments, and the
 * running products β₁^(t+1), β₂^(t+1) of the bias correction as the optimiser holds them.
 */
interface AdamMeta {
  readonly iterations: number;
  readonly moments: number;
  readonly accBeta: readonly [number, number];
}

/**
 * tfjs keeps the bias-correction products in (TypeScript-)private variables and, on `setWeights`,
 * recomputes them as β^(t+1) by `pow`, which rounds differently from the running product: a resume
 * would then drift from the uninterrupted run in the last bits. They are read and restored here.
 */
function biasProducts(optimizer: tf.Optimizer, where: string): [tf.Variable, tf.Variable] {
  const o = optimizer as unknown as { accBeta1?: unknown; accBeta2?: unknown };
  if (!(optimizer instanceof tf.AdamOptimizer) || !(o.accBeta1 instanceof tf.Variable) || !(o.accBeta2 instanceof tf.Variable)) {
    throw new Error(`${where}: expected a tfjs AdamOptimizer with accBeta1/accBeta2 variables (tfjs-core ${tf.version_core})`);
  }
  return [o.accBeta1 as tf.Variable, o.accBeta2 as tf.Variable];
}

/** The variables in the order Adam indexes its moments: `Object.keys` of a map keyed by their names. */
function momentOrder(vars: readonly tf.Variable[]): tf.Variable[] {
  const byName: Record<string, tf.Variable> = {};
  for (const v of vars) byName[v.name] = v;
  return Object.keys(byName).map((k) => byName[k]!);
}

/** The slots' moments as named arrays (`PREFIX/adam-m/i`, `PREFIX/adam-v/i`) and their `meta.adam`. */
export async function adamState(slots: readonly AdamSlot[]): Promise<{ meta: Record<string, AdamMeta>; tensors: NamedArray[] }> {
  const meta: Record<string, AdamMeta> = {};
  const tensors: NamedArray[] = [];
  for (const { prefix, optimizer } of slots) {
    const [iter, ...moments] = await optimizer.getWeights();
    const n = moments.length / 2;
    const acc = biasProducts(optimizer, `adamState(${prefix})`).map((v) => v.dataSync()[0]!) as [number, number];
    meta[prefix] = { iterations: iter === undefined ? 0 : (await iter.tensor.data())[0]!, moments: n, accBeta: acc };
    iter?.tensor.dispose();
    moments.forEach(({ tensor }, j) => {
      const kind = j < n ? 'm' : 'v';
      tensors.push({ name: `${prefix}/adam-${kind}/${j % n}`, shape: tensor.shape, values: tensor.dataSync() as Float32Array });
    });
  }
  return { meta, tensors };
}

/**
 * Sets each slot's optimiser to the state saved by {@link adamState}. A checkpoint written before
 * Adam's state was saved (no `meta.adam`) leaves the optimisers fresh and returns false.
 */
export async function restoreAdam(ck: LoadedCheckpoint, slots: readonly AdamSlot[]): Promise<boolean> {
  const all = ck.meta.adam;
  if (all === undefined) return false;
  if (typeof all !== 'object' || all === null) throw new CheckpointError(`${ck.dir}: meta.adam is ${JSON.stringify(all)}, expected an object of optimiser states`);
  for (const { prefix, optimizer, vars } of slots) {
    const m = (all as Record<string, unknown>)[prefix] as Partial<AdamMeta> | undefined;
    const order = momentOrder(vars);
    if (
      typeof m !== 'object' ||
      m === null ||
      typeof m.iterations !== 'number' ||
      !Number.isInteger(m.iterations) ||
      m.iterations < 0 ||
      (m.moments !== 0 && m.moments !== order.length) ||
      !Array.isArray(m.accBeta) ||
      m.accBeta.length !== 2 ||
      !m.accBeta.every((b) => typeof b === 'number' && b > 0 && b < 1)
    ) {
      throw new CheckpointError(
        `${ck.dir}: meta.adam.${prefix} is ${JSON.stringify(m)}, expected {iterations: an integer ≥ 0, moments: 0 or ${order.length}, accBeta: two numbers in (0, 1)}`,
      );
    }
    const n = m.moments;
    const named = (kind: 'm' | 'v'): { name: string; tensor: tf.Tensor }[] =>
      order.slice(0, n).map((v, i) => ({ name: v.name, tensor: tf.tensor(ck.get(`${prefix}/adam-${kind}/${i}`, v.shape), v.shape) }));
    const weights = [{ name: 'iter', tensor: tf.scalar(m.iterations, 'int32') }, ...named('m'), ...named('v')];
    await optimizer.setWeights(weights);
    for (const w of weights) w.tensor.dispose();
    biasProducts(optimizer, `restoreAdam(${prefix})`).forEach((v, j) => {
      v.assign(tf.scalar(m.accBeta![j]!));
    });
  }
  return true;
}
