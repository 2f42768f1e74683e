/**
 * Loading a checkpoint for acting: the policy and its critic rebuilt from the checkpoint's own
 * config and env spec, every tensor shape-checked. Used by `csc eval` and the ROS 2 node.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../core/rng.ts';
import type { EnvSpec } from '../envs/env.ts';
import { CheckpointError, loadCheckpoint } from '../nn/checkpoint.ts';
import type { Mlp } from '../nn/mlp.ts';
import { GaussianPolicy } from '../nn/policy.ts';
import { PolicyActor, filterSettingsOf } from './actor.ts';
import { ConfigError, type LearnerConfig, resolveConfig } from './config.ts';
import { CriticEnsemble } from './critic-ensemble.ts';
import type { DeployedPolicy } from './deploy.ts';
import { loadSacActor } from './sac.ts';
import { SafetyCritic } from './safety-critic.ts';

/** Options of {@link loadDeployedPolicy}. */
export interface LoadOptions {
  /** Seed of the actor's candidate sampling. */
  readonly seed?: number;
}

/** Loads `dir` (a checkpoint directory, e.g. `runs/…/checkpoints/latest`'s target) for acting. */
export async function loadDeployedPolicy(dir: string, options: LoadOptions = {}): Promise<DeployedPolicy> {
  const ck = await loadCheckpoint(dir);
  const spec = parseSpec(dir, ck.meta.spec);
  let config: LearnerConfig;
  try {
    config = resolveConfig(ck.meta.config as Partial<LearnerConfig>);
  } catch (e) {
    throw new CheckpointError(`${dir}: the checkpoint's config is invalid: ${e instanceof ConfigError ? e.message : String(e)}`);
  }
  if (config.algo === 'sac') return loadSacActor(ck, config, spec, options.seed ?? 0);
  const rng = new Rng(0);
  const policy = new GaussianPolicy({ obsSize: spec.obsSize, actSize: spec.actSize, hidden: config.policyHidden, activation: config.activation, initLogStd: config.initLogStd }, rng);
  const setNet = (prefix: string, vars: readonly tf.Variable[]): void => {
    tf.tidy(() => {
      vars.forEach((v, i) => {
        v.assign(tf.tensor(ck.get(`${prefix}/${i}`, v.shape), v.shape));
      });
    });
  };
  setNet('policy', policy.vars);
  const criticConfig = {
    obsSize: spec.obsSize,
    actSize: spec.actSize,
    hidden: config.criticHidden,
    activation: config.activation,
    lr: config.criticLr,
    alpha: config.cqlAlpha,
    gamma: config.gamma,
    targetTau: config.criticTargetTau,
  };
  let critic: SafetyCritic | CriticEnsemble | null = null;
  try {
    switch (config.algo) {
      case 'csc': {
        const q = new SafetyCritic(criticConfig, rng);
        critic = q;
        setNets(setNet, [['critic', q.net]]);
        break;
      }
      case 'qensemble': {
        const ens = new CriticEnsemble(criticConfig, config.ensembleSize, config.ensembleStdWeight, rng);
        critic = ens;
        setNets(
          setNet,
          ens.members.map((m, e) => [`critic${e}`, m.net] as const),
        );
        break;
      }
      case 'trpo':
      case 'cpo':
        break;
    }
  } catch (e) {
    policy.dispose();
    critic?.dispose();
    throw e;
  }
  const eps = ck.meta.epsilon;
  const epsilon = typeof eps === 'number' && Number.isFinite(eps) ? eps : Number.NaN;
  const filter = filterSettingsOf(config);
  return new PolicyActor(spec, config.algo, policy, critic, epsilon, filter, options.seed ?? 0, () => {
    policy.dispose();
    critic?.dispose();
  });
}

function setNets(setNet: (prefix: string, vars: readonly tf.Variable[]) => void, nets: readonly (readonly [string, Mlp])[]): void {
  for (const [prefix, net] of nets) setNet(prefix, net.vars);
}

/** Validates the env spec stored in a checkpoint. */
export function parseSpec(dir: string, raw: unknown): EnvSpec {
  const fail = (what: string): never => {
    throw new CheckpointError(`${dir}: meta.spec.${what}`);
  };
  if (typeof raw !== 'object' || raw === null) return fail('is missing');
  const s = raw as Record<string, unknown>;
  const str = (k: string): string => (typeof s[k] === 'string' ? s[k] : fail(`${k} is ${JSON.stringify(s[k])}, expected a string`));
  const int = (k: string): number => (Number.isInteger(s[k]) ? (s[k] as number) : fail(`${k} is ${JSON.stringify(s[k])}, expected an integer`));
  const num = (k: string): number => (typeof s[k] === 'number' && Number.isFinite(s[k]) ? s[k] : fail(`${k} is ${JSON.stringify(s[k])}, expected a number`));
  const nums = (k: string, len: number): number[] => {
    const v = s[k];
    return Array.isArray(v) && v.length === len && v.every((x) => typeof x === 'number') ? (v) : fail(`${k} is not a list of ${len} numbers`);
  };
  const strs = (k: string, len: number): string[] => {
    const v = s[k];
    return Array.isArray(v) && v.length === len && v.every((x) => typeof x === 'string') ? (v) : fail(`${k} is not a list of ${len} names`);
  };
  const obsSize = int('obsSize');
  const actSize = int('actSize');
  return {
    id: str('id'),
    obsSize,
    actSize,
    actLow: nums('actLow', actSize),
    actHigh: nums('actHigh', actSize),
    obsNames: strs('obsNames', obsSize),
    actNames: strs('actNames', actSize),
    maxEpisodeSteps: int('maxEpisodeSteps'),
    controlPeriodS: num('controlPeriodS'),
    failureMeaning: str('failureMeaning'),
  };
}
