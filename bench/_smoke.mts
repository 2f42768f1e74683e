import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/nn/backend.ts';
import { resolveConfig } from '../src/algos/config.ts';
import { CscLearner } from '../src/algos/csc.ts';
import { PointNavVecEnv } from '../src/envs/point-nav.ts';
const algo = (process.argv[2] ?? 'csc') as 'csc';
const epochs = Number(process.argv[3] ?? 5);
console.log(await initBackend('auto'));
const cfg = resolveConfig({ algo, seed: 1, epochs });
const env = new PointNavVecEnv(cfg.numEnvs);
const L = new CscLearner(cfg, env);
await L.start();
for (let e = 0; e < epochs; e++) {
  const m = await L.runEpoch();
  console.log(JSON.stringify({ e: m.epoch, ep: m.episodes, R: +m.avgReward.toFixed(2), F: +m.avgFailures.toFixed(3), cum: m.cumulativeFailures, lam: +m.lambda.toFixed(4), eps: +m.epsilon.toFixed(5), acc: +m.filterAcceptRate.toFixed(3), kl: +m.kl.toFixed(4), ls: m.lineSearchTries, closs: +m.criticLoss.toFixed(4), pred: +m.criticPredictedFailure.toFixed(3), obs: +m.observedFailureRate.toFixed(3), sps: Math.round(m.stepsPerS), wall: +m.wallS.toFixed(2), tensors: tf.memory().numTensors }));
}
