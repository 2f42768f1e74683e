import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.ts';
import { type CpoDirection, cpoDirection, cpoLineSearch, solveCpoDual } from './cpo-step.ts';

type Mat = number[][];

const matVec = (H: Mat, x: ArrayLike<number>): number[] => H.map((row) => row.reduce((s, h, j) => s + h * x[j]!, 0));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Solves H x = y by Gaussian elimination with partial pivoting (float64). */
function solve(H: Mat, y: readonly number[]): number[] {
  const n = y.length;
  const M = H.map((row, i) => [...row, y[i]!]);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(M[i]![k]!) > Math.abs(M[p]![k]!)) p = i;
    [M[k], M[p]] = [M[p]!, M[k]!];
    for (let i = k + 1; i < n; i++) {
      const f = M[i]![k]! / M[k]![k]!;
      for (let j = k; j <= n; j++) M[i]![j]! -= f * M[k]![j]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = M[i]![n]!;
    for (let j = i + 1; j < n; j++) s -= M[i]![j]! * x[j]!;
    x[i] = s / M[i]![i]!;
  }
  return x;
}

interface Problem {
  readonly H: Mat;
  readonly g: number[];
  readonly b: number[];
  readonly c: number;
  readonly delta: number;
}

const direction = (p: Problem): CpoDirection =>
  cpoDirection({ g: Float32Array.from(p.g), b: Float32Array.from(p.b), c: p.c, delta: p.delta, hvp: (x) => Float32Array.from(matVec(p.H, x)), cgIters: 20 });

/**
 * Reference solver, independent of the closed-form dual: relax only the linear constraint.
 * For ν ≥ 0 the best point of the ellipse for (g − νb) is x(ν) = √(2δ/m) H⁻¹(g − νb),
 * m = (g − νb)ᵀH⁻¹(g − νb); c + bᵀx(ν) falls as ν grows, so bisection finds the smallest ν with
 * c + bᵀx(ν) ≤ 0, and that x(ν) solves the problem (Lagrangian sufficiency). Returns null when even
 * ν → ∞ (the minimiser of bᵀx over the ellipse) is infeasible.
 */
function referenceSolution(p: Problem): number[] | null {
  const at = (nu: number): number[] => {
    const d = p.g.map((gi, i) => gi - nu * p.b[i]!);
    const Hd = solve(p.H, d);
    const m = dot(d, Hd);
    return Hd.map((v) => v * Math.sqrt((2 * p.delta) / m));
  };
  const h = (nu: number): number => p.c + dot(p.b, at(nu));
  if (h(0) <= 0) return at(0);
  const Hb = solve(p.H, p.b);
  if (p.c - Math.sqrt(2 * p.delta * dot(p.b, Hb)) > 0) return null;
  let lo = 0;
  let hi = 1;
  while (h(hi) > 0) hi *= 2;
  for (let k = 0; k < 200; k++) {
    const mid = (lo + hi) / 2;
    if (h(mid) > 0) lo = mid;
    else hi = mid;
  }
  return at(hi);
}

