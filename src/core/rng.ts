/**
 * Seeded pseudo-random numbers (xoshiro128**, seeded by splitmix32). Everything stochastic in a
 * run — env resets, action noise, minibatch order, network initialisation — draws from one of
 * these, so the same seed gives the same run.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: seed must be a finite number, got ${seed}`);
    let x = seed >>> 0 ^ Math.floor(seed / 2 ** 32);
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with standard normals. */
  fillNormal(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
    return out;
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }

  /**
   * Serialisable state, for checkpoints: the four words, and a fifth entry, the Box–Muller value
   * `normal()` holds for its next call, when it holds one (without it a restored generator would
   * draw a fresh pair where the original returns the cached half).
   */
  state(): number[] {
    return this.spareNormal === null ? [this.s0, this.s1, this.s2, this.s3] : [this.s0, this.s1, this.s2, this.s3, this.spareNormal];
  }

  /** Restores a state from {@link state}; a 4-word state (older checkpoints) holds no cached normal. */
  setState(s: readonly number[]): void {
    const words = s.slice(0, 4);
    if ((s.length !== 4 && s.length !== 5) || words.some((v) => !Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) || (s.length === 5 && !Number.isFinite(s[4]))) {
      throw new RangeError(`Rng.setState: expected 4 32-bit integers and optionally a cached normal, got ${JSON.stringify(s)}`);
    }
    if (words.every((v) => (v | 0) === 0)) throw new RangeError('Rng.setState: the all-zero state is not a state of xoshiro128** (it would draw 0 for ever)');
    [this.s0, this.s1, this.s2, this.s3] = s as [number, number, number, number];
    this.spareNormal = s.length === 5 ? s[4]! : null;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
