/** In-place batch normalisations of advantages. */

/** In place: subtract the mean. */
export function centre(x: Float32Array): void {
  if (x.length === 0) return;
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! - mean;
}

/** In place: subtract the mean and divide by the standard deviation (if non-zero). */
export function standardise(x: Float32Array): void {
  centre(x);
  let v2 = 0;
  for (const v of x) v2 += v * v;
  const std = Math.sqrt(v2 / Math.max(1, x.length));
  if (std > 1e-8) for (let i = 0; i < x.length; i++) x[i] = x[i]! / std;
}