/** Random points of the ellipse ½xᵀHx ≤ δ (surface-heavy): the best feasible gᵀx found. */
function randomSearch(p: Problem, rng: Rng, samples: number): { best: number; feasible: number; minCost: number } {
  let best = Number.NEGATIVE_INFINITY;
  let feasible = 0;
  let minCost = Number.POSITIVE_INFINITY;
  const n = p.g.length;
  for (let k = 0; k < samples; k++) {
    const u = Array.from({ length: n }, () => rng.normal());
    const radius = Math.sqrt(2 * p.delta) * (k % 2 === 0 ? 1 : rng.uniform() ** (1 / n));
    const scale = radius / Math.sqrt(dot(u, matVec(p.H, u)));
    const x = u.map((v) => v * scale);
    const cost = p.c + dot(p.b, x);
    minCost = Math.min(minCost, cost);
    if (cost <= 0) {
      feasible++;
      best = Math.max(best, dot(p.g, x));
    }
  }
  return { best, feasible, minCost };
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]} (±${tol})`);
};

const I2: Mat = [
  [1, 0],
  [0, 1],
];

test('hand-worked 2-D problems (H = I, δ = ½: the unit disc) in every case', () => {
  const s = Math.sqrt(0.75);
  const table: readonly { name: string; p: Problem; x: number[]; case: number }[] = [
    // Half-plane x₁ ≤ 4 contains the disc: TRPO's step x = g/‖g‖.
    { name: 'whole trust region feasible', p: { H: I2, g: [3, 4], b: [1, 0], c: -4, delta: 0.5 }, x: [0.6, 0.8], case: 3 },
    // x₁ ≤ ½ cuts the disc; max x₁ + x₂ is at (½, √¾), not at TRPO's (√½, √½).
    { name: 'feasible, constraint binds', p: { H: I2, g: [1, 1], b: [1, 0], c: -0.5, delta: 0.5 }, x: [0.5, s], case: 2 },
    // x₁ ≤ ½ does not bind for g = (−1, 1): TRPO's step (−√½, √½).
    { name: 'feasible, constraint slack', p: { H: I2, g: [-1, 1], b: [1, 0], c: -0.5, delta: 0.5 }, x: [-Math.SQRT1_2, Math.SQRT1_2], case: 2 },
    // x = 0 violates x₁ ≤ −½; the best feasible point is (−½, √¾).
    { name: 'violated, recoverable', p: { H: I2, g: [1, 1], b: [1, 0], c: 0.5, delta: 0.5 }, x: [-0.5, s], case: 1 },
    // x₁ ≤ −2 misses the disc: recovery step −√(2δ/s) H⁻¹b = (−1, 0).
    { name: 'infeasible: recovery step', p: { H: I2, g: [1, 1], b: [1, 0], c: 2, delta: 0.5 }, x: [-1, 0], case: 0 },
    // No cost gradient: TRPO's step.
    { name: 'no cost gradient', p: { H: I2, g: [0, 2], b: [0, 0], c: 1, delta: 0.5 }, x: [0, 1], case: 4 },
  ];
  for (const { name, p, x, case: kase } of table) {
    const d = direction(p);
    assert.equal(d.case, kase, name);
    close(d.x, x, 1e-5, name);
  }
});

test('the dual matches an independent solver and a random search on random 3-D problems', () => {
  const rng = new Rng(11);
  const seen = new Set<string>();
  for (let k = 0; k < 60; k++) {
    const M = Array.from({ length: 3 }, () => Array.from({ length: 3 }, () => rng.normal()));
    const H: Mat = M.map((_, i) => M.map((__, j) => M.reduce((s, row) => s + row[i]! * row[j]!, 0) + (i === j ? 0.3 : 0)));
    const g = Array.from({ length: 3 }, () => rng.normal());
    const b = Array.from({ length: 3 }, () => rng.normal());
    const delta = 0.02 + 0.1 * rng.uniform();
    // c spans the four regimes relative to the reach √(2δ s) of the trust region along b.
    const reach = Math.sqrt(2 * delta * dot(b, solve(H, b)));
    const c = reach * (-2.5 + 5 * rng.uniform());
    const p: Problem = { H, g, b, c, delta };
    const d = direction(p);
    const ref = referenceSolution(p);
    seen.add(`${d.case}${d.nu > 0 ? '+' : ''}`);
    const scale = Math.sqrt(2 * delta * dot(g, solve(H, g)));
    if (ref === null) {
      assert.equal(d.case, 0, `problem ${k} is infeasible`);
      // The recovery step minimises the cost over the trust region: nothing sampled is lower.
      const { feasible, minCost } = randomSearch(p, rng, 20_000);
      assert.equal(feasible, 0);
      assert.ok(c + dot(b, d.x) <= minCost + 1e-5, `problem ${k}: recovery cost ${c + dot(b, d.x)} vs sampled ${minCost}`);
      close(d.x, solve(H, b).map((v) => -v * Math.sqrt((2 * delta) / dot(b, solve(H, b)))), 1e-4 * reach, `problem ${k} recovery`);
      continue;
    }
    assert.notEqual(d.case, 0, `problem ${k} is feasible`);
    close(d.x, ref, 2e-4 * Math.max(1, Math.sqrt(dot(ref, ref))), `problem ${k} (case ${d.case})`);
    // Feasible for both constraints…
    assert.ok(0.5 * dot(d.x, matVec(H, d.x)) <= delta * (1 + 1e-4), `problem ${k}: KL`);
    assert.ok(c + dot(b, d.x) <= 1e-4 * reach, `problem ${k}: cost ${c + dot(b, d.x)}`);
    // …and no feasible random point does better.
    const { best } = randomSearch(p, rng, 20_000);
    assert.ok(best <= dot(g, d.x) + 1e-4 * scale, `problem ${k}: sampled ${best} beats ${dot(g, d.x)}`);
  }
  // The table covered the recovery step, both feasible cases, and a binding and a slack constraint.
  for (const key of ['0', '1+', '2+', '2', '3']) assert.ok(seen.has(key), `case ${key} not exercised: ${[...seen].join(' ')}`);
});

test('when the whole trust region is feasible the step is exactly TRPO\'s √(2δ/q) H⁻¹g', () => {
  const H: Mat = [
    [2, 0.5],
    [0.5, 1],
  ];
  const g = [1, -2];
  const d = direction({ H, g, b: [0.3, 0.1], c: -10, delta: 0.01 });
  assert.equal(d.case, 3);
  assert.equal(d.nu, 0);
  const Hg = solve(H, g);
  close(d.x, Hg.map((v) => v * Math.sqrt(0.02 / dot(g, Hg))), 1e-6, 'TRPO step');
});

test('the closed-form dual on hand-picked scalars, and bad input', () => {
  // q = 2, r = 1, s = 1, c = −0.5, δ = ½: A = 1, B = 0.75, Λ_a = (0, 2): λ_a = √(4/3) ≈ 1.155 with
  // D_a = −√(AB) + rc/s = −1.366; λ_b = √2 projected to [2, ∞) → 2 with D_b = −½(1 + 2) = −1.5.
  // λ* = λ_a, ν* = (λc + r)/s = 1 − 0.577 = 0.423.
  const sol = solveCpoDual({ q: 2, r: 1, s: 1, c: -0.5, delta: 0.5 });
  assert.equal(sol.case, 2);
  assert.ok(Math.abs(sol.lambda - Math.sqrt(4 / 3)) < 1e-12);
  assert.ok(Math.abs(sol.nu - (1 - 0.5 * Math.sqrt(4 / 3))) < 1e-12);
  assert.throws(() => solveCpoDual({ q: Number.NaN, r: 0, s: 1, c: 0, delta: 0.01 }), /q is NaN, expected a finite number/);
  assert.throws(() => solveCpoDual({ q: 1, r: 0, s: 1, c: 0, delta: 0 }), /delta is 0, expected > 0/);
});

test('line search: KL ≤ δ, cost within max(0, c), reward improvement only when feasible', () => {
  const step = (kase: 0 | 1 | 2 | 3 | 4, c: number): CpoDirection => ({ case: kase, lambda: 1, nu: 0, coefG: 1, coefB: 0, x: Float32Array.from([1]), q: 1, r: 0, s: 1, c });
  const cfg = { maxKl: 0.01, ratio: 0.8, tries: 15 };
  const phi0 = Float32Array.from([0]);
  // KL = t², reward = t, cost = 2t: feasible with c = −0.1 → Δcost ≤ 0.1 needs t ≤ 0.05;
  // the KL allows t ≤ 0.1. Tries t = 0.8^j: the first with t ≤ 0.05 is j = 14 (0.044).
  const evaluate = (phi: Float32Array): { kl: number; surrogate: number; costSurrogate: number } => {
    const t = phi[0]!;
    return { kl: t * t, surrogate: t, costSurrogate: 2 * t };
  };
  const r1 = cpoLineSearch(phi0, step(2, -0.1), evaluate, { surrogate: 0, costSurrogate: 0 }, cfg);
  assert.ok(r1.accepted);
  assert.equal(r1.tries, 15);
  assert.ok(Math.abs(r1.costChange - 2 * 0.8 ** 14) < 1e-6);
  // Without the cost check binding (c = −10) the KL decides: first 0.8^j ≤ 0.1 is j = 11 (try 12).
  assert.equal(cpoLineSearch(phi0, step(2, -10), evaluate, { surrogate: 0, costSurrogate: 0 }, cfg).tries, 12);
  // Violated (c > 0): the cost surrogate must not rise at all; this step raises it → rejected, φ_old kept.
  const r2 = cpoLineSearch(phi0, step(1, 0.2), evaluate, { surrogate: 0, costSurrogate: 0 }, cfg);
  assert.equal(r2.accepted, false);
  assert.deepEqual(Array.from(r2.params), [0]);
  // A recovery step that lowers cost but also lowers reward is accepted (no reward check in case 0)…
  const down = (phi: Float32Array): { kl: number; surrogate: number; costSurrogate: number } => ({ kl: phi[0]! ** 2, surrogate: phi[0]!, costSurrogate: phi[0]! });
  const back = { ...step(0, 0.5), x: Float32Array.from([-1]) };
  assert.equal(cpoLineSearch(phi0, back, down, { surrogate: 0, costSurrogate: 0 }, cfg).tries, 12);
  // …while the same move in a feasible case is refused for lowering the reward.
  assert.equal(cpoLineSearch(phi0, { ...back, case: 2, c: -1 }, down, { surrogate: 0, costSurrogate: 0 }, cfg).accepted, false);
  // NaN is never accepted.
  assert.equal(cpoLineSearch(phi0, step(3, -1), () => ({ kl: Number.NaN, surrogate: 1, costSurrogate: 0 }), { surrogate: 0, costSurrogate: 0 }, cfg).accepted, false);
});
