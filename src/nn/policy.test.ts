import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../core/rng.ts';
import { initBackend } from './backend.ts';
import { GaussianPolicy } from './policy.ts';

before(async () => {
  await initBackend('auto');
});

const shape = { obsSize: 3, actSize: 2, hidden: [4], activation: 'tanh' as const, initLogStd: -0.3 };

function randomPolicy(seed: number): GaussianPolicy {
  const p = new GaussianPolicy(shape, new Rng(seed));
  // Move away from the near-zero output layer so the mean depends visibly on every weight.
  const r = new Rng(seed + 100);
  p.setFlat(Float32Array.from(p.getFlat(), () => r.normal() * 0.7));
  return p;
}

test('log-probability matches the diagonal-Gaussian formula worked by hand', () => {
  const p = randomPolicy(1);
  const obs = [0.3, -0.2, 0.5];
  const act = [0.1, -0.4];
  const { mean, std } = p.meanStd(Float32Array.from(obs), 1);
  let expected = 0;
  for (let k = 0; k < 2; k++) {
    const z = (act[k]! - mean[k]!) / std[k]!;
    expected += -0.5 * z * z - Math.log(std[k]!) - 0.5 * Math.log(2 * Math.PI);
  }
  const lp = tf.tidy(() => p.logProb(tf.tensor2d([obs]), tf.tensor2d([act])).dataSync()[0]!);
  assert.ok(Math.abs(lp - expected) < 1e-5, `${lp} vs ${expected}`);
  p.dispose();
});

test('KL(π_old ‖ π) is zero at π_old and matches the closed form by hand', () => {
  const p = randomPolicy(2);
  const obs = tf.tensor2d([[0.1, 0.2, 0.3]]);
  const mu = p.mean.apply(obs);
  const ls = tf.reshape<tf.Rank.R1>(p.logStd, [-1]);
  assert.ok(Math.abs(p.meanKl(obs, mu, ls).dataSync()[0]!) < 1e-6);
  // Old policy: mean shifted by (0.5, 0), log σ_old = log σ + (0.2, −0.1).
  const oldMean = tf.add<tf.Tensor2D>(mu, tf.tensor2d([[0.5, 0]]));
  const oldLs = tf.add<tf.Tensor1D>(ls, tf.tensor1d([0.2, -0.1]));
  const lsv = ls.dataSync();
  let expected = 0;
  const dls = [0.2, -0.1];
  const dmu = [0.5, 0];
  for (let k = 0; k < 2; k++) {
    const s2 = Math.exp(2 * lsv[k]!);
    const so2 = Math.exp(2 * (lsv[k]! + dls[k]!));
    expected += -dls[k]! + (so2 + dmu[k]! ** 2) / (2 * s2) - 0.5;
  }
  const kl = p.meanKl(obs, oldMean, oldLs).dataSync()[0]!;
  assert.ok(Math.abs(kl - expected) < 1e-5, `${kl} vs ${expected}`);
  tf.dispose([obs, mu, ls, oldMean, oldLs]);
  p.dispose();
});

test('Fisher-vector product equals a dense Jᵀ M J reference built from per-output gradients', () => {
  const p = randomPolicy(3);
  const n = 5;
  const r = new Rng(9);
  const obsArr = Float32Array.from({ length: n * 3 }, () => r.normal());
  const obs = tf.tensor2d(obsArr, [n, 3]);
  const P = p.numParams;
  const nMean = p.mean.numParams;
  const sigma2 = Array.from(p.logStd.dataSync(), (l) => Math.exp(2 * l));
  // Dense F: (1/n) Σ_i Σ_k ∇μ_ik ∇μ_ikᵀ / σ_k², plus 2 on the log σ diagonal.
  const F = new Float64Array(P * P);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 2; k++) {
      const { grads } = tf.variableGrads(() => {
        const mu = p.mean.apply(obs);
        return tf.sum<tf.Scalar>(tf.slice(mu, [i, k], [1, 1]));
      }, p.mean.vars);
      const row = new Float64Array(P);
      let o = 0;
      for (const v of p.mean.vars) {
        row.set(grads[v.name]!.dataSync(), o);
        o += v.size;
      }
      tf.dispose(grads);
      for (let a = 0; a < nMean; a++) for (let b = 0; b < nMean; b++) F[a * P + b]! += (row[a]! * row[b]!) / sigma2[k]! / n;
    }
  }
  for (let k = 0; k < 2; k++) F[(nMean + k) * P + nMean + k] = 2;
  const v = Float32Array.from({ length: P }, () => r.normal());
  const fv = p.fisherVectorProduct(obs, v);
  let maxErr = 0;
  let maxRef = 0;
  for (let a = 0; a < P; a++) {
    let ref = 0;
    for (let b = 0; b < P; b++) ref += F[a * P + b]! * v[b]!;
    maxErr = Math.max(maxErr, Math.abs(ref - fv[a]!));
    maxRef = Math.max(maxRef, Math.abs(ref));
  }
  assert.ok(maxErr <= 1e-5 * Math.max(1, maxRef), `max error ${maxErr} (scale ${maxRef})`);
  obs.dispose();
  p.dispose();
});

test('Fisher-vector product equals the Hessian of the mean KL at π_old (finite differences of its gradient)', () => {
  const p = randomPolicy(4);
  const n = 6;
  const r = new Rng(11);
  const obs = tf.tensor2d(Float32Array.from({ length: n * 3 }, () => r.normal()), [n, 3]);
  const oldMean = p.mean.apply(obs);
  const oldLs = tf.reshape<tf.Rank.R1>(p.logStd, [-1]);
  const phi = p.getFlat();
  const v = Float32Array.from({ length: p.numParams }, () => r.normal());
  const eps = 1e-2;
  const gradAt = (sign: number): Float32Array => {
    p.setFlat(phi.map((x, i) => x + sign * eps * v[i]!));
    return p.flatGrad(() => p.meanKl(obs, oldMean, oldLs)).grad;
  };
  const gp = gradAt(1);
  const gm = gradAt(-1);
  p.setFlat(phi);
  const fv = p.fisherVectorProduct(obs, v);
  let num = 0;
  let den = 0;
  for (let i = 0; i < fv.length; i++) {
    const fd = (gp[i]! - gm[i]!) / (2 * eps);
    num += (fd - fv[i]!) ** 2;
    den += fv[i]! ** 2;
  }
  assert.ok(Math.sqrt(num / den) < 1e-2, `relative error ${Math.sqrt(num / den)}`);
  tf.dispose([obs, oldMean, oldLs]);
  p.dispose();
});
