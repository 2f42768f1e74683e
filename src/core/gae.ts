/**
 * Generalised advantage estimation (Schulman et al. 2016) over a time-major rollout of `numEnvs`
 * envs × `steps`, the estimator of Â_R in the paper's eq. 8.
 *
 *   δ_t = r_t + γ (1 − terminated_t) V(s′_t) − V(s_t)
 *   Â_t = δ_t + γ λ (1 − done_t) Â_{t+1}
 *
 * `nextValues` holds V(s′_t) of the true next state, so a time-limit truncation bootstraps while a
 * terminal state (failure or success) does not; `done` cuts the recursion at any episode end. The
 * last step of the rollout bootstraps from V(s′) and starts the recursion (Â_{T} = 0).
 */
export interface GaeInput {
  readonly steps: number;
  readonly numEnvs: number;
  /** All arrays are `steps × numEnvs`, index `t * numEnvs + e`. */
  readonly rewards: Float32Array;
  readonly values: Float32Array;
  readonly nextValues: Float32Array;
  readonly terminated: Uint8Array;
  /** Episode ended here for any reason (terminated, truncated, dropped). */
  readonly done: Uint8Array;
  readonly gamma: number;
  readonly lambda: number;
}

/** Advantages Â and value targets Â + V, both `steps × numEnvs`. */
export function gae(input: GaeInput): { advantages: Float32Array; returns: Float32Array } {
  const { steps, numEnvs, rewards, values, nextValues, terminated, done, gamma, lambda } = input;
  const n = steps * numEnvs;
  for (const [name, a] of [['rewards', rewards], ['values', values], ['nextValues', nextValues], ['terminated', terminated], ['done', done]] as const) {
    if (a.length !== n) throw new RangeError(`gae: ${name} has ${a.length} entries, expected ${n} (${steps} steps × ${numEnvs} envs)`);
  }
  const advantages = new Float32Array(n);
  const returns = new Float32Array(n);
  for (let e = 0; e < numEnvs; e++) {
    let next = 0;
    for (let t = steps - 1; t >= 0; t--) {
      const i = t * numEnvs + e;
      const delta = rewards[i]! + gamma * (terminated[i] ? 0 : nextValues[i]!) - values[i]!;
      next = delta + gamma * lambda * (done[i] ? 0 : next);
      advantages[i] = next;
      returns[i] = next + values[i]!;
    }
  }
  return { advantages, returns };
}
