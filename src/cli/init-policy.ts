/**
 * `csc train --init-policy`: which policy a run starts from. `laikago-walk` starts from the
 * standing controller shipped in `checkpoints/laikago-stand/` (trained with CSC on
 * `laikago-stand`, docs/envs.md), as the paper's Laikago learners all do (Appendix A.8);
 * `--init-policy none` starts from a fresh policy instead.
 */
import { fileURLToPath } from 'node:url';
import type { Algo } from '../algos/config.ts';
import { UsageError } from './args.ts';
import { resolveCheckpointDir } from './eval.ts';

/** The shipped standing controller: a checkpoint directory, resolved from this file (src/cli or dist/cli). */
export const STANDING_CONTROLLER_DIR: string = fileURLToPath(new URL('../../checkpoints/laikago-stand', import.meta.url));

/** `--init-policy` value that turns the env's default off. */
export const NO_INIT_POLICY = 'none';

/**
 * The checkpoint a run of `algo` on `env` starts from when `--init-policy` is not given, or
 * undefined for a fresh policy. SAC is left out: its squashed policy with a state-dependent σ
 * cannot take a Gaussian policy's weights (`SacLearner.initPolicyFrom` refuses them).
 */
export function defaultInitPolicy(env: string, algo: Algo): string | undefined {
  return env === 'laikago-walk' && algo !== 'sac' ? STANDING_CONTROLLER_DIR : undefined;
}

/**
 * The checkpoint directory to start from: the flag's (a checkpoint or a run folder), none for
 * `none`, else the env's default. A resumed run continues from its own checkpoint: nothing then.
 */
export async function resolveInitPolicy(flag: string | undefined, env: string, algo: Algo, resume: boolean): Promise<string | undefined> {
  if (resume || flag === NO_INIT_POLICY) return undefined;
  if (flag !== undefined) return resolveCheckpointDir(flag);
  const dir = defaultInitPolicy(env, algo);
  if (dir === undefined) return undefined;
  try {
    return await resolveCheckpointDir(dir);
  } catch {
    throw new UsageError(`${env} starts from the shipped standing controller ${dir} by default, and it is missing; pass --init-policy PATH, or --init-policy ${NO_INIT_POLICY} for a fresh policy`);
  }
}
